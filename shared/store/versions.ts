/**
 * Skip-unchanged support: the producer asks which version of each item the store already holds
 * and queues only the new or changed ones, so a re-run over an unchanged bucket encodes nothing.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import { withStoreRetry, type RetryPolicy } from './retry.ts';

export interface StoredVersionsOptions {
  storeUrl?: string;
  retry?: RetryPolicy;
  /** Ids per retrieve request. */
  chunkSize?: number;
}

/** id → stored `content_hash`, for the ids that exist (and carry one). */
export async function storedVersions(
  client: QdrantClient,
  collection: string,
  ids: readonly string[],
  opts: StoredVersionsOptions = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const chunk = Math.max(1, opts.chunkSize ?? 1000);
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    const records = await withStoreRetry(
      () => client.retrieve(collection, { ids: part, with_payload: { include: ['content_hash'] }, with_vector: false }),
      { storeUrl: opts.storeUrl ?? 'the configured URL', operation: `read versions of ${part.length} point(s) in ${collection}`, policy: opts.retry },
    );
    for (const r of records) {
      const hash = r.payload?.content_hash;
      if (typeof hash === 'string') out.set(String(r.id), hash);
    }
  }
  return out;
}
