/**
 * Which sources make up a collection, kept in the collection's own metadata (one key per source,
 * `source:<root>`, so concurrent registrations merge instead of overwriting each other). The
 * index describes itself: a rebuild re-ingests exactly these sources with the same selection,
 * and copies the registry into the new version; a rollback brings the old registry back with it.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { SourceSelection } from '../sources/selection.ts';
import { withStoreRetry } from './retry.ts';
import type { BackoffPolicy } from '../retry.ts';

const KEY_PREFIX = 'source:';

export interface RegisteredSource {
  /** `sourceRootOf(spec)`: the `source_root` of its points. */
  root: string;
  /** What was named on the command line (a path is stored resolved). */
  spec: string;
  /** The selection flags it was read with (include/exclude globs, product id rule, dataset). */
  selection?: SourceSelection;
  registeredAt: string;
}

interface CallOptions {
  storeUrl?: string;
  retry?: BackoffPolicy;
}

/** Records `sources` in `collection`'s metadata (merged with what is there). */
export async function registerSources(client: QdrantClient, collection: string, sources: readonly RegisteredSource[], opts: CallOptions = {}): Promise<void> {
  if (sources.length === 0) return;
  const metadata = Object.fromEntries(sources.map((s) => [`${KEY_PREFIX}${s.root}`, { ...s }]));
  await withStoreRetry(
    // The 1.18 client's typed updateCollection drops `metadata`; the raw API call keeps it.
    () => client.api().updateCollection({ collection_name: collection, metadata } as never),
    { storeUrl: opts.storeUrl ?? 'the configured URL', operation: `register sources of ${collection}`, policy: opts.retry },
  );
}

/** The sources registered in a collection's metadata, by root. */
export async function registeredSources(client: QdrantClient, collection: string, opts: CallOptions = {}): Promise<RegisteredSource[]> {
  const info = await withStoreRetry(() => client.getCollection(collection), {
    storeUrl: opts.storeUrl ?? 'the configured URL',
    operation: `read collection ${collection}`,
    policy: opts.retry,
  });
  return sourcesIn(info.config.metadata as Record<string, unknown> | null | undefined);
}

export function sourcesIn(metadata: Record<string, unknown> | null | undefined): RegisteredSource[] {
  const out: RegisteredSource[] = [];
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (!key.startsWith(KEY_PREFIX) || !value || typeof value !== 'object') continue;
    const v = value as Partial<RegisteredSource>;
    if (typeof v.spec === 'string') out.push({ root: key.slice(KEY_PREFIX.length), spec: v.spec, registeredAt: String(v.registeredAt ?? ''), ...(v.selection ? { selection: v.selection } : {}) });
  }
  return out.sort((a, b) => a.root.localeCompare(b.root));
}
