/**
 * The universal query (`points/query`, `/batch`, `/groups`): a tree of stages. A leaf scans the
 * collection (exact, brute force over the vector column, starting from index postings when the
 * filter allows); a stage with prefetches re-scores the union of their results with its own
 * query. As in Qdrant, the request's top-level filter — extended to exclude points used as
 * examples by id — applies at every depth, and a prefetch's own filter applies to its stage.
 */
import { badRequest, notFound, wrongInput } from './errors.ts';
import { andPredicates, type SlotPredicate } from './filter.ts';
import { parsePointId, type PointId } from './ids.ts';
import { parsePath, parseWithPayload, valuesAt, type PayloadSelector } from './payload.ts';
import { TopK } from './topk.ts';
import { CHUNK_BITS, CHUNK_SLOTS, dot, higherIsBetter, l1, prepareVector, shortestF32, squaredL2, type VectorColumn } from './vectors.ts';
import { parseWithVector, type Collection, type RecordJson, type VectorSelector } from './collection.ts';

export interface CollectionResolver {
  resolve(name: string): Collection;
}

type ResolvedQuery =
  | { kind: 'nearest'; column: VectorColumn; vector: Float32Array }
  | { kind: 'fusion'; method: 'rrf' | 'dbsf'; k: number; weights: number[] | null }
  | { kind: 'order_by'; spec: unknown }
  | { kind: 'sample' };

interface Stage {
  prefetch: Stage[];
  query: ResolvedQuery | null;
  filter: SlotPredicate | null;
  filterJson: unknown;
  scoreThreshold: number | null;
  limit: number;
}

interface Ranked {
  slots: number[];
  scores: number[];
  orderValues?: Array<number | string>;
}

export interface ScoredPointJson {
  id: PointId;
  version: number;
  score: number;
  payload?: unknown;
  vector?: unknown;
  order_value?: number | string;
}

interface RawStage {
  prefetch?: unknown;
  query?: unknown;
  using?: string | null;
  filter?: unknown;
  score_threshold?: number | null;
  limit?: number | null;
  lookup_from?: { collection: string; vector?: string | null } | null;
}

class QueryPlanner {
  readonly referenced = new Set<PointId>();

  constructor(
    private readonly store: CollectionResolver,
    private readonly col: Collection,
  ) {}

  stage(raw: RawStage, where: string, defaultLimit: number): Stage {
    const prefetchRaw = raw.prefetch === undefined || raw.prefetch === null ? [] : Array.isArray(raw.prefetch) ? raw.prefetch : [raw.prefetch];
    const hasQuery = raw.query !== undefined && raw.query !== null;
    if (prefetchRaw.length > 0 && !hasQuery) {
      throw badRequest("A query is needed to merge the prefetches. Can't have prefetches without defining a query.");
    }
    if (raw.score_threshold !== undefined && raw.score_threshold !== null && !hasQuery) {
      throw badRequest("A query is needed to use the score_threshold. Can't have score_threshold without defining a query.");
    }
    const prefetch = prefetchRaw.map((p, i) => this.stage(p as RawStage, `${where}.prefetch[${i}]`, 10));
    const query = hasQuery ? this.query(raw.query, raw.using ?? '', raw.lookup_from ?? null, `${where}.query`) : null;
    if (query?.kind === 'fusion' && raw.using) throw badRequest("Fusion queries cannot be combined with the 'using' field.");
    if (query?.kind === 'fusion' && prefetch.length === 0) throw badRequest('Fusion queries need prefetches to fuse');
    if (query?.kind === 'order_by' && raw.score_threshold !== undefined && raw.score_threshold !== null) {
      throw badRequest("Can't use score_threshold with an order_by query.");
    }
    if (!hasQuery && raw.using) this.col.column(raw.using);
    return {
      prefetch,
      query,
      filter: this.col.filter(raw.filter, `${where}.filter`),
      filterJson: raw.filter ?? null,
      scoreThreshold: raw.score_threshold ?? null,
      limit: raw.limit ?? defaultLimit,
    };
  }

  private query(raw: unknown, using: string, lookup: RawStage['lookup_from'], where: string): ResolvedQuery {
    if (Array.isArray(raw) || typeof raw === 'number' || typeof raw === 'string') return this.nearest(raw, using, lookup, where);
    const q = raw as Record<string, unknown>;
    if ('nearest' in q) {
      if (q.mmr) throw badRequest(`${where}: MMR re-ranking is not supported by the embedded store`);
      return this.nearest(q.nearest, using, lookup, where);
    }
    if ('recommend' in q) {
      const r = q.recommend as { positive?: unknown[] | null; negative?: unknown[] | null; strategy?: string | null };
      if (r.strategy && r.strategy !== 'average_vector') throw badRequest(`${where}: recommend strategy ${r.strategy} is not supported by the embedded store`);
      const column = this.col.column(using);
      const pos = (r.positive ?? []).map((v, i) => this.vectorInput(v, using, lookup, `${where}.recommend.positive[${i}]`, column));
      const neg = (r.negative ?? []).map((v, i) => this.vectorInput(v, using, lookup, `${where}.recommend.negative[${i}]`, column));
      if (pos.length === 0) throw badRequest(`${where}: recommend needs at least one positive example`);
      const avg = (list: Float32Array[]) => {
        const out = new Float32Array(column.dim);
        for (const v of list) for (let i = 0; i < out.length; i++) out[i] += v[i]! / list.length;
        return out;
      };
      const p = avg(pos);
      let target = p;
      if (neg.length > 0) {
        const n = avg(neg);
        target = new Float32Array(column.dim);
        for (let i = 0; i < target.length; i++) target[i] = p[i]! + p[i]! - n[i]!;
      }
      return { kind: 'nearest', column, vector: prepareVector(column.distance, target) };
    }
    if ('fusion' in q) return { kind: 'fusion', method: q.fusion as 'rrf' | 'dbsf', k: 2, weights: null };
    if ('rrf' in q) {
      const r = (q.rrf ?? {}) as { k?: number | null; weights?: number[] | null };
      return { kind: 'fusion', method: 'rrf', k: r.k ?? 2, weights: r.weights ?? null };
    }
    if ('order_by' in q) return { kind: 'order_by', spec: q.order_by };
    if ('sample' in q) return { kind: 'sample' };
    if ('indices' in q) throw badRequest(`${where}: sparse vectors are not supported by the embedded store`);
    throw badRequest(`${where}: query ${JSON.stringify(Object.keys(q))} is not supported by the embedded store`);
  }

  private nearest(raw: unknown, using: string, lookup: RawStage['lookup_from'], where: string): ResolvedQuery {
    const column = this.col.column(using);
    return { kind: 'nearest', column, vector: this.vectorInput(raw, using, lookup, where, column) };
  }

  /** A VectorInput (dense vector or point id) as a query vector prepared for `column`. */
  private vectorInput(raw: unknown, using: string, lookup: RawStage['lookup_from'], where: string, column: VectorColumn): Float32Array {
    if (Array.isArray(raw)) {
      if (raw.length > 0 && Array.isArray(raw[0])) throw badRequest(`${where}: multi-vectors are not supported by the embedded store`);
      if (raw.length !== column.dim) throw wrongInput(`Vector dimension error: expected dim: ${column.dim}, got ${raw.length}`);
      return prepareVector(column.distance, raw as number[]);
    }
    if (typeof raw === 'number' || typeof raw === 'string') {
      const id = parsePointId(raw, where);
      const source = lookup ? this.store.resolve(lookup.collection) : this.col;
      const name = lookup?.vector ?? using;
      if (source === this.col) this.referenced.add(id);
      const slot = source.slotOf(id);
      if (slot === undefined) throw notFound(`No point with id ${id} found`);
      const stored = source.columns.get(name);
      if (!stored) throw wrongInput(`Not existing vector name error: ${name}`);
      if (!stored.has(slot)) throw notFound(`Vector with name ${JSON.stringify(name)} for point ${id}`);
      if (stored.dim !== column.dim) throw wrongInput(`Vector dimension error: expected dim: ${column.dim}, got ${stored.dim}`);
      return prepareVector(column.distance, stored.view(slot));
    }
    if (raw !== null && typeof raw === 'object' && 'indices' in raw) throw badRequest(`${where}: sparse vectors are not supported by the embedded store`);
    throw badRequest(`${where}: documents, images and inference objects are not supported by the embedded store (send vectors)`);
  }
}

class Executor {
  constructor(
    private readonly col: Collection,
    private readonly root: SlotPredicate | null,
    private readonly rootJson: unknown,
  ) {}

  run(stage: Stage, limit: number): Ranked {
    const pred = andPredicates(this.root, stage.filter);
    if (stage.prefetch.length === 0) return this.leaf(stage, pred, limit);
    const sources = stage.prefetch.map((p) => this.run(p, p.limit));
    const q = stage.query!;
    if (q.kind === 'fusion') return this.fuse(q, sources, pred, stage.scoreThreshold, limit);
    const candidates = new Set<number>();
    for (const s of sources) for (const slot of s.slots) candidates.add(slot);
    if (q.kind === 'nearest') return scan(q.column, q.vector, candidates, this.col.slotCount, pred, limit, stage.scoreThreshold);
    if (q.kind === 'order_by') return this.ordered(q.spec, (slot) => candidates.has(slot) && (pred === null || pred(slot)), limit);
    return sample([...candidates].filter((s) => pred === null || pred(s)), limit);
  }

  private leaf(stage: Stage, pred: SlotPredicate | null, limit: number): Ranked {
    const q = stage.query;
    if (q === null) {
      const slots: number[] = [];
      for (const s of this.col.sortedSlots()) {
        if (pred !== null && !pred(s)) continue;
        slots.push(s);
        if (slots.length >= limit) break;
      }
      return { slots, scores: slots.map(() => 0) };
    }
    if (q.kind === 'nearest') {
      const candidates = this.col.candidateSlots([this.rootJson, stage.filterJson]);
      return scan(q.column, q.vector, candidates, this.col.slotCount, pred, limit, stage.scoreThreshold);
    }
    if (q.kind === 'order_by') return this.ordered(q.spec, pred, limit);
    if (q.kind === 'sample') {
      const all: number[] = [];
      for (let s = 0; s < this.col.slotCount; s++) if (this.col.alive[s] === 1 && (pred === null || pred(s))) all.push(s);
      return sample(all, limit);
    }
    throw badRequest('Fusion queries need prefetches to fuse');
  }

  private ordered(spec: unknown, pred: SlotPredicate | null, limit: number): Ranked {
    const rows = this.col.orderBy(spec, pred).slice(0, limit);
    return {
      slots: rows.map((r) => r.slot),
      scores: rows.map((r) => (typeof r.value === 'number' ? r.value : Date.parse(r.value) / 1000)),
      orderValues: rows.map((r) => r.value),
    };
  }

  private fuse(q: Extract<ResolvedQuery, { kind: 'fusion' }>, sources: Ranked[], pred: SlotPredicate | null, threshold: number | null, limit: number): Ranked {
    const fused = new Map<number, number>();
    sources.forEach((src, si) => {
      const w = q.weights?.[si] ?? 1;
      if (q.method === 'rrf') {
        src.slots.forEach((slot, rank) => fused.set(slot, (fused.get(slot) ?? 0) + w / (q.k + rank)));
        return;
      }
      const n = src.scores.length;
      if (n === 0) return;
      const mean = src.scores.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(src.scores.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      const lo = mean - 3 * sd;
      const hi = mean + 3 * sd;
      src.slots.forEach((slot, i) => {
        const norm = hi === lo ? 0.5 : Math.min(1, Math.max(0, (src.scores[i]! - lo) / (hi - lo)));
        fused.set(slot, (fused.get(slot) ?? 0) + norm);
      });
    });
    const heap = new TopK(limit, true);
    for (const [slot, score] of fused) {
      if (pred !== null && !pred(slot)) continue;
      if (threshold !== null && score < threshold) continue;
      heap.push(slot, score);
    }
    return heap.drain();
  }
}

/** Exact nearest-neighbour scan; `candidates` narrows it (index postings or prefetch results). */
function scan(column: VectorColumn, q: Float32Array, candidates: Iterable<number> | null, slotCount: number, pred: SlotPredicate | null, k: number, threshold: number | null): Ranked {
  const higher = higherIsBetter(column.distance);
  const heap = new TopK(k, higher);
  const present = column.present;
  const chunks = column.chunks;
  const dim = column.dim;
  const kind = column.distance === 'Cosine' || column.distance === 'Dot' ? 0 : column.distance === 'Euclid' ? 1 : 2;
  const lim = threshold === null ? (higher ? -Infinity : Infinity) : threshold;
  const consider = (chunk: Float32Array, off: number, slot: number) => {
    const score = kind === 0 ? dot(chunk, off, q, dim) : kind === 1 ? Math.sqrt(squaredL2(chunk, off, q, dim)) : l1(chunk, off, q, dim);
    if (higher ? score < lim : score > lim) return;
    heap.push(slot, score);
  };
  if (candidates === null) {
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      const base = c << CHUNK_BITS;
      const n = Math.min(CHUNK_SLOTS, slotCount - base, chunk.length / dim);
      for (let i = 0; i < n; i++) {
        const slot = base + i;
        if (present[slot] !== 1) continue;
        if (pred !== null && !pred(slot)) continue;
        consider(chunk, i * dim, slot);
      }
    }
  } else {
    for (const slot of candidates) {
      if (slot >= present.length || present[slot] !== 1) continue;
      if (pred !== null && !pred(slot)) continue;
      consider(chunks[slot >>> CHUNK_BITS]!, (slot & (CHUNK_SLOTS - 1)) * dim, slot);
    }
  }
  return heap.drain();
}

function sample(slots: number[], limit: number): Ranked {
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  const picked = slots.slice(0, limit);
  return { slots: picked, scores: picked.map(() => 0) };
}

function scoredPoints(col: Collection, ranked: Ranked, from: number, payload: PayloadSelector, vectors: VectorSelector): ScoredPointJson[] {
  const out: ScoredPointJson[] = [];
  for (let i = from; i < ranked.slots.length; i++) {
    const slot = ranked.slots[i]!;
    const rec: RecordJson = col.record(slot, payload, vectors);
    const p: ScoredPointJson = { id: rec.id, version: col.versions[slot] ?? 0, score: shortestF32(ranked.scores[i]!) };
    if (rec.payload !== undefined) p.payload = rec.payload;
    if (rec.vector !== undefined) p.vector = rec.vector;
    if (ranked.orderValues) p.order_value = ranked.orderValues[i]!;
    out.push(p);
  }
  return out;
}

interface RootRequest extends RawStage {
  offset?: number | null;
  with_payload?: unknown;
  with_vector?: unknown;
}

function plan(store: CollectionResolver, col: Collection, body: RootRequest): { stage: Stage; executor: Executor } {
  const planner = new QueryPlanner(store, col);
  const stage = planner.stage(body, 'query', 10);
  let root = stage.filter;
  if (planner.referenced.size > 0) {
    const excluded = new Set<number>();
    for (const id of planner.referenced) {
      const slot = col.slotOf(id);
      if (slot !== undefined) excluded.add(slot);
    }
    root = andPredicates(root, (slot) => !excluded.has(slot));
  }
  // The root's own filter becomes the propagated one; the stage keeps none of its own.
  return { stage: { ...stage, filter: null }, executor: new Executor(col, root, body.filter ?? null) };
}

export function query(store: CollectionResolver, col: Collection, body: RootRequest): { points: ScoredPointJson[] } {
  const { stage, executor } = plan(store, col, body);
  const offset = body.offset ?? 0;
  const ranked = executor.run(stage, stage.limit + offset);
  return { points: scoredPoints(col, ranked, offset, parseWithPayload(body.with_payload, false), parseWithVector(body.with_vector, false)) };
}

interface GroupsRequest extends RootRequest {
  group_by: string;
  group_size?: number | null;
  with_lookup?: string | { collection: string; with_payload?: unknown; with_vectors?: unknown } | null;
}

type GroupKey = string | number;

export function queryGroups(store: CollectionResolver, col: Collection, body: GroupsRequest): { groups: unknown[] } {
  const { stage, executor } = plan(store, col, body);
  const groupSize = body.group_size ?? 3;
  const groupCount = body.limit ?? 10;
  const segs = parsePath(body.group_by);
  const payload = parseWithPayload(body.with_payload, false);
  const vectors = parseWithVector(body.with_vector, false);
  // Exact search: widen the candidate list until the groups are full or the points run out.
  let want = Math.max(100, groupCount * groupSize * 4);
  let groups: Map<GroupKey, { slots: number[]; scores: number[] }>;
  for (;;) {
    const ranked = executor.run({ ...stage, limit: want }, want);
    groups = new Map();
    let complete = 0;
    for (let i = 0; i < ranked.slots.length; i++) {
      const slot = ranked.slots[i]!;
      const keys = new Set<GroupKey>();
      for (const v of valuesAt(col.payloadOf(slot), segs)) {
        if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) keys.add(v);
      }
      for (const key of keys) {
        let g = groups.get(key);
        if (!g) {
          if (groups.size >= groupCount) continue;
          groups.set(key, (g = { slots: [], scores: [] }));
        }
        if (g.slots.length < groupSize) {
          g.slots.push(slot);
          g.scores.push(ranked.scores[i]!);
          if (g.slots.length === groupSize) complete++;
        }
      }
      if (complete === groupCount) break;
    }
    if (complete === groupCount || ranked.slots.length < want || want >= col.liveCount) break;
    want *= 4;
  }
  const lookup = body.with_lookup ? (typeof body.with_lookup === 'string' ? { collection: body.with_lookup } : body.with_lookup) : null;
  const lookupCol = lookup ? store.resolve(lookup.collection) : null;
  const out: unknown[] = [];
  for (const [key, g] of groups) {
    const group: Record<string, unknown> = { id: key, hits: scoredPoints(col, g, 0, payload, vectors) };
    if (lookup && lookupCol) {
      let slot: number | undefined;
      try {
        slot = lookupCol.slotOf(parsePointId(key));
      } catch {
        slot = undefined;
      }
      if (slot !== undefined) {
        group.lookup = lookupCol.record(slot, parseWithPayload(lookup.with_payload, true), parseWithVector(lookup.with_vectors, false));
      }
    }
    out.push(group);
  }
  return { groups: out };
}
