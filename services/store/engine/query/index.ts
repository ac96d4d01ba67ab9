/**
 * The universal query API: `points/query` (and batch) and `points/query/groups`, answered in
 * Qdrant's shapes (ScoredPoint: id, version, score, payload/vector when asked, order_value).
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { andPredicates } from '../filter.ts';
import { parsePointId, type PointId } from '../ids.ts';
import { parsePath, parseWithPayload, valuesAt, type PayloadSelector } from '../payload.ts';
import { parseWithVector, type VectorSelector } from '../reads.ts';
import { shortestF32 } from '../vectors.ts';
import type { Collection } from '../collection.ts';
import { Executor } from './execute.ts';
import { QueryPlanner, type CollectionResolver, type RawStage, type Stage } from './plan.ts';
import type { Ranked } from './scorers.ts';

export type { CollectionResolver } from './plan.ts';

export interface ScoredPointJson {
  id: PointId;
  version: number;
  score: number;
  payload?: unknown;
  vector?: unknown;
  order_value?: number | string;
}

export type QueryRequest = Schemas['QueryRequest'];
export type QueryGroupsRequest = Schemas['QueryGroupsRequest'];

export function scoredPoints(col: Collection, ranked: Ranked, from: number, payload: PayloadSelector, vectors: VectorSelector): ScoredPointJson[] {
  const out: ScoredPointJson[] = [];
  for (let i = from; i < ranked.slots.length; i++) {
    const slot = ranked.slots[i]!;
    const rec = col.record(slot, payload, vectors);
    const p: ScoredPointJson = { id: rec.id, version: col.versions[slot] ?? 0, score: shortestF32(ranked.scores[i]!) };
    if (rec.payload !== undefined) p.payload = rec.payload;
    if (rec.vector !== undefined) p.vector = rec.vector;
    if (ranked.orderValues) p.order_value = ranked.orderValues[i]!;
    out.push(p);
  }
  return out;
}

function plan(store: CollectionResolver, col: Collection, body: QueryRequest): { stage: Stage; executor: Executor } {
  const planner = new QueryPlanner(store, col);
  const stage = planner.stage(body as RawStage, 'query', 10);
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

export function query(store: CollectionResolver, col: Collection, body: QueryRequest): { points: ScoredPointJson[] } {
  const { stage, executor } = plan(store, col, body);
  const offset = body.offset ?? 0;
  const ranked = executor.run(stage, stage.limit + offset);
  return { points: scoredPoints(col, ranked, offset, parseWithPayload(body.with_payload, false), parseWithVector(body.with_vector, false)) };
}

type GroupKey = string | number;

export function queryGroups(store: CollectionResolver, col: Collection, body: QueryGroupsRequest): { groups: unknown[] } {
  const { stage, executor } = plan(store, col, body as QueryRequest);
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
  const rawLookup = body.with_lookup;
  const lookup = rawLookup ? (typeof rawLookup === 'string' ? { collection: rawLookup } : (rawLookup as { collection: string; with_payload?: unknown; with_vectors?: unknown })) : null;
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
        group.lookup = lookupCol.record(slot, parseWithPayload(lookup.with_payload, true), parseWithVector((lookup as { with_vectors?: unknown }).with_vectors, false));
      }
    }
    out.push(group);
  }
  return { groups: out };
}
