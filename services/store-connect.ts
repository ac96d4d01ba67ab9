/**
 * One way to reach the store, whichever it is: a real Qdrant when QDRANT_URL is set, else the
 * embedded Qdrant-compatible store started in this process on loopback. Either way callers get
 * the official client, so every code path is the one that runs against real Qdrant.
 */
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import type { Config } from '../shared/config/index.ts';
import { withStoreRetry } from '../shared/store/retry.ts';
import type { BackoffPolicy } from '../shared/retry.ts';

export interface StoreConnection {
  client: QdrantClient;
  url: string;
  /** True when the store runs inside this process (and stops with `close()`). */
  embedded: boolean;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** How long to wait for a remote store that is not up yet. */
  retry?: BackoffPolicy | undefined;
}

export async function connectStore(config: Config, opts: ConnectOptions = {}): Promise<StoreConnection> {
  if (config.store.qdrantUrl) {
    const url = config.store.qdrantUrl;
    const client = new QdrantClient({
      url,
      ...(config.store.qdrantApiKey ? { apiKey: config.store.qdrantApiKey } : {}),
      timeout: config.store.timeoutMs,
      // The check only prints a console warning; a reachability probe below fails properly instead.
      checkCompatibility: false,
    });
    // Qdrant may still be starting (compose brings services up together): wait it out, then fail clearly.
    await withStoreRetry(() => client.getCollections(), { storeUrl: url, operation: 'connect', policy: opts.retry });
    return { client, url, embedded: false, close: async () => {} };
  }
  // Loaded only in embedded mode: a deployment against real Qdrant never pulls in the engine.
  const { startEmbeddedStore } = await import('./store/index.ts');
  const store = await startEmbeddedStore({ dataDir: path.join(config.store.dataDir, 'store'), host: '127.0.0.1', port: 0, parseThreads: config.store.parseThreads });
  const client = new QdrantClient({ url: store.url, timeout: config.store.timeoutMs, checkCompatibility: false });
  return { client, url: store.url, embedded: true, close: () => store.close() };
}
