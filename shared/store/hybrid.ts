/**
 * Hybrid retrieval in ONE Qdrant query: `prefetch` = [the coarse-to-fine dense chain, the `lex`
 * sparse search], both under the same filter, fused by RRF (`k`, per-branch weights) or DBSF.
 * Lexical-only is the sparse search alone. Each hit can say why it matched: its rank in each
 * branch (read by a second, batched request of the two branches with ids only, sent alongside
 * the fused one; skipped when no explanation is wanted) and, for lexical matches, the query terms
 * its `lex` vector holds.
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { LEXICAL_VECTOR, type QueryTerm, type SparseVector } from '../lexical/index.ts';
import {
  buildCascade,
  checkStageLimits,
  defaultStageLimits,
  sortedDims,
  stageLimitsFor,
  stageVectors,
  type Filter,
  type HitGroup,
  type SearchHit,
  type SearchTarget,
} from './coarse-to-fine.ts';

export type Fusion = { kind: 'rrf'; k: number; weights: { dense: number; lexical: number } } | { kind: 'dbsf' };

export interface HybridQuery {
  /** Full-width dense query vector; absent: lexical only. */
  vector?: ArrayLike<number> | undefined;
  /** Query `lex` vector (non-empty); absent: dense only (then use coarseToFineSearch). */
  lex?: SparseVector | undefined;
  /** The query's terms, to name those a hit matched. */
  terms?: readonly QueryTerm[] | undefined;
  fusion: Fusion;
  limit: number;
  offset?: number | undefined;
  filter?: Filter | undefined;
  stageLimits?: readonly number[] | undefined;
  withPayload?: boolean | string[] | undefined;
  /** Candidates each branch hands to the fusion (at least limit + offset). */
  branchLimit?: number | undefined;
  /**
   * Share of the query's terms a point must hold to be a lexical candidate (LEXICAL_MIN_MATCH):
   * without it one common word ("rot") fills the lexical branch with partial matches that RRF
   * then ranks above the dense branch's best answers.
   */
  minMatch?: number | undefined;
  /** Read each hit's rank per branch (one more batched request). */
  explain?: boolean | undefined;
  group?: { by: string; size: number } | undefined;
}

export interface HitExplanation {
  /** 1-based rank in the dense (coarse-to-fine) branch, absent when it was not among its candidates. */
  dense_rank?: number;
  lexical_rank?: number;
  /** Query terms present in the hit's `lex` vector. */
  matched_terms: string[];
}

export interface ExplainedHit extends SearchHit {
  explain?: HitExplanation;
}

type Prefetch = Schemas['Prefetch'];

/** The dense branch (the cascade ending on the full-width vector) and the lexical branch, as prefetches. */
export function hybridBranches(target: SearchTarget, q: HybridQuery): { dense?: Prefetch; lexical?: Prefetch; branchLimit: number } {
  const window = q.limit + (q.offset ?? 0);
  const branchLimit = Math.max(q.branchLimit ?? window, window);
  const out: { dense?: Prefetch; lexical?: Prefetch; branchLimit: number } = { branchLimit };
  if (q.vector) {
    const stageLimits = q.stageLimits ?? stageLimitsFor(defaultStageLimits(sortedDims(target.dims)), branchLimit);
    checkStageLimits(target.dims, stageLimits, branchLimit);
    const cascade = buildCascade(target.dims, stageVectors(q.vector, target.dims), { stageLimits, ...(q.filter ? { filter: q.filter } : {}) });
    out.dense = { ...cascade, limit: branchLimit };
  }
  if (q.lex) {
    const filter = lexicalFilter(q.filter, q.terms ?? q.lex.indices.map((id) => ({ term: '', id })), q.minMatch ?? 0);
    out.lexical = { query: q.lex, using: LEXICAL_VECTOR, limit: branchLimit, ...(filter ? { filter } : {}) };
  }
  return out;
}

/**
 * The branch filter plus what a lexical candidate must hold (payload lex_terms): every identifier
 * of the query (a term with a digit: model number, EAN, size) when it has one — the words around
 * it ("EAN", "model") are then optional — else at least ⌈share·n⌉ of its n terms.
 */
export function lexicalFilter(filter: Filter | undefined, terms: readonly QueryTerm[], share: number): Filter | undefined {
  const has = (id: number) => ({ key: 'lex_terms', match: { value: id } });
  const identifiers = terms.filter((t) => /\p{N}/u.test(t.term));
  let extra: Filter;
  if (identifiers.length > 0) {
    if (identifiers.length === terms.length && terms.length === 1) return filter; // the sparse search needs it anyway
    extra = { must: identifiers.map((t) => has(t.id)) };
  } else {
    const need = Math.ceil(share * terms.length - 1e-9);
    if (need <= 1) return filter; // the sparse search itself already needs one shared term
    extra = { min_should: { conditions: terms.map((t) => has(t.id)), min_count: need } };
  }
  return filter ? { must: [filter, extra] } : extra;
}

/** The fused (or lexical-only) query body, without limit/offset/payload. */
export function hybridQueryBody(target: SearchTarget, q: HybridQuery): Record<string, unknown> {
  const { dense, lexical } = hybridBranches(target, q);
  if (dense && lexical) {
    const query =
      q.fusion.kind === 'dbsf' ? { fusion: 'dbsf' } : { rrf: { k: q.fusion.k, weights: [q.fusion.weights.dense, q.fusion.weights.lexical] } };
    return { prefetch: [dense, lexical], query, ...(q.filter ? { filter: q.filter } : {}) };
  }
  if (lexical) return { ...lexical };
  if (dense) return { ...dense };
  throw new TypeError('a hybrid query needs a dense vector, a lexical vector or both');
}

export async function hybridSearch(target: SearchTarget, q: HybridQuery): Promise<ExplainedHit[]> {
  const body = {
    ...hybridQueryBody(target, q),
    limit: q.limit,
    ...(q.offset ? { offset: q.offset } : {}),
    with_payload: q.withPayload ?? true,
    ...(q.terms ? { with_vector: [LEXICAL_VECTOR] } : {}),
  } as Schemas['QueryRequest'];
  const [r, ranks] = await Promise.all([target.client.query(target.collection, body), q.explain ? branchRanks(target, q) : undefined]);
  return r.points.map((p) => explained(p, q, ranks));
}

export async function hybridGroups(target: SearchTarget, q: HybridQuery & { group: { by: string; size: number } }): Promise<Array<HitGroup & { hits: ExplainedHit[] }>> {
  const body = {
    ...hybridQueryBody(target, q),
    group_by: q.group.by,
    group_size: q.group.size,
    limit: q.limit,
    with_payload: q.withPayload ?? true,
    ...(q.terms ? { with_vector: [LEXICAL_VECTOR] } : {}),
  } as Schemas['QueryGroupsRequest'];
  const [r, ranks] = await Promise.all([target.client.queryGroups(target.collection, body), q.explain ? branchRanks(target, q) : undefined]);
  return r.groups.map((g) => ({ id: g.id, hits: g.hits.map((p) => explained(p, q, ranks)) }));
}

interface BranchRanks {
  dense: Map<string, number>;
  lexical: Map<string, number>;
}

/** Each branch run alone (ids only) in one batch request: the ranks the fusion saw. */
async function branchRanks(target: SearchTarget, q: HybridQuery): Promise<BranchRanks> {
  const { dense, lexical, branchLimit } = hybridBranches(target, q);
  const searches = [dense, lexical].filter((b): b is Prefetch => b !== undefined).map((b) => ({ ...b, limit: branchLimit, with_payload: false }));
  const results = await target.client.queryBatch(target.collection, { searches: searches as Schemas['QueryRequest'][] });
  const rankOf = (points: Schemas['ScoredPoint'][] | undefined) => new Map((points ?? []).map((p, i) => [String(p.id), i + 1]));
  const [first, second] = results;
  return dense && lexical
    ? { dense: rankOf(first?.points), lexical: rankOf(second?.points) }
    : dense
      ? { dense: rankOf(first?.points), lexical: new Map() }
      : { dense: new Map(), lexical: rankOf(first?.points) };
}

function explained(p: Schemas['ScoredPoint'], q: HybridQuery, ranks: BranchRanks | undefined): ExplainedHit {
  const id = String(p.id);
  const hit: ExplainedHit = { id, score: p.score, ...(p.payload ? { payload: p.payload as Record<string, unknown> } : {}) };
  if (!q.terms && !ranks) return hit;
  const lex = (p.vector as Record<string, unknown> | null | undefined)?.[LEXICAL_VECTOR] as SparseVector | undefined;
  const present = new Set(lex?.indices ?? []);
  const dense = ranks?.dense.get(id);
  const lexical = ranks?.lexical.get(id);
  hit.explain = {
    ...(dense !== undefined ? { dense_rank: dense } : {}),
    ...(lexical !== undefined ? { lexical_rank: lexical } : {}),
    matched_terms: (q.terms ?? []).filter((t) => present.has(t.id)).map((t) => t.term),
  };
  return hit;
}
