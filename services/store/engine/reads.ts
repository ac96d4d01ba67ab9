/**
 * Reads that are not vector queries: records as responses show them, retrieve by ids, scroll
 * (by id, or ordered by an indexed payload field), count, and the index postings that narrow a
 * filtered read to the points an equality condition allows.
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, notFound } from './errors.ts';
import type { SlotPredicate } from './filter.ts';
import { comparePointIds, parsePointId, type PointId } from './ids.ts';
import { parseWithPayload, selectPayload, type Payload, type PayloadSelector } from './payload.ts';
import type { PointState } from './point-state.ts';

export interface RecordJson {
  id: PointId;
  payload?: Payload;
  vector?: unknown;
  order_value?: number | string;
}

export type VectorSelector = true | false | string[];

/** What reads need of a collection. */
export interface ReadContext {
  readonly state: PointState;
  readonly named: boolean;
  filter(raw: unknown, where?: string): SlotPredicate | null;
}

export function parseWithVector(raw: unknown, dflt: boolean): VectorSelector {
  if (raw === undefined || raw === null) return dflt;
  if (raw === true || raw === false) return raw;
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw as string[];
  throw badRequest('with_vector: expected true, false or a list of vector names');
}

export function record(c: ReadContext, slot: number, payload: PayloadSelector, vectors: VectorSelector): RecordJson {
  const { slots } = c.state;
  const out: RecordJson = { id: slots.slotIds[slot]! };
  const p = selectPayload(slots.payloads[slot] ?? null, payload);
  if (p !== undefined) out.payload = p;
  const v = vectorOutput(c, slot, vectors);
  if (v !== undefined) out.vector = v;
  return out;
}

/** The vectors a response shows: the bare unnamed vector, or an object of named ones. */
export function vectorOutput(c: ReadContext, slot: number, selector: VectorSelector): unknown {
  if (selector === false) return undefined;
  const storages = c.state.vectors;
  const onlyUnnamed = !c.named && storages.size === 1;
  if (onlyUnnamed && (selector === true || selector.includes(''))) {
    const storage = storages.get('')!;
    return storage.has(slot) ? storage.toJson(slot) : undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [name, storage] of storages) {
    if (selector !== true && !selector.includes(name)) continue;
    if (storage.has(slot)) out[name] = storage.toJson(slot);
  }
  return out;
}

export function retrieve(c: ReadContext, body: Schemas['PointRequest']): RecordJson[] {
  const payload = parseWithPayload(body.with_payload, true);
  const vectors = parseWithVector(body.with_vector, false);
  const out: RecordJson[] = [];
  const seen = new Set<number>();
  if (!Array.isArray(body.ids)) throw badRequest('ids: expected a list of point ids');
  body.ids.forEach((raw, i) => {
    const slot = c.state.slots.slotOf(parsePointId(raw, `ids[${i}]`));
    if (slot !== undefined && !seen.has(slot)) {
      seen.add(slot);
      out.push(record(c, slot, payload, vectors));
    }
  });
  return out;
}

export function getPoint(c: ReadContext, rawId: string): RecordJson {
  const id = /^\d+$/.test(rawId) ? Number(rawId) : rawId;
  const parsed = parsePointId(id, 'id');
  const slot = c.state.slots.slotOf(parsed);
  if (slot === undefined) throw notFound(`No point with id ${parsed} found`);
  return record(c, slot, { kind: 'all' }, true);
}

/** Live slots passing `pred`, starting from index postings where the filter allows. */
export function* matching(c: ReadContext, filterJson: unknown, pred: SlotPredicate | null): IterableIterator<number> {
  const { slots } = c.state;
  const candidates = pred === null ? null : candidateSlots(c, [filterJson]);
  if (candidates) {
    for (const s of candidates) if (slots.alive[s] === 1 && pred!(s)) yield s;
    return;
  }
  for (let s = 0; s < slots.slotCount; s++) if (slots.alive[s] === 1 && (pred === null || pred(s))) yield s;
}

export function count(c: ReadContext, body: Schemas['CountRequest']): { count: number } {
  const pred = c.filter(body.filter);
  if (pred === null) return { count: c.state.slots.liveCount };
  let n = 0;
  for (const _ of matching(c, body.filter, pred)) n++;
  return { count: n };
}

/**
 * The smallest set of slots an equality condition in the filters' top-level `must` allows
 * (from a keyword/integer/uuid/bool index, or has_id); null when there is none and every
 * point must be examined. Candidates still have to pass the full filter.
 */
export function candidateSlots(c: ReadContext, filters: unknown[]): Set<number> | null {
  let best: Set<number> | null = null;
  for (const f of filters) {
    if (!f || typeof f !== 'object') continue;
    const must = (f as { must?: unknown }).must;
    const list = Array.isArray(must) ? must : must ? [must] : [];
    for (const cond0 of list) {
      const cond = cond0 as { key?: string; match?: { value?: unknown; any?: unknown[] } | null; has_id?: unknown[] };
      let set: Set<number> | undefined;
      if (Array.isArray(cond.has_id)) {
        set = new Set();
        for (const raw of cond.has_id) {
          const slot = c.state.slots.slotOf(parsePointId(raw, 'has_id'));
          if (slot !== undefined) set.add(slot);
        }
      } else if (typeof cond.key === 'string' && cond.match && typeof cond.match === 'object') {
        const index = c.state.indexes.get(cond.key);
        if (!index) continue;
        const values = 'value' in cond.match ? [cond.match.value] : Array.isArray(cond.match.any) ? cond.match.any : [];
        // Postings hold only values of the index's type; other types must take the scan.
        const want = index.type === 'integer' ? 'number' : index.type === 'bool' ? 'boolean' : 'string';
        if (values.length === 0 || !values.every((v) => typeof v === want)) continue;
        set = index.lookup(values);
      }
      if (set && (best === null || set.size < best.size)) best = set;
    }
  }
  return best;
}

export function scroll(c: ReadContext, body: Schemas['ScrollRequest']): { points: RecordJson[]; next_page_offset: PointId | null } {
  const limit = body.limit ?? 10;
  const payload = parseWithPayload(body.with_payload, true);
  const vectors = parseWithVector(body.with_vector, false);
  const pred = c.filter(body.filter);
  const { slots } = c.state;
  if (body.order_by !== undefined && body.order_by !== null) {
    if (body.offset !== undefined && body.offset !== null) throw badRequest('Cannot use an `offset` when using `order_by`');
    const ordered = orderBy(c, body.order_by, pred);
    const points = ordered.slice(0, limit).map(({ slot, value }) => ({ ...record(c, slot, payload, vectors), order_value: value }));
    return { points, next_page_offset: null };
  }
  const sorted = slots.sorted();
  let start = 0;
  if (body.offset !== undefined && body.offset !== null) {
    const from = parsePointId(body.offset, 'offset');
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePointIds(slots.slotIds[sorted[mid]!]!, from) < 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const points: RecordJson[] = [];
  let next: PointId | null = null;
  for (let i = start; i < sorted.length; i++) {
    const s = sorted[i]!;
    if (pred !== null && !pred(s)) continue;
    if (points.length === limit) {
      next = slots.slotIds[s]!;
      break;
    }
    points.push(record(c, s, payload, vectors));
  }
  return { points, next_page_offset: next };
}

/** Points ordered by a payload field with a range index; one entry per point. */
export function orderBy(c: ReadContext, raw: unknown, pred: SlotPredicate | null): Array<{ slot: number; value: number | string }> {
  const spec = typeof raw === 'string' ? { key: raw } : (raw as { key: string; direction?: string | null; start_from?: unknown });
  if (!spec || typeof spec.key !== 'string') throw badRequest('order_by: expected a payload key or {"key": …}');
  const index = c.state.indexes.get(spec.key);
  if (!index || !index.supportsRange) {
    throw badRequest(
      `No range index for \`order_by\` key: \`${spec.key}\`. Please create one to use \`order_by\`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions`,
    );
  }
  const desc = spec.direction === 'desc';
  const isDate = index.type === 'datetime';
  const toNum = (v: unknown) => (isDate ? Date.parse(String(v)) : (v as number));
  let from: number | undefined;
  if (spec.start_from !== undefined && spec.start_from !== null) {
    from = typeof spec.start_from === 'string' ? Date.parse(spec.start_from) : (spec.start_from as number);
  }
  const { slots } = c.state;
  const rows: Array<{ slot: number; value: number | string; key: number }> = [];
  for (let s = 0; s < slots.slotCount; s++) {
    if (slots.alive[s] !== 1 || (pred !== null && !pred(s))) continue;
    const values = index.indexedValues(slots.payloads[s] ?? null);
    if (values.length === 0) continue;
    let best: { value: number | string; key: number } | undefined;
    for (const v of values) {
      const key = toNum(v);
      if (from !== undefined && (desc ? key > from : key < from)) continue;
      if (!best || (desc ? key > best.key : key < best.key)) best = { value: v as number | string, key };
    }
    if (best) rows.push({ slot: s, ...best });
  }
  rows.sort((a, b) => (desc ? b.key - a.key : a.key - b.key) || comparePointIds(slots.slotIds[a.slot]!, slots.slotIds[b.slot]!));
  return rows.map(({ slot, value }) => ({ slot, value: isDate ? new Date(Date.parse(String(value))).toISOString() : value }));
}
