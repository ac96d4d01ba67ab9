/**
 * The physical versions behind an alias (`catalogue_v1`, `catalogue_v2`, …) and their lifecycle
 * marks in the collection metadata: a version being filled by a rebuild is `rebuild_state:
 * building` until it has passed its checks; only then can the alias be switched to it, so a
 * crash never leaves the alias on a half-built collection, and the next rebuild finds it.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import { withStoreRetry } from './retry.ts';
import type { BackoffPolicy } from '../retry.ts';
import { collectionVersionName } from './schema.ts';

export interface CollectionVersion {
  name: string;
  version: number;
  /** True while a rebuild fills it (never served). */
  building: boolean;
  model?: string;
  createdAt?: string;
  /** When a rebuild completed it. */
  builtAt?: string;
  points: number;
}

interface CallOptions {
  storeUrl?: string;
  retry?: BackoffPolicy;
}

function call<T>(opts: CallOptions, operation: string, fn: () => Promise<T>): Promise<T> {
  return withStoreRetry(fn, { storeUrl: opts.storeUrl ?? 'the configured URL', operation, policy: opts.retry });
}

export function versionOf(alias: string, name: string): number | undefined {
  const m = /_v(\d+)$/.exec(name);
  return m && name === collectionVersionName(alias, Number(m[1])) ? Number(m[1]) : undefined;
}

/** Every `<alias>_v<N>` collection, oldest first. */
export async function listVersions(client: QdrantClient, alias: string, opts: CallOptions = {}): Promise<CollectionVersion[]> {
  const { collections } = await call(opts, 'list collections', () => client.getCollections());
  const out: CollectionVersion[] = [];
  for (const { name } of collections) {
    const version = versionOf(alias, name);
    if (version === undefined) continue;
    const info = await call(opts, `read collection ${name}`, () => client.getCollection(name));
    const meta = (info.config.metadata ?? {}) as Record<string, unknown>;
    out.push({
      name,
      version,
      building: meta.rebuild_state === 'building',
      points: info.points_count ?? 0,
      ...(typeof meta.model === 'string' ? { model: meta.model } : {}),
      ...(typeof meta.created_at === 'string' ? { createdAt: meta.created_at } : {}),
      ...(typeof meta.built_at === 'string' ? { builtAt: meta.built_at } : {}),
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** Marks a rebuilt version complete (it may now be served). */
export async function markBuilt(client: QdrantClient, collection: string, opts: CallOptions = {}): Promise<void> {
  await call(opts, `mark ${collection} built`, () =>
    // The 1.18 client's typed updateCollection drops `metadata`; the raw API call keeps it.
    client.api().updateCollection({ collection_name: collection, metadata: { rebuild_state: 'built', built_at: new Date().toISOString() } } as never),
  );
}

export async function dropCollection(client: QdrantClient, collection: string, opts: CallOptions = {}): Promise<void> {
  await call(opts, `delete collection ${collection}`, () => client.deleteCollection(collection));
}
