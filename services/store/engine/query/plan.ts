/**
 * A universal query request (`points/query` and its batch and groups forms) resolved into a tree
 * of stages: each stage's query becomes a scorer over one named vector (dense or sparse), a
 * fusion of its prefetches, an ordering, a sample or a formula. Point ids used as query
 * examples are looked up here (and remembered: the results exclude them, as in Qdrant).
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, notFound, wrongInput } from '../errors.ts';
import type { SlotPredicate } from '../filter.ts';
import { parsePointId, type PointId } from '../ids.ts';
import { parseSparse, SparseVectors } from '../sparse.ts';
import { prepareVector, type VectorColumn } from '../vectors.ts';
import { MultiVectors } from '../multivectors.ts';
import { INFERENCE_REFUSED, isInferenceInput, isSparseValue, type SparseVector, type VectorStorage, type VectorValue } from '../vector-storage.ts';
import type { Collection } from '../collection.ts';
import { parseSearchParams, type SearchParams } from '../ann/params.ts';
import { DEFAULT_RRF_K, type FusionSpec } from './fusion.ts';
import { parseFormula, type Formula } from './formula.ts';
import { averageVector, bestScore, contextScore, discoverScore, sumScores, type ContextPair, type Scorer } from './scorers.ts';

export interface CollectionResolver {
  resolve(name: string): Collection;
}

export interface MmrSpec {
  diversity: number;
  candidates: number;
}

export type ResolvedQuery =
  | { kind: 'nearest'; scorer: Scorer; mmr: MmrSpec | null }
  | { kind: 'fusion'; fusion: FusionSpec }
  | { kind: 'order_by'; spec: unknown }
  | { kind: 'sample' }
  | { kind: 'formula'; formula: Formula };

export interface Stage {
  prefetch: Stage[];
  query: ResolvedQuery | null;
  filter: SlotPredicate | null;
  filterJson: unknown;
  scoreThreshold: number | null;
  limit: number;
  /** `params.exact`: score every point directly (sparse queries skip their index). */
  exact: boolean;
  /** The rest of `params` (beam width, indexed_only, quantisation), for the ANN index. */
  search: SearchParams;
}

export type RawStage = Schemas['Prefetch'] & { lookup_from?: { collection: string; vector?: string | null } | null };
type Lookup = RawStage['lookup_from'];

export class QueryPlanner {
  readonly referenced = new Set<PointId>();

  constructor(
    private readonly store: CollectionResolver,
    private readonly col: Collection,
  ) {}

  stage(raw: RawStage, where: string, defaultLimit: number): Stage {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`${where}: expected a query object`);
    const prefetchRaw = raw.prefetch === undefined || raw.prefetch === null ? [] : Array.isArray(raw.prefetch) ? raw.prefetch : [raw.prefetch];
    const hasQuery = raw.query !== undefined && raw.query !== null;
    if (prefetchRaw.length > 0 && !hasQuery) {
      throw badRequest("A query is needed to merge the prefetches. Can't have prefetches without defining a query.");
    }
    if (raw.score_threshold !== undefined && raw.score_threshold !== null && !hasQuery) {
      throw badRequest("A query is needed to use the score_threshold. Can't have score_threshold without defining a query.");
    }
    const prefetch = prefetchRaw.map((p, i) => this.stage(p as RawStage, `${where}.prefetch[${i}]`, 10));
    const using = raw.using ?? '';
    const query = hasQuery ? this.query(raw.query, using, raw.lookup_from ?? null, `${where}.query`) : null;
    if (query?.kind === 'fusion' && raw.using) throw badRequest("Fusion queries cannot be combined with the 'using' field.");
    if ((query?.kind === 'fusion' || query?.kind === 'formula') && prefetch.length === 0) {
      throw badRequest(query.kind === 'fusion' ? 'Fusion queries need prefetches to fuse' : 'A formula query needs prefetches to re-score');
    }
    if (query?.kind === 'order_by' && raw.score_threshold !== undefined && raw.score_threshold !== null) {
      throw badRequest("Can't use score_threshold with an order_by query.");
    }
    if (!hasQuery && raw.using) this.col.storage(raw.using);
    return {
      prefetch,
      query,
      filter: this.col.filter(raw.filter, `${where}.filter`),
      filterJson: raw.filter ?? null,
      scoreThreshold: raw.score_threshold ?? null,
      limit: raw.limit ?? defaultLimit,
      exact: raw.params?.exact === true,
      search: parseSearchParams(raw.params),
    };
  }

  private query(raw: unknown, using: string, lookup: Lookup, where: string): ResolvedQuery {
    if (Array.isArray(raw) || raw instanceof Float32Array || typeof raw === 'number' || typeof raw === 'string' || isSparseInput(raw)) {
      return this.nearest(raw, using, lookup, where, null);
    }
    if (raw === null || typeof raw !== 'object') throw badRequest(`${where}: expected a query`);
    const q = raw as Record<string, unknown>;
    if ('nearest' in q) return this.nearest(q.nearest, using, lookup, where, q.mmr ? parseMmr(q.mmr, where) : null);
    if ('recommend' in q) return this.recommend(q.recommend as Schemas['RecommendInput'], using, lookup, `${where}.recommend`);
    if ('discover' in q) {
      const d = q.discover as Schemas['DiscoverInput'];
      const storage = this.col.storage(using);
      const target = this.vectorInput(d.target, using, lookup, `${where}.discover.target`, storage);
      const pairs = this.pairs(d.context, using, lookup, `${where}.discover.context`, storage);
      return { kind: 'nearest', scorer: { kind: 'custom', storage, score: discoverScore(storage, target, pairs) }, mmr: null };
    }
    if ('context' in q) {
      const storage = this.col.storage(using);
      const pairs = this.pairs(q.context as Schemas['ContextInput'], using, lookup, `${where}.context`, storage);
      if (pairs.length === 0) throw badRequest(`${where}: a context query needs at least one pair`);
      return { kind: 'nearest', scorer: { kind: 'custom', storage, score: contextScore(storage, pairs) }, mmr: null };
    }
    if ('fusion' in q) {
      if (q.fusion !== 'rrf' && q.fusion !== 'dbsf') throw badRequest(`${where}.fusion: unknown fusion ${JSON.stringify(q.fusion)}`);
      return { kind: 'fusion', fusion: { method: q.fusion, k: DEFAULT_RRF_K, weights: null } };
    }
    if ('rrf' in q) {
      const r = (q.rrf ?? {}) as Schemas['Rrf'];
      return { kind: 'fusion', fusion: { method: 'rrf', k: r.k ?? DEFAULT_RRF_K, weights: r.weights ?? null } };
    }
    if ('order_by' in q) return { kind: 'order_by', spec: q.order_by };
    if ('sample' in q) {
      if (q.sample !== 'random') throw badRequest(`${where}.sample: only "random" sampling exists`);
      return { kind: 'sample' };
    }
    if ('formula' in q) return { kind: 'formula', formula: parseFormula(this.col, q.formula, (q.defaults ?? {}) as Record<string, unknown>, `${where}.formula`) };
    if ('relevance_feedback' in q) throw badRequest(`${where}: relevance_feedback queries are not supported by the embedded store`);
    if (isInferenceInput(q)) throw badRequest(`${where}: ${INFERENCE_REFUSED}`);
    throw badRequest(`${where}: query ${JSON.stringify(Object.keys(q))} is not supported by the embedded store`);
  }

  private nearest(raw: unknown, using: string, lookup: Lookup, where: string, mmr: MmrSpec | null): ResolvedQuery {
    const storage = this.col.storage(using);
    return { kind: 'nearest', scorer: nearestScorer(storage, this.vectorInput(raw, using, lookup, where, storage)), mmr };
  }

  private recommend(r: Schemas['RecommendInput'], using: string, lookup: Lookup, where: string): ResolvedQuery {
    if (r === null || typeof r !== 'object') throw badRequest(`${where}: expected {positive, negative, strategy}`);
    const storage = this.col.storage(using);
    const list = (xs: unknown, label: string) => {
      if (xs !== undefined && xs !== null && !Array.isArray(xs)) throw badRequest(`${where}.${label}: expected a list`);
      return ((xs ?? []) as unknown[]).map((v, i) => this.vectorInput(v, using, lookup, `${where}.${label}[${i}]`, storage));
    };
    const pos = list(r.positive, 'positive');
    const neg = list(r.negative, 'negative');
    const strategy = r.strategy ?? 'average_vector';
    if (strategy === 'average_vector') {
      if (storage instanceof MultiVectors) return { kind: 'nearest', scorer: nearestScorer(storage, storage.average(pos as Float32Array[], neg as Float32Array[])), mmr: null };
      if (pos.length === 0) throw badRequest(`${where}: recommend with the average_vector strategy needs at least one positive example`);
      return { kind: 'nearest', scorer: nearestScorer(storage, averageVector(pos, neg)), mmr: null };
    }
    if (pos.length === 0 && neg.length === 0) throw badRequest(`${where}: recommend needs at least one example`);
    const weigh = (vs: VectorValue[]) => (storage instanceof SparseVectors ? vs.map((v) => storage.weigh(v as SparseVector)) : vs);
    const score = strategy === 'best_score' ? bestScore(storage, weigh(pos), weigh(neg)) : strategy === 'sum_scores' ? sumScores(storage, weigh(pos), weigh(neg)) : null;
    if (!score) throw badRequest(`${where}.strategy: unknown recommend strategy ${JSON.stringify(strategy)}`);
    return { kind: 'nearest', scorer: { kind: 'custom', storage, score }, mmr: null };
  }

  private pairs(raw: unknown, using: string, lookup: Lookup, where: string, storage: VectorStorage): ContextPair[] {
    const list = raw === null || raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    return list.map((p, i) => {
      const pair = p as { positive?: unknown; negative?: unknown };
      if (pair === null || typeof pair !== 'object' || pair.positive === undefined || pair.negative === undefined) throw badRequest(`${where}[${i}]: a context pair needs a positive and a negative example`);
      const weigh = (v: VectorValue) => (storage instanceof SparseVectors ? storage.weigh(v as SparseVector) : v);
      return {
        positive: weigh(this.vectorInput(pair.positive, using, lookup, `${where}[${i}].positive`, storage)),
        negative: weigh(this.vectorInput(pair.negative, using, lookup, `${where}[${i}].negative`, storage)),
      };
    });
  }

  /** A VectorInput (dense or sparse vector, or a point id) as a value for `storage`. */
  vectorInput(raw: unknown, using: string, lookup: Lookup, where: string, storage: VectorStorage): VectorValue {
    if (typeof raw === 'number' || typeof raw === 'string') return this.storedVector(raw, using, lookup, where, storage);
    if (storage instanceof MultiVectors) {
      if (isSparseInput(raw)) throw wrongInput(`${where}: vector ${JSON.stringify(using)} is a multivector, got a sparse vector`);
      return storage.queryVector(raw, `${where}: vector ${JSON.stringify(using)}`);
    }
    if (storage instanceof SparseVectors) {
      if (!isSparseInput(raw)) throw wrongInput(`${where}: vector ${JSON.stringify(using)} is a sparse vector: query it with {"indices": [...], "values": [...]} or a point id`);
      return parseSparse(raw as { indices: unknown; values: unknown }, where);
    }
    const column = storage as VectorColumn;
    if (isSparseInput(raw)) throw wrongInput(`${where}: vector ${JSON.stringify(using)} is a dense vector, got a sparse one`);
    if (Array.isArray(raw) || raw instanceof Float32Array) {
      if (raw.length > 0 && Array.isArray(raw[0])) throw badRequest(`${where}: multivectors are not supported by the embedded store yet`);
      if (raw.length !== column.dim) throw wrongInput(`Vector dimension error: expected dim: ${column.dim}, got ${raw.length}`);
      for (let i = 0; i < raw.length; i++) if (typeof raw[i] !== 'number') throw badRequest(`${where}[${i}]: not a number`);
      return prepareVector(column.distance, raw as number[]);
    }
    if (isInferenceInput(raw)) throw badRequest(`${where}: ${INFERENCE_REFUSED}`);
    throw badRequest(`${where}: expected a vector or a point id`);
  }

  private storedVector(raw: number | string, using: string, lookup: Lookup, where: string, storage: VectorStorage): VectorValue {
    const id = parsePointId(raw, where);
    const source = lookup ? this.store.resolve(lookup.collection) : this.col;
    const name = lookup?.vector ?? using;
    if (source === this.col) this.referenced.add(id);
    const slot = source.slotOf(id);
    if (slot === undefined) throw notFound(`No point with id ${id} found`);
    const stored = source.storage(name);
    if (!stored.has(slot)) throw notFound(`Vector with name ${JSON.stringify(name)} for point ${id}`);
    const value = stored.get(slot);
    if (storage instanceof MultiVectors) {
      if (!(stored instanceof MultiVectors) || stored.dim !== storage.dim) throw wrongInput(`${where}: vector ${JSON.stringify(name)} of point ${id} is not a multivector of size ${storage.dim}`);
      return (value as Float32Array).slice();
    }
    if (storage instanceof SparseVectors) {
      if (!isSparseValue(value)) throw wrongInput(`${where}: vector ${JSON.stringify(name)} of point ${id} is dense; ${JSON.stringify(using)} is sparse`);
      return { indices: value.indices.slice(), values: value.values.slice() };
    }
    const column = storage as VectorColumn;
    if (isSparseValue(value)) throw wrongInput(`${where}: vector ${JSON.stringify(name)} of point ${id} is sparse; ${JSON.stringify(using)} is dense`);
    if (value.length !== column.dim) throw wrongInput(`Vector dimension error: expected dim: ${column.dim}, got ${value.length}`);
    return prepareVector(column.distance, value);
  }
}

/** Nearest to `value` on `storage`: dense scan, or the sparse index with IDF weights applied. */
export function nearestScorer(storage: VectorStorage, value: VectorValue): Scorer {
  if (storage instanceof MultiVectors) return { kind: 'custom', storage, score: (slot) => storage.maxSim(slot, value as Float32Array) };
  if (storage instanceof SparseVectors) return { kind: 'sparse', storage, vector: storage.weigh(value as SparseVector) };
  const column = storage as VectorColumn;
  return { kind: 'dense', column, vector: prepareVector(column.distance, value as Float32Array) };
}

function isSparseInput(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Float32Array) && 'indices' in raw;
}

function parseMmr(raw: unknown, where: string): MmrSpec {
  const m = raw as Schemas['Mmr'];
  const diversity = m.diversity ?? 0.5;
  if (typeof diversity !== 'number' || diversity < 0 || diversity > 1) throw badRequest(`${where}.mmr.diversity: must be between 0 and 1`);
  return { diversity, candidates: m.candidates_limit ?? 0 };
}
