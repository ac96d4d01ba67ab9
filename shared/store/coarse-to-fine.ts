/**
 * Coarse-to-fine search over Matryoshka vectors in ONE Qdrant query: the 64-d HNSW index
 * proposes L1 candidates, the 256-d vectors re-rank them down to L2, the 1024-d vectors give
 * the final order. The query is encoded once at full width; the coarse vectors are its prefixes,
 * re-normalised, exactly as the stored ones were made. The same filter is applied at every
 * stage, so a filtered query never spends its candidate budget on points it will drop.
 */
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { vectorName } from '../encoder/types.ts';
import { ClipstreamError } from '../errors.ts';
import { isUuid } from './ids.ts';

export type Filter = Schemas['Filter'];

/** Where to search: the collection (or alias) and its Matryoshka dims. */
export interface SearchTarget {
  client: QdrantClient;
  collection: string;
  dims: readonly number[];
}

export interface CoarseToFineOptions {
  limit: number;
  offset?: number | undefined;
  filter?: Filter | undefined;
  /** Candidates kept by each coarse stage, smallest dim first: [L1, L2] for dims 64/256/1024. */
  stageLimits?: readonly number[] | undefined;
  withPayload?: boolean | string[] | undefined;
  scoreThreshold?: number | undefined;
  /**
   * HNSW beam width for the first stage; default firstStageEf(L1). null leaves it to the store
   * (Qdrant: max(ef_construct, L1)), which at a million points loses the true neighbours of a
   * query that is not itself a stored point.
   */
  hnswEf?: number | null | undefined;
}

export interface CoarseToFineQuery extends CoarseToFineOptions {
  /** Full-width query vector (the largest dim); need not be normalised. */
  vector: ArrayLike<number>;
}

export interface SearchHit {
  id: string;
  score: number;
  payload?: Record<string, unknown>;
}

export interface HitGroup {
  /** The shared `group_by` value, e.g. the product id. */
  id: string | number;
  hits: SearchHit[];
}

/** The first stage's HNSW beam per candidate it keeps (see firstStageEf). */
export const FIRST_STAGE_EF_PER_CANDIDATE = 2;

/**
 * The first stage's default HNSW beam: twice its limit. A beam of just L1 (what Qdrant uses
 * for L1 above ef_construct) finds only part of the true top L1 on a large graph, and the
 * cascade can never recover a neighbour the first stage missed; the 64-d beam is cheap next to
 * re-ranking in the later stages. A store with strict mode's search_max_hnsw_ef below this
 * refuses the query: pass hnswEf explicitly there.
 */
export function firstStageEf(l1: number): number {
  return FIRST_STAGE_EF_PER_CANDIDATE * l1;
}

/** Used when no calibration exists: roomy enough for recall ≈ 0.99 on typical catalogues. */
export function defaultStageLimits(dims: readonly number[]): number[] {
  const coarse = Math.max(0, dims.length - 1);
  // Last coarse stage 100, each earlier one 4× wider: [400, 100] for 64/256/1024.
  return Array.from({ length: coarse }, (_, i) => 100 * 4 ** (coarse - 1 - i));
}

/**
 * Default or calibrated limits stretched so every stage keeps at least limit + offset
 * candidates: a deep page must not fail just because calibration was done for top-10.
 * Explicit limits from a caller are checked instead (checkStageLimits), never stretched.
 */
export function stageLimitsFor(base: readonly number[], limit: number, offset = 0): number[] {
  return base.map((l) => Math.max(l, limit + offset));
}

export function sortedDims(dims: readonly number[]): number[] {
  return [...new Set(dims)].sort((a, b) => a - b);
}

/** The first `dim` values, L2-normalised: the Matryoshka rule the stored vectors follow. */
export function sliceNormalize(vector: ArrayLike<number>, dim: number): number[] {
  if (vector.length < dim) {
    throw new ClipstreamError('VECTOR_INVALID', `query vector has ${vector.length} values, fewer than the ${dim} needed`);
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += vector[i]! * vector[i]!;
  norm = Math.sqrt(norm);
  if (!Number.isFinite(norm) || norm === 0) {
    throw new ClipstreamError('VECTOR_INVALID', `query vector's first ${dim} values are zero or not finite`);
  }
  const out = new Array<number>(dim);
  for (let i = 0; i < dim; i++) out[i] = vector[i]! / norm;
  return out;
}

/** Query vectors for every stage, from one full-width vector. */
export function stageVectors(vector: ArrayLike<number>, dims: readonly number[]): Map<number, number[]> {
  const sorted = sortedDims(dims);
  const full = sorted[sorted.length - 1]!;
  if (vector.length !== full) {
    throw new ClipstreamError('VECTOR_INVALID', `query vector has ${vector.length} values, expected ${full}`);
  }
  return new Map(sorted.map((d) => [d, sliceNormalize(vector, d)]));
}

/** Throws BAD_REQUEST unless L1 ≥ L2 ≥ … ≥ limit + offset. */
export function checkStageLimits(dims: readonly number[], stageLimits: readonly number[], limit: number, offset = 0): void {
  const sorted = sortedDims(dims);
  const named = stageLimits.map((l, i) => `L${i + 1}=${l}`).join(', ');
  if (!Number.isInteger(limit) || limit < 1) throw new ClipstreamError('BAD_REQUEST', `limit must be a positive integer, got ${limit}`);
  if (!Number.isInteger(offset) || offset < 0) throw new ClipstreamError('BAD_REQUEST', `offset must be a non-negative integer, got ${offset}`);
  if (stageLimits.length !== sorted.length - 1) {
    throw new ClipstreamError(
      'BAD_REQUEST',
      `${stageLimits.length} stage limit(s) (${named || 'none'}) for ${sorted.length - 1} coarse stage(s) of dims ${sorted.join('/')}`,
    );
  }
  let previous = Infinity;
  for (const [i, l] of stageLimits.entries()) {
    if (!Number.isInteger(l) || l < 1) throw new ClipstreamError('BAD_REQUEST', `stage limit L${i + 1} must be a positive integer, got ${l}`);
    if (l > previous) {
      throw new ClipstreamError('BAD_REQUEST', `stage limits ${named}: each stage must keep at most as many candidates as the one before (L1 ≥ L2 ≥ …)`);
    }
    previous = l;
  }
  const need = limit + offset;
  if (stageLimits.length > 0 && previous < need) {
    throw new ClipstreamError(
      'BAD_REQUEST',
      `stage limits ${named} are too small for limit ${limit} + offset ${offset}: the last coarse stage must keep at least ${need} candidates`,
    );
  }
}

/**
 * The nested prefetch for the coarse stages (innermost = smallest dim) plus the final stage's
 * query fields. Pure: exposed for tests and for callers that add fields (e.g. groups).
 */
export function buildCascade(
  dims: readonly number[],
  vectors: ReadonlyMap<number, number[]>,
  opts: Pick<CoarseToFineOptions, 'filter' | 'stageLimits' | 'hnswEf'>,
): { prefetch?: Schemas['Prefetch']; query: number[]; using: string; filter?: Filter } {
  const sorted = sortedDims(dims);
  const limits = opts.stageLimits ?? defaultStageLimits(sorted);
  const ef = opts.hnswEf === undefined && limits.length > 0 ? firstStageEf(limits[0]!) : opts.hnswEf;
  let prefetch: Schemas['Prefetch'] | undefined;
  sorted.slice(0, -1).forEach((dim, i) => {
    prefetch = {
      ...(prefetch ? { prefetch } : {}),
      query: vectorOf(vectors, dim),
      using: vectorName(dim),
      limit: limits[i]!,
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(i === 0 && ef ? { params: { hnsw_ef: ef } } : {}),
    };
  });
  const final = sorted[sorted.length - 1]!;
  return {
    ...(prefetch ? { prefetch } : {}),
    query: vectorOf(vectors, final),
    using: vectorName(final),
    ...(opts.filter ? { filter: opts.filter } : {}),
  };
}

/** The complete `POST /collections/{c}/points/query` body for a coarse-to-fine search. */
export function buildCoarseToFineRequest(dims: readonly number[], q: CoarseToFineQuery): Schemas['QueryRequest'] {
  const stageLimits = q.stageLimits ?? stageLimitsFor(defaultStageLimits(sortedDims(dims)), q.limit, q.offset ?? 0);
  checkStageLimits(dims, stageLimits, q.limit, q.offset ?? 0);
  return {
    ...buildCascade(dims, stageVectors(q.vector, dims), { ...q, stageLimits }),
    limit: q.limit,
    ...(q.offset ? { offset: q.offset } : {}),
    with_payload: q.withPayload ?? true,
    ...(q.scoreThreshold !== undefined ? { score_threshold: q.scoreThreshold } : {}),
  };
}

export async function coarseToFineSearch(target: SearchTarget, q: CoarseToFineQuery): Promise<SearchHit[]> {
  const body = buildCoarseToFineRequest(target.dims, q);
  const r = await target.client.query(target.collection, body);
  return r.points.map(toHit);
}

/** Exhaustive search on the full-width vectors: the ground truth coarse-to-fine is measured against. */
export async function exactSearch(target: SearchTarget, q: Omit<CoarseToFineQuery, 'stageLimits' | 'hnswEf'>): Promise<SearchHit[]> {
  const final = sortedDims(target.dims).at(-1)!;
  checkStageLimits([final], [], q.limit, q.offset ?? 0);
  const r = await target.client.query(target.collection, {
    query: sliceNormalize(q.vector, final),
    using: vectorName(final),
    limit: q.limit,
    ...(q.offset ? { offset: q.offset } : {}),
    ...(q.filter ? { filter: q.filter } : {}),
    params: { exact: true },
    with_payload: q.withPayload ?? true,
    ...(q.scoreThreshold !== undefined ? { score_threshold: q.scoreThreshold } : {}),
  });
  return r.points.map(toHit);
}

/**
 * "More like this": the cascade run with a stored point's own vectors (not re-sliced: they are
 * the ones that were indexed), the point itself excluded at every stage.
 */
export async function searchByPoint(target: SearchTarget, id: string, opts: CoarseToFineOptions): Promise<SearchHit[]> {
  const vectors = await storedStageVectors(target, id);
  const stageLimits = opts.stageLimits ?? stageLimitsFor(defaultStageLimits(sortedDims(target.dims)), opts.limit, opts.offset ?? 0);
  checkStageLimits(target.dims, stageLimits, opts.limit, opts.offset ?? 0);
  const filter = excludeIds(opts.filter, [id]);
  const r = await target.client.query(target.collection, {
    ...buildCascade(target.dims, vectors, { ...opts, stageLimits, filter }),
    limit: opts.limit,
    ...(opts.offset ? { offset: opts.offset } : {}),
    with_payload: opts.withPayload ?? true,
    ...(opts.scoreThreshold !== undefined ? { score_threshold: opts.scoreThreshold } : {}),
  });
  return r.points.map(toHit);
}

export interface GroupedQuery extends Omit<CoarseToFineQuery, 'offset'> {
  /** Payload key shared by a group's points. */
  groupBy?: string | undefined;
  /** Hits per group. */
  groupSize?: number | undefined;
}

/**
 * Coarse-to-fine, then the best `limit` groups (products by default), `groupSize` hits each.
 * Groups are formed from the last coarse stage's candidates (L2 of them), so a query asking for
 * many groups of many hits wants a wider L2 than a plain top-k does.
 */
export async function coarseToFineGroups(target: SearchTarget, q: GroupedQuery): Promise<HitGroup[]> {
  const stageLimits = q.stageLimits ?? stageLimitsFor(defaultStageLimits(sortedDims(target.dims)), q.limit);
  checkStageLimits(target.dims, stageLimits, q.limit, 0);
  const groupSize = q.groupSize ?? 3;
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new ClipstreamError('BAD_REQUEST', `group size must be a positive integer, got ${groupSize}`);
  const r = await target.client.queryGroups(target.collection, {
    ...buildCascade(target.dims, stageVectors(q.vector, target.dims), { ...q, stageLimits }),
    group_by: q.groupBy ?? 'product_id',
    group_size: groupSize,
    limit: q.limit,
    with_payload: q.withPayload ?? true,
    ...(q.scoreThreshold !== undefined ? { score_threshold: q.scoreThreshold } : {}),
  });
  return r.groups.map((g) => ({ id: g.id, hits: g.hits.map(toHit) }));
}

/** The point's stored vector for every stage; NOT_FOUND when there is no such point. */
export async function storedStageVectors(target: SearchTarget, id: string): Promise<Map<number, number[]>> {
  if (!isUuid(id) && !/^\d+$/.test(id)) throw new ClipstreamError('BAD_REQUEST', 'point id must be a UUID or an unsigned integer', { item: id });
  const sorted = sortedDims(target.dims);
  const records = await target.client.retrieve(target.collection, {
    ids: [/^\d+$/.test(id) ? Number(id) : id],
    with_vector: sorted.map(vectorName),
    with_payload: false,
  });
  const record = records[0];
  if (!record) throw new ClipstreamError('NOT_FOUND', `no point with this id in ${target.collection}`, { item: id });
  const stored = (record.vector ?? {}) as Record<string, unknown>;
  const out = new Map<number, number[]>();
  for (const dim of sorted) {
    const v = stored[vectorName(dim)];
    if (!Array.isArray(v) || v.length !== dim) {
      throw new ClipstreamError('VECTOR_INVALID', `stored point has no ${dim}-d vector ${vectorName(dim)}`, { item: id });
    }
    out.set(dim, v as number[]);
  }
  return out;
}

/** `filter` plus "none of these ids", merged into its must_not so no nesting is needed. */
export function excludeIds(filter: Filter | undefined, ids: Array<string | number>): Filter {
  const base = filter ?? {};
  const mustNot = base.must_not == null ? [] : Array.isArray(base.must_not) ? base.must_not : [base.must_not];
  return { ...base, must_not: [...mustNot, { has_id: ids }] };
}

function vectorOf(vectors: ReadonlyMap<number, number[]>, dim: number): number[] {
  const v = vectors.get(dim);
  if (!v) throw new ClipstreamError('VECTOR_INVALID', `no ${dim}-d query vector`);
  return v;
}

function toHit(p: Schemas['ScoredPoint']): SearchHit {
  return {
    id: String(p.id),
    score: p.score,
    ...(p.payload ? { payload: p.payload as Record<string, unknown> } : {}),
  };
}
