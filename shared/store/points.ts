/**
 * The point model: one point per catalogue item, its id derived from the source URI, its
 * vectors one per Matryoshka dim, its payload what search results display and filter on.
 * Vectors are checked here, before they reach the store, so a bad one is reported against
 * its item instead of failing a whole batch with an anonymous "dimension error".
 */
import path from 'node:path';
import type { CatalogueItem, Modality } from '../catalogue/types.ts';
import { vectorName, type MatryoshkaVectors } from '../encoder/types.ts';
import { ClipstreamError } from '../errors.ts';
import { LEXICAL_VECTOR, type SparseVector } from '../lexical/index.ts';
import { pointId } from './ids.ts';
import { SCHEMA_VERSION } from './schema.ts';

export interface PointPayload {
  modality: Modality;
  /** Canonical source URI; the id is derived from it. */
  source: string;
  /** The source it was listed from (`sourceRootOf`): what a sync compares and deletes within. */
  source_root?: string | undefined;
  product_id?: string | undefined;
  lang?: string | undefined;
  /** Short display name: the file name of an image, the record's title/name field for a text. */
  title?: string | undefined;
  text?: string | undefined;
  /** Version the point was built from (ETag or SHA-256): unchanged items are skipped on re-ingest. */
  content_hash: string;
  etag?: string | undefined;
  bytes?: number | undefined;
  content_type?: string | undefined;
  model: string;
  schema_version: number;
  /** RFC 3339. */
  indexed_at: string;
  /** The record's own fields, namespaced so they never collide with ours. */
  fields?: Record<string, unknown> | undefined;
  /**
   * The term ids of the `lex` vector, indexed: the lexical branch of a query filters on how many
   * of its terms a point holds (min_should), which a sparse search alone cannot express.
   */
  lex_terms?: number[] | undefined;
}

export type NamedVectors = Record<string, number[]>;
export interface PointVectors {
  [dense: `mrl_${number}`]: number[];
  lex?: SparseVector;
}

/** What the upserter sends: ids are UUID strings, dense vectors keyed by `mrl_<dim>`, the sparse one `lex`. */
export interface CataloguePoint {
  id: string;
  vector: PointVectors;
  payload: PointPayload;
}

export interface BuildPointOptions {
  model: string;
  dims: readonly number[];
  indexedAt?: Date;
  /** The item's lexical vector (BM25 weights); empty when none was computed (nothing to match). */
  lex?: SparseVector;
}

/** `{mrl_64: [...], mrl_256: [...], ...}`, refusing missing, wrong-size, non-finite or zero vectors. */
export function namedVectors(vectors: MatryoshkaVectors, dims: readonly number[], item: string): NamedVectors {
  const out: NamedVectors = {};
  for (const dim of dims) {
    const v = vectors[dim];
    if (!v) throw new ClipstreamError('VECTOR_INVALID', `no ${dim}-d vector (expected dims ${dims.join(', ')})`, { item });
    if (v.length !== dim) throw new ClipstreamError('VECTOR_INVALID', `the ${dim}-d vector has ${v.length} values`, { item });
    let norm = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x)) throw new ClipstreamError('VECTOR_INVALID', `the ${dim}-d vector has a non-finite value at ${i}`, { item });
      norm += x * x;
    }
    // A zero vector has no direction: cosine similarity with it is undefined.
    if (norm === 0) throw new ClipstreamError('VECTOR_INVALID', `the ${dim}-d vector is all zeros`, { item });
    out[vectorName(dim)] = compactComponents(v);
  }
  return out;
}

/**
 * Vector components rounded to 1e-7 absolute, for the JSON sent to Qdrant. A float32 widened to
 * a double prints with up to 17 digits (0.012345678918063641): ~28 KB of JSON per point for
 * 64+256+1024 dims, and JSON.stringify/parse time grows with it. Rounded, a component prints
 * with at most 7 decimals (~14 KB per point). The error (≤ 5e-8 per component) is below
 * float32's machine epsilon (1.19e-7) measured against the vector's unit norm, so a cosine
 * score moves by ~1e-8 typically and at most ‖Δ‖₂ ≤ 5e-8·√dim (1.6e-6 at 1024 dims) — far
 * under the encoder's own fp16 noise. It is not below float32 resolution for every small
 * component taken alone (float32 keeps ~7 significant digits of 0.001), which no ranking sees.
 */
export function compactComponents(v: ArrayLike<number>): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.round(v[i]! * 1e7) / 1e7;
  return out;
}

export function buildPayload(item: CatalogueItem, opts: BuildPointOptions): PointPayload {
  const common = {
    source: item.sourceUri,
    source_root: item.sourceRoot,
    content_hash: item.version,
    model: opts.model,
    schema_version: SCHEMA_VERSION,
    indexed_at: (opts.indexedAt ?? new Date()).toISOString(),
  };
  if (item.kind === 'image') {
    return stripUndefined({
      modality: 'image',
      ...common,
      product_id: item.productId,
      title: imageTitle(item.sourceUri),
      // Only S3 versions are ETags; a local file's version is a content hash.
      etag: item.sourceUri.startsWith('s3://') ? item.version : undefined,
      bytes: item.bytes,
      content_type: item.contentType,
    });
  }
  return stripUndefined({
    modality: 'text',
    ...common,
    product_id: item.productId,
    lang: item.lang,
    title: textTitle(item.fields),
    text: item.text,
    bytes: Buffer.byteLength(item.text, 'utf8'),
    fields: Object.keys(item.fields).length > 0 ? item.fields : undefined,
  });
}

export function buildPoint(item: CatalogueItem, vectors: MatryoshkaVectors, opts: BuildPointOptions): CataloguePoint {
  const lex = opts.lex ?? { indices: [], values: [] };
  return {
    id: pointId(item.sourceUri),
    vector: { ...(namedVectors(vectors, opts.dims, item.sourceUri) as PointVectors), [LEXICAL_VECTOR]: lex },
    payload: { ...buildPayload(item, opts), lex_terms: lex.indices },
  };
}

function imageTitle(uri: string): string {
  const last = uri.replace(/\/+$/, '').split('/').pop() ?? uri;
  try {
    return path.basename(decodeURIComponent(last));
  } catch {
    return last;
  }
}

function textTitle(fields: Record<string, unknown>): string | undefined {
  for (const key of ['title', 'name']) {
    const v = fields[key];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  return undefined;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
