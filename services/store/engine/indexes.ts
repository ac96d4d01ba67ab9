/**
 * Payload indexes. Keyword, integer, uuid and bool indexes keep postings (value → slots) so an
 * equality filter can start from the matching points instead of scanning all of them; every
 * index counts the points it covers (`payload_schema[...].points` in collection info) and tells
 * order_by whether the field supports ranges.
 */
import { normaliseUuid } from './ids.ts';
import { parseDatetime } from './filter.ts';
import { parsePath, valuesAt, type Payload, type PathSegment } from './payload.ts';

export const INDEX_TYPES = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'] as const;
export type IndexType = (typeof INDEX_TYPES)[number];

export interface IndexSchema {
  type: IndexType;
  /** The object form of field_schema (e.g. {type:"keyword", is_tenant:true}), echoed in info. */
  params: Record<string, unknown> | null;
}

export function parseIndexSchema(raw: unknown): IndexSchema {
  if (typeof raw === 'string') return { type: raw as IndexType, params: null };
  const o = raw as Record<string, unknown>;
  return { type: o.type as IndexType, params: { ...o } };
}

export class PayloadIndex {
  readonly key: string;
  readonly schema: IndexSchema;
  readonly segs: PathSegment[];
  /**
   * value → slots. A value held by one point (ids, hashes, source URIs: most values of such
   * fields) maps to the bare slot number; a Set is made only when a second point shares it.
   * Hundreds of thousands of one-element Sets would cost ~100 bytes each and time to build.
   */
  readonly postings: Map<unknown, number | Set<number>> | null;
  points = 0;

  constructor(key: string, schema: IndexSchema) {
    this.key = key;
    this.schema = schema;
    this.segs = parsePath(key);
    const t = schema.type;
    this.postings = t === 'keyword' || t === 'integer' || t === 'uuid' || t === 'bool' ? new Map() : null;
  }

  get type(): IndexType {
    return this.schema.type;
  }

  /** Integer (unless built with range:false), float and datetime indexes serve ranges and order_by. */
  get supportsRange(): boolean {
    if (this.type === 'integer') return this.schema.params?.range !== false;
    return this.type === 'float' || this.type === 'datetime';
  }

  /** The field's values this index accepts, in index form (uuids normalised). */
  indexedValues(payload: Payload | null): unknown[] {
    if (!payload) return [];
    const out: unknown[] = [];
    for (const v of valuesAt(payload, this.segs)) {
      switch (this.type) {
        case 'keyword':
        case 'text':
          if (typeof v === 'string') out.push(v);
          break;
        case 'integer':
          if (typeof v === 'number' && Number.isInteger(v)) out.push(v);
          break;
        case 'float':
          if (typeof v === 'number') out.push(v);
          break;
        case 'bool':
          if (typeof v === 'boolean') out.push(v);
          break;
        case 'uuid': {
          const u = typeof v === 'string' ? normaliseUuid(v) : undefined;
          if (u) out.push(u);
          break;
        }
        case 'datetime':
          if (parseDatetime(v) !== undefined) out.push(v);
          break;
        case 'geo':
          if (v !== null && typeof v === 'object' && 'lat' in v && 'lon' in v) out.push(v);
          break;
      }
    }
    return out;
  }

  add(slot: number, payload: Payload | null): void {
    const values = this.indexedValues(payload);
    if (values.length === 0) return;
    this.points++;
    if (!this.postings) return;
    for (const v of values) {
      const held = this.postings.get(v);
      if (held === undefined) this.postings.set(v, slot);
      else if (typeof held === 'number') {
        if (held !== slot) this.postings.set(v, new Set([held, slot]));
      } else held.add(slot);
    }
  }

  remove(slot: number, payload: Payload | null): void {
    const values = this.indexedValues(payload);
    if (values.length === 0) return;
    this.points--;
    if (!this.postings) return;
    for (const v of values) {
      const held = this.postings.get(v);
      if (held === undefined) continue;
      if (typeof held === 'number') {
        if (held === slot) this.postings.delete(v);
        continue;
      }
      held.delete(slot);
      if (held.size === 1) this.postings.set(v, held.values().next().value!);
      else if (held.size === 0) this.postings.delete(v);
    }
  }

  /** Slots holding any of `values`, or undefined when this index cannot answer equality. */
  lookup(values: unknown[]): Set<number> | undefined {
    if (!this.postings) return undefined;
    const slotsOf = (raw: unknown): number | Set<number> | undefined =>
      this.postings!.get(this.type === 'uuid' && typeof raw === 'string' ? normaliseUuid(raw) : raw);
    if (values.length === 1) {
      const held = slotsOf(values[0]);
      return held === undefined ? new Set() : typeof held === 'number' ? new Set([held]) : held;
    }
    const out = new Set<number>();
    for (const raw of values) {
      const held = slotsOf(raw);
      if (typeof held === 'number') out.add(held);
      else if (held) for (const s of held) out.add(s);
    }
    return out;
  }

  info(): { data_type: IndexType; params?: Record<string, unknown>; points: number } {
    return this.schema.params
      ? { data_type: this.type, params: this.schema.params, points: this.points }
      : { data_type: this.type, points: this.points };
  }
}
