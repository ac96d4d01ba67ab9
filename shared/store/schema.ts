/**
 * The clipstream collection. Applications address it by an alias (`catalogue`); the physical
 * collection is versioned (`catalogue_v1`, `catalogue_v2`, …) so a re-index (new model, new
 * dims) can fill a fresh collection while the old one keeps serving, then switch the alias in
 * one atomic call.
 *
 * Model id, dims and schema version are recorded in the collection's own metadata
 * (`CreateCollection.metadata`, in the 1.18 API; the typed `createCollection` helper of the
 * 1.18 client drops that field, so creation goes through `client.api()`). A server that does
 * not keep metadata still gets its vectors checked; only the model check is then skipped.
 */
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import type { Config, PayloadIndexType } from '../config/index.ts';
import { vectorName } from '../encoder/types.ts';
import { ClipstreamError } from '../errors.ts';
import { ANALYSER_VERSION, LEXICAL_VECTOR } from '../lexical/index.ts';
import { httpStatus, storeMessage, withStoreRetry } from './retry.ts';
import type { BackoffPolicy } from '../retry.ts';

/** What to do when the stored collection was built with other settings (said by sync, status, serve). */
export const REBUILD_HINT = 'run `clipstream rebuild` to build the next collection version with the configured settings and switch the alias to it';

/**
 * Bumped when the point layout (payload keys, vector names) changes incompatibly.
 * 2: every point carries the `lex` sparse vector (BM25, hybrid search).
 */
export const SCHEMA_VERSION = 2;

export interface PayloadIndexSpec {
  field: string;
  type: PayloadIndexType;
}

/** Indexed before any data arrives, so filters on them never fall back to a full scan. */
export const CORE_PAYLOAD_INDEXES: readonly PayloadIndexSpec[] = [
  { field: 'modality', type: 'keyword' },
  { field: 'product_id', type: 'keyword' },
  { field: 'lang', type: 'keyword' },
  { field: 'source', type: 'keyword' },
  { field: 'source_root', type: 'keyword' },
  { field: 'content_hash', type: 'keyword' },
  { field: 'lex_terms', type: 'integer' },
];

export interface CollectionSpec {
  /** The name applications use; an alias to the versioned collection. */
  alias: string;
  /** Matryoshka dims, e.g. [64, 256, 1024]; the largest is the final ranking stage. */
  dims: readonly number[];
  /** Encoder identity, e.g. `jinaai/jina-clip-v2@fp16`: vectors of different models never mix. */
  model: string;
  /** Indexes besides CORE_PAYLOAD_INDEXES. */
  payloadIndexes?: readonly PayloadIndexSpec[];
  /** How `lex` vectors are made: recorded at creation, compared when both sides have it. */
  lexical?: LexicalSignature | undefined;
}

/** The settings a collection's `lex` vectors were made with: another value means they are stale. */
export interface LexicalSignature {
  analyser_version: number;
  k1: number;
  b: number;
  avg_length: number;
  fold_accents: boolean;
  default_lang: string;
  fields: string[];
}

export function lexicalSignature(config: Config): LexicalSignature {
  const l = config.lexical;
  return { analyser_version: ANALYSER_VERSION, k1: l.bm25.k1, b: l.bm25.b, avg_length: l.bm25.avgLength, fold_accents: l.foldAccents, default_lang: l.defaultLang, fields: [...l.fields] };
}

export interface CollectionMetadata {
  app: 'clipstream';
  schema_version: number;
  model: string;
  dims: number[];
  created_at: string;
  lexical?: LexicalSignature;
}

export interface EnsuredCollection {
  alias: string;
  /** The physical collection behind the alias. */
  collection: string;
  created: boolean;
}

export interface StoreCallOptions {
  /** For error messages only. */
  storeUrl?: string | undefined;
  retry?: BackoffPolicy | undefined;
}

export function collectionVersionName(alias: string, version: number): string {
  return `${alias}_v${version}`;
}

/**
 * Named vectors: only the smallest is HNSW-indexed (int8-quantised, kept in RAM) because it is
 * the only one searched; the larger ones merely re-score prefetched candidates, so a graph
 * (`m: 0` disables it) would cost memory and build time for nothing. The final stage's floats
 * live on disk: they are read for a few hundred candidates per query.
 */
export function vectorsConfig(dims: readonly number[]): Record<string, Schemas['VectorParams']> {
  const sorted = [...dims].sort((a, b) => a - b);
  const out: Record<string, Schemas['VectorParams']> = {};
  sorted.forEach((dim, i) => {
    const first = i === 0;
    const last = i === sorted.length - 1;
    out[vectorName(dim)] = {
      size: dim,
      distance: 'Cosine',
      ...(first
        ? { quantization_config: { scalar: { type: 'int8', always_ram: true } } }
        : { hnsw_config: { m: 0 } }),
      ...(last && !first ? { on_disk: true } : {}),
    };
  });
  return out;
}

/** The lexical vector: BM25 term-frequency weights from clipstream, IDF applied by the store. */
export function sparseVectorsConfig(): Record<string, Schemas['SparseVectorParams']> {
  return { [LEXICAL_VECTOR]: { modifier: 'idf' } };
}

export function payloadIndexes(spec: CollectionSpec): PayloadIndexSpec[] {
  const byField = new Map<string, PayloadIndexSpec>();
  for (const index of [...CORE_PAYLOAD_INDEXES, ...(spec.payloadIndexes ?? [])]) byField.set(index.field, index);
  return [...byField.values()];
}

/** What differs between the configured collection and a stored one; empty when compatible. */
export function schemaDifferences(spec: CollectionSpec, info: Schemas['CollectionInfo']): string[] {
  const problems: string[] = [];
  const stored = info.config.params.vectors;
  const wanted = vectorsConfig(spec.dims);
  const named: Record<string, Schemas['VectorParams'] | undefined> =
    stored && typeof (stored as Schemas['VectorParams']).size === 'number'
      ? { '(unnamed)': stored as Schemas['VectorParams'] }
      : ((stored ?? {}) as Record<string, Schemas['VectorParams'] | undefined>);
  for (const [name, want] of Object.entries(wanted)) {
    const have = named[name];
    if (!have) problems.push(`vector ${name} is missing`);
    else {
      if (have.size !== want.size) problems.push(`vector ${name} has size ${have.size}, configured ${want.size}`);
      if (have.distance !== want.distance) problems.push(`vector ${name} uses ${have.distance} distance, configured ${want.distance}`);
    }
  }
  for (const name of Object.keys(named)) {
    if (!(name in wanted) && named[name]) problems.push(`unexpected vector ${name} (not in MRL_DIMS)`);
  }
  const sparse = info.config.params.sparse_vectors?.[LEXICAL_VECTOR];
  if (!sparse) problems.push(`sparse vector ${LEXICAL_VECTOR} is missing (built before hybrid search)`);
  else if (sparse.modifier !== 'idf') problems.push(`sparse vector ${LEXICAL_VECTOR} has modifier ${sparse.modifier ?? 'none'}, configured idf`);
  const meta = info.config.metadata as Partial<CollectionMetadata> | null | undefined;
  if (meta && typeof meta === 'object') {
    if (meta.model !== undefined && meta.model !== spec.model) {
      problems.push(`it holds vectors of model "${meta.model}", configured "${spec.model}"`);
    }
    if (meta.schema_version !== undefined && meta.schema_version !== SCHEMA_VERSION) {
      problems.push(`its schema version is ${meta.schema_version}, this build writes ${SCHEMA_VERSION}`);
    }
    if (spec.lexical && meta.lexical) {
      for (const key of Object.keys(spec.lexical) as Array<keyof LexicalSignature>) {
        const [have, want] = [JSON.stringify(meta.lexical[key]), JSON.stringify(spec.lexical[key])];
        if (have !== want) problems.push(`its lexical vectors were made with ${key} ${have}, configured ${want}`);
      }
    }
  }
  for (const index of payloadIndexes(spec)) {
    const have = info.payload_schema?.[index.field];
    if (have && have.data_type !== index.type) {
      problems.push(`payload field ${index.field} is indexed as ${have.data_type}, configured ${index.type}`);
    }
  }
  return problems;
}

/** The clipstream metadata of a collection (model, dims, schema version), or undefined when it has none. */
export async function collectionMetadata(client: QdrantClient, collection: string, opts: StoreCallOptions = {}): Promise<CollectionMetadata | undefined> {
  const info = await call(opts, `read collection ${collection}`, () => client.getCollection(collection));
  const meta = info.config.metadata as Partial<CollectionMetadata> | null | undefined;
  return meta && typeof meta.model === 'string' ? (meta as CollectionMetadata) : undefined;
}

/** The collection an alias points to, or undefined when there is no such alias. */
export async function resolveAlias(client: QdrantClient, alias: string, opts: StoreCallOptions = {}): Promise<string | undefined> {
  const { aliases } = await call(opts, `list aliases`, () => client.getAliases());
  return aliases.find((a) => a.alias_name === alias)?.collection_name;
}

/**
 * Makes sure the collection behind `spec.alias` exists with the configured vectors, model and
 * payload indexes. Idempotent; safe to run from several processes at once. A stored collection
 * that does not match fails with STORE_SCHEMA_MISMATCH rather than mixing incompatible vectors.
 */
export async function ensureCollection(client: QdrantClient, spec: CollectionSpec, opts: StoreCallOptions = {}): Promise<EnsuredCollection> {
  const target = await resolveAlias(client, spec.alias, opts);
  if (target) {
    await verify(client, spec, target, opts);
    return { alias: spec.alias, collection: target, created: false };
  }
  // A plain collection under the application name (made by hand, or by another tool) is used as is.
  if (await exists(client, spec.alias, opts)) {
    await verify(client, spec, spec.alias, opts);
    return { alias: spec.alias, collection: spec.alias, created: false };
  }
  const collection = collectionVersionName(spec.alias, 1);
  const created = await createCollectionVersion(client, spec, collection, opts);
  if (!created) await verify(client, spec, collection, opts);
  try {
    await call(opts, `create alias ${spec.alias}`, () =>
      client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: spec.alias, collection_name: collection } }] }),
    );
  } catch (err) {
    // Another process won the race: fine as long as the alias now leads to a matching collection.
    const now = await resolveAlias(client, spec.alias, opts);
    if (!now) throw err;
    if (now !== collection) await verify(client, spec, now, opts);
    return { alias: spec.alias, collection: now, created: false };
  }
  return { alias: spec.alias, collection, created };
}

/**
 * Creates a physical collection (vectors, metadata, payload indexes) without touching any alias:
 * the first step of a re-index. Returns false if it already existed.
 */
export async function createCollectionVersion(
  client: QdrantClient,
  spec: CollectionSpec,
  collection: string,
  opts: StoreCallOptions & { metadata?: Record<string, unknown> } = {},
): Promise<boolean> {
  const metadata: CollectionMetadata = {
    app: 'clipstream',
    schema_version: SCHEMA_VERSION,
    model: spec.model,
    dims: [...spec.dims].sort((a, b) => a - b),
    created_at: new Date().toISOString(),
    ...(spec.lexical ? { lexical: spec.lexical } : {}),
  };
  let created = true;
  try {
    await call(opts, `create collection ${collection}`, () =>
      client.api().createCollection({
        collection_name: collection,
        vectors: vectorsConfig(spec.dims),
        sparse_vectors: sparseVectorsConfig(),
        metadata: { ...opts.metadata, ...metadata },
      }),
    );
  } catch (err) {
    // 409 (or 400 "already exists" on older servers): a concurrent creator got there first.
    const status = httpStatus(err);
    if (!(status === 409 || (status === 400 && /already exists/i.test(storeMessage(err))))) {
      throw new ClipstreamError('STORE_REQUEST_FAILED', `cannot create collection: ${storeMessage(err)}`, { item: collection, cause: err });
    }
    created = false;
  }
  await ensurePayloadIndexes(client, spec, collection, opts);
  return created;
}

/** Points the alias at `collection` in one atomic update (delete + create), e.g. after a re-index. */
export async function switchAlias(client: QdrantClient, alias: string, collection: string, opts: StoreCallOptions = {}): Promise<void> {
  const current = await resolveAlias(client, alias, opts);
  await call(opts, `switch alias ${alias}`, () =>
    client.updateCollectionAliases({
      actions: [
        ...(current ? [{ delete_alias: { alias_name: alias } }] : []),
        { create_alias: { alias_name: alias, collection_name: collection } },
      ],
    }),
  );
}

async function ensurePayloadIndexes(client: QdrantClient, spec: CollectionSpec, collection: string, opts: StoreCallOptions): Promise<void> {
  const info = await call(opts, `read collection ${collection}`, () => client.getCollection(collection));
  for (const index of payloadIndexes(spec)) {
    if (info.payload_schema?.[index.field]) continue;
    await call(opts, `create payload index ${index.field}`, () =>
      client.createPayloadIndex(collection, { field_name: index.field, field_schema: index.type, wait: true }),
    );
  }
}

/**
 * Checks that a physical collection exists and matches the configuration (vectors, model,
 * schema version, payload index types), adding missing payload indexes. STORE_SCHEMA_MISMATCH
 * names every difference; COLLECTION_NOT_FOUND when it is gone.
 */
export async function verifyCollection(client: QdrantClient, spec: CollectionSpec, collection: string, opts: StoreCallOptions = {}): Promise<void> {
  if (!(await exists(client, collection, opts))) {
    throw new ClipstreamError('COLLECTION_NOT_FOUND', `no collection ${collection} in the store`, { item: collection });
  }
  await verify(client, spec, collection, opts);
}

async function verify(client: QdrantClient, spec: CollectionSpec, collection: string, opts: StoreCallOptions): Promise<void> {
  const info = await call(opts, `read collection ${collection}`, () => client.getCollection(collection));
  const problems = schemaDifferences(spec, info);
  if (problems.length > 0) {
    const behind = collection === spec.alias ? `collection "${collection}"` : `collection "${collection}" (alias "${spec.alias}")`;
    const next = nextVersionName(spec.alias, collection);
    throw new ClipstreamError(
      'STORE_SCHEMA_MISMATCH',
      `${behind} does not match the configuration: ${problems.join('; ')}. ` +
        `Stored vectors cannot be mixed with new ones: either restore the settings it was built with (MRL_DIMS, model), ` +
        `or run \`clipstream rebuild\` to re-index into the next collection version ("${next}") and switch the alias "${spec.alias}" to it.`,
      { item: collection },
    );
  }
  await ensurePayloadIndexes(client, spec, collection, opts);
}

function nextVersionName(alias: string, collection: string): string {
  const m = new RegExp(`^${alias.replace(/[-]/g, '\\-')}_v(\\d+)$`).exec(collection);
  return collectionVersionName(alias, m ? Number(m[1]) + 1 : 2);
}

async function exists(client: QdrantClient, collection: string, opts: StoreCallOptions): Promise<boolean> {
  // Listing rather than GET /collections/{name}/exists: the oldest endpoint, served everywhere.
  const { collections } = await call(opts, `list collections`, () => client.getCollections());
  return collections.some((c) => c.name === collection);
}

function call<T>(opts: StoreCallOptions, operation: string, fn: () => Promise<T>): Promise<T> {
  return withStoreRetry(fn, { storeUrl: opts.storeUrl ?? 'the configured URL', operation, policy: opts.retry });
}
