/**
 * A store for one test: a fresh embedded store on a temporary directory and a free port, or —
 * when QDRANT_URL is set — the real Qdrant server there, with a unique collection-name prefix
 * so tests never touch each other's (or anyone's) collections. Use `name()` for every
 * collection and alias a test creates.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startEmbeddedStore } from '../../services/store/index.ts';

export interface TestStore {
  url: string;
  client: QdrantClient;
  /** The collection/alias name to use for `base` (prefixed against a shared real server). */
  name(base: string): string;
  /** Data directory of the embedded store (undefined against a real server). */
  dataDir?: string;
  /** True against a real Qdrant (QDRANT_URL). */
  external: boolean;
  close(): Promise<void>;
}

export async function startTestStore(opts: { apiKey?: string } = {}): Promise<TestStore> {
  const external = process.env.QDRANT_URL;
  if (external) {
    const prefix = `t${randomBytes(4).toString('hex')}_`;
    const client = new QdrantClient({ url: external, ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}), checkCompatibility: false });
    return {
      url: external,
      client,
      name: (base) => prefix + base,
      external: true,
      async close() {
        const { aliases } = await client.getAliases();
        const ours = aliases.filter((a) => a.alias_name.startsWith(prefix));
        if (ours.length > 0) await client.updateCollectionAliases({ actions: ours.map((a) => ({ delete_alias: { alias_name: a.alias_name } })) });
        const { collections } = await client.getCollections();
        for (const c of collections) if (c.name.startsWith(prefix)) await client.deleteCollection(c.name);
      },
    };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-store-'));
  const store = await startEmbeddedStore({ dataDir, port: 0, apiKey: opts.apiKey });
  const client = new QdrantClient({ url: store.url, ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), checkCompatibility: false });
  return {
    url: store.url,
    client,
    name: (base) => base,
    dataDir,
    external: false,
    async close() {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
