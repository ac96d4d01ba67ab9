/**
 * What the store holds of each item, for skip-unchanged and sync: the version a point was built
 * from (`content_hash`), by which model, and from which source. A re-run over an unchanged bucket
 * encodes nothing, a model change re-encodes everything, and a sync compares a source's listing
 * with exactly the points that source made.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import { withStoreRetry } from './retry.ts';
import type { BackoffPolicy } from '../retry.ts';

export interface StoredVersion {
  /** The `content_hash` payload key: an S3 ETag or a SHA-256. */
  contentHash: string;
  /** The encoder that produced the stored vectors (`model` payload key); a different one means re-encode. */
  model?: string;
  /** The `source_root` payload key; absent on points written before sources were tracked. */
  sourceRoot?: string;
}

export interface StoredVersionsOptions {
  storeUrl?: string | undefined;
  retry?: BackoffPolicy | undefined;
  /** Ids per retrieve request. */
  chunkSize?: number | undefined;
}

const VERSION_KEYS = ['content_hash', 'model', 'source_root'];

function versionOf(payload: Record<string, unknown> | null | undefined): StoredVersion | undefined {
  const hash = payload?.content_hash;
  if (typeof hash !== 'string') return undefined;
  const out: StoredVersion = { contentHash: hash };
  if (typeof payload?.model === 'string') out.model = payload.model;
  if (typeof payload?.source_root === 'string') out.sourceRoot = payload.source_root;
  return out;
}

/** id → stored version, for the ids that exist (and carry a content hash). */
export async function storedVersions(
  client: QdrantClient,
  collection: string,
  ids: readonly string[],
  opts: StoredVersionsOptions = {},
): Promise<Map<string, StoredVersion>> {
  const out = new Map<string, StoredVersion>();
  const chunk = Math.max(1, opts.chunkSize ?? 1000);
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    const records = await withStoreRetry(
      () => client.retrieve(collection, { ids: part, with_payload: { include: VERSION_KEYS }, with_vector: false }),
      { storeUrl: opts.storeUrl ?? 'the configured URL', operation: `read versions of ${part.length} point(s) in ${collection}`, policy: opts.retry },
    );
    for (const r of records) {
      const v = versionOf(r.payload);
      if (v) out.set(String(r.id), v);
    }
  }
  return out;
}

/**
 * Every point a source made (`source_root` = `root`), id → version, read page by page with
 * scroll (the filter uses the `source_root` keyword index). What a sync compares the listing with.
 */
export async function sourceHoldings(
  client: QdrantClient,
  collection: string,
  root: string,
  opts: StoredVersionsOptions = {},
): Promise<Map<string, StoredVersion>> {
  const out = new Map<string, StoredVersion>();
  const limit = Math.max(1, opts.chunkSize ?? 5000);
  let offset: string | number | undefined;
  for (;;) {
    const page = await withStoreRetry(
      () =>
        client.scroll(collection, {
          filter: { must: [{ key: 'source_root', match: { value: root } }] },
          with_payload: { include: VERSION_KEYS },
          with_vector: false,
          limit,
          ...(offset !== undefined ? { offset } : {}),
        }),
      { storeUrl: opts.storeUrl ?? 'the configured URL', operation: `list the points of ${root} in ${collection}`, policy: opts.retry },
    );
    for (const p of page.points) {
      const v = versionOf(p.payload);
      if (v) out.set(String(p.id), v);
    }
    const next = page.next_page_offset;
    if (next === undefined || next === null || typeof next === 'object') return out;
    offset = next;
  }
}
