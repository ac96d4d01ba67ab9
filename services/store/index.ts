/**
 * The embedded Qdrant-compatible store: an engine (./engine) and a thin REST layer (./http).
 * clipstream reaches it with the ordinary Qdrant client over loopback HTTP, exactly as it
 * would reach a real Qdrant server.
 */
import type { AddressInfo } from 'node:net';
import { Store } from './engine/store.ts';
import { createStoreServer } from './http/server.ts';

export { Store } from './engine/store.ts';

export interface EmbeddedStoreOptions {
  dataDir: string;
  /** Interface to listen on; loopback unless told otherwise. */
  host?: string | undefined;
  /** 0 picks a free port. */
  port?: number | undefined;
  /** When set, requests must carry it in `api-key` (or `Authorization: Bearer`), as with Qdrant. */
  apiKey?: string | undefined;
  /** Threads parsing large write bodies (see http/parse-pool.ts); 0 parses on the main thread. */
  parseThreads?: number | undefined;
}

export interface EmbeddedStore {
  url: string;
  port: number;
  /** The engine itself, for in-process inspection (memory accounting, tests). */
  store: Store;
  /** Stops accepting requests, waits for durable writes to finish and closes the data files. */
  close(): Promise<void>;
}

export async function startEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const store = Store.open(opts.dataDir);
  const server = createStoreServer(store, { apiKey: opts.apiKey, parseThreads: opts.parseThreads });
  const host = opts.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    store,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await store.close();
      })();
      return closing;
    },
  };
}
