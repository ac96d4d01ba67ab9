/**
 * Qdrant filters compiled into predicates over stored points. A condition on a field holds when
 * any of the field's values satisfies it (arrays match element-wise); `nested` evaluates a whole
 * sub-filter against each element of an array of objects.
 */
import { badRequest, validationError } from './errors.ts';
import { compileGeoPolygon, type GeoPolygonJson } from './geo.ts';
import { parsePointId, type PointId } from './ids.ts';
import { parsePath, rawValuesAt, valuesAt, type Payload, type PathSegment } from './payload.ts';

export interface FilterTarget {
  payloadOf(slot: number): Payload | null;
  slotOf(id: PointId): number | undefined;
  hasVector(name: string, slot: number): boolean;
  isVectorName(name: string): boolean;
  /** Whether `key` has a full-text index (then `match.text` matches tokens, not substrings). */
  isTextIndexed(key: string): boolean;
}

/** Predicate on a payload object; `slot` is -1 inside `nested` (no id or vectors there). */
type Check = (payload: Payload | null, slot: number) => boolean;
export type SlotPredicate = (slot: number) => boolean;

export interface FilterJson {
  must?: unknown;
  should?: unknown;
  must_not?: unknown;
  min_should?: { conditions: unknown[]; min_count: number } | null;
}

export function compileFilter(filter: FilterJson | null | undefined, target: FilterTarget, where = 'filter'): SlotPredicate | null {
  if (!filter) return null;
  const check = compileFilterCheck(filter, target, where, false);
  return (slot) => check(target.payloadOf(slot), slot);
}

/** Both predicates must hold; either may be absent. */
export function andPredicates(a: SlotPredicate | null, b: SlotPredicate | null): SlotPredicate | null {
  if (!a) return b;
  if (!b) return a;
  return (slot) => a(slot) && b(slot);
}

function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function compileFilterCheck(filter: FilterJson, target: FilterTarget, where: string, nested: boolean): Check {
  const must = asList(filter.must).map((c, i) => compileCondition(c, target, `${where}.must[${i}]`, nested));
  const should = asList(filter.should).map((c, i) => compileCondition(c, target, `${where}.should[${i}]`, nested));
  const mustNot = asList(filter.must_not).map((c, i) => compileCondition(c, target, `${where}.must_not[${i}]`, nested));
  const min = filter.min_should;
  const minConds = min ? min.conditions.map((c, i) => compileCondition(c, target, `${where}.min_should.conditions[${i}]`, nested)) : [];
  const minCount = min ? min.min_count : 0;
  return (p, slot) => {
    for (const c of must) if (!c(p, slot)) return false;
    if (should.length > 0) {
      let any = false;
      for (const c of should) {
        if (c(p, slot)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    for (const c of mustNot) if (c(p, slot)) return false;
    if (minConds.length > 0) {
      let n = 0;
      for (const c of minConds) if (c(p, slot) && ++n >= minCount) break;
      if (n < minCount) return false;
    }
    return true;
  };
}

const FILTER_KEYS = new Set(['must', 'should', 'must_not', 'min_should']);

function compileCondition(raw: unknown, target: FilterTarget, where: string, nested: boolean): Check {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`${where}: a condition must be an object`);
  const c = raw as Record<string, unknown>;
  if ('has_id' in c) {
    if (nested) throw badRequest(`${where}: has_id is not allowed inside a nested condition`);
    const slots = new Set<number>();
    for (const id of asList(c.has_id)) {
      const slot = target.slotOf(parsePointId(id, `${where}.has_id`));
      if (slot !== undefined) slots.add(slot);
    }
    return (_p, slot) => slots.has(slot);
  }
  if ('has_vector' in c) {
    const name = String(c.has_vector);
    if (!target.isVectorName(name)) throw badRequest(`${where}: Not existing vector name error: ${name}`);
    return (_p, slot) => slot >= 0 && target.hasVector(name, slot);
  }
  if ('is_empty' in c) {
    const segs = parsePath(fieldKey(c.is_empty, where));
    return (p) => isEmpty(p, segs);
  }
  if ('is_null' in c) {
    const segs = parsePath(fieldKey(c.is_null, where));
    return (p) => isNull(p, segs);
  }
  if ('nested' in c) {
    const n = c.nested as { key: string; filter: FilterJson };
    const segs = parsePath(n.key.endsWith('[]') ? n.key : `${n.key}[]`);
    const inner = compileFilterCheck(n.filter, target, `${where}.nested.filter`, true);
    return (p) => {
      for (const el of rawValuesAt(p, segs)) {
        if (el !== null && typeof el === 'object' && !Array.isArray(el) && inner(el as Payload, -1)) return true;
      }
      return false;
    };
  }
  if ('key' in c) return compileFieldCondition(c, target, where);
  // A filter is a condition too, the empty one ({}) included: it holds for every point.
  if (Object.keys(c).every((k) => FILTER_KEYS.has(k))) return compileFilterCheck(c as FilterJson, target, where, nested);
  throw badRequest(`${where}: unknown condition ${JSON.stringify(Object.keys(c))}`);
}

function fieldKey(v: unknown, where: string): string {
  const key = (v as { key?: unknown } | null)?.key;
  if (typeof key !== 'string') throw badRequest(`${where}: expected {"key": "<payload key>"}`);
  return key;
}

function isEmpty(p: Payload | null, segs: PathSegment[]): boolean {
  for (const v of valuesAt(p, segs)) if (v !== null) return false;
  return true;
}

function isNull(p: Payload | null, segs: PathSegment[]): boolean {
  const raw = rawValuesAt(p, segs);
  if (raw.length === 0) return false;
  for (const v of raw) if (v !== null) return false;
  return true;
}

interface RangeBounds {
  lt?: number | null;
  gt?: number | null;
  gte?: number | null;
  lte?: number | null;
}

function compileFieldCondition(c: Record<string, unknown>, target: FilterTarget, where: string): Check {
  const key = c.key as string;
  const segs = parsePath(key);
  const checks: Array<(values: unknown[], p: Payload | null) => boolean> = [];
  const m = c.match as Record<string, unknown> | null | undefined;
  if (m) checks.push(compileMatch(m, key, target, where));
  const r = c.range as Record<string, unknown> | null | undefined;
  if (r) checks.push(compileRange(r, where));
  if (c.values_count) {
    const b = c.values_count as RangeBounds;
    checks.push((values) => inBounds(values.length, b));
  }
  if (c.geo_radius) {
    const g = c.geo_radius as { center: { lat: number; lon: number }; radius: number };
    checks.push((values) => values.some((v) => isGeo(v) && haversineMetres(g.center, v) <= g.radius));
  }
  if (c.geo_bounding_box) {
    const g = c.geo_bounding_box as { top_left: { lat: number; lon: number }; bottom_right: { lat: number; lon: number } };
    checks.push((values) =>
      values.some((v) => {
        if (!isGeo(v)) return false;
        const inLat = v.lat <= g.top_left.lat && v.lat >= g.bottom_right.lat;
        const inLon = g.top_left.lon <= g.bottom_right.lon ? v.lon >= g.top_left.lon && v.lon <= g.bottom_right.lon : v.lon >= g.top_left.lon || v.lon <= g.bottom_right.lon;
        return inLat && inLon;
      }),
    );
  }
  if (c.geo_polygon) {
    const inside = compileGeoPolygon(c.geo_polygon as GeoPolygonJson, `${where}.geo_polygon`);
    checks.push((values) => values.some((v) => isGeo(v) && inside(v)));
  }
  if (c.is_empty === true || c.is_empty === false) {
    const want = c.is_empty;
    checks.push((_values, p) => isEmpty(p, segs) === want);
  }
  if (c.is_null === true || c.is_null === false) {
    const want = c.is_null;
    checks.push((_values, p) => isNull(p, segs) === want);
  }
  if (checks.length === 0) {
    throw validationError(where, 'At least one field condition must be specified');
  }
  return (p) => {
    const values = valuesAt(p, segs);
    for (const check of checks) if (!check(values, p)) return false;
    return true;
  };
}

function compileMatch(m: Record<string, unknown>, key: string, target: FilterTarget, where: string): (values: unknown[]) => boolean {
  if ('value' in m) {
    const want = m.value;
    return (values) => {
      for (const v of values) if (v === want) return true;
      return false;
    };
  }
  if ('any' in m) {
    const set = new Set(m.any as unknown[]);
    return (values) => {
      for (const v of values) if ((typeof v === 'string' || isInt(v)) && set.has(v)) return true;
      return false;
    };
  }
  if ('except' in m) {
    const list = m.except as unknown[];
    const set = new Set(list);
    const strings = list.length === 0 || typeof list[0] === 'string';
    return (values) => {
      for (const v of values) {
        if (v === null) continue;
        if (typeof v === 'string') {
          if (!strings || !set.has(v)) return true;
        } else if (typeof v === 'number') {
          if (strings || !isInt(v) || !set.has(v)) return true;
        } else {
          return true;
        }
      }
      return false;
    };
  }
  if ('text' in m || 'phrase' in m || 'text_any' in m) {
    const text = String(m.text ?? m.phrase ?? m.text_any);
    if (target.isTextIndexed(key)) {
      const wanted = tokens(text);
      const any = 'text_any' in m;
      return (values) => {
        for (const v of values) {
          if (typeof v !== 'string') continue;
          const have = new Set(tokens(v));
          if (any ? wanted.some((t) => have.has(t)) : wanted.every((t) => have.has(t))) return true;
        }
        return false;
      };
    }
    return (values) => {
      for (const v of values) if (typeof v === 'string' && v.includes(text)) return true;
      return false;
    };
  }
  if ('prefix' in m) {
    const prefix = String(m.prefix);
    return (values) => values.some((v) => typeof v === 'string' && v.startsWith(prefix));
  }
  throw badRequest(`${where}.match: unknown match ${JSON.stringify(Object.keys(m))}`);
}

function compileRange(r: Record<string, unknown>, where: string): (values: unknown[]) => boolean {
  const bounds = Object.values(r).filter((v) => v !== null && v !== undefined);
  const isDatetime = bounds.some((v) => typeof v === 'string');
  if (!isDatetime) {
    const b = r as RangeBounds;
    return (values) => {
      for (const v of values) if (typeof v === 'number' && inBounds(v, b)) return true;
      return false;
    };
  }
  const b: RangeBounds = {};
  for (const k of ['lt', 'gt', 'gte', 'lte'] as const) {
    const v = r[k];
    if (v === null || v === undefined) continue;
    const t = parseDatetime(v);
    if (t === undefined) throw badRequest(`${where}.range.${k}: not a datetime: ${JSON.stringify(v)}`);
    b[k] = t;
  }
  return (values) => {
    for (const v of values) {
      const t = parseDatetime(v);
      if (t !== undefined && inBounds(t, b)) return true;
    }
    return false;
  };
}

function inBounds(x: number, b: RangeBounds): boolean {
  if (b.lt !== undefined && b.lt !== null && !(x < b.lt)) return false;
  if (b.gt !== undefined && b.gt !== null && !(x > b.gt)) return false;
  if (b.lte !== undefined && b.lte !== null && !(x <= b.lte)) return false;
  if (b.gte !== undefined && b.gte !== null && !(x >= b.gte)) return false;
  return true;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isGeo(v: unknown): v is { lat: number; lon: number } {
  return v !== null && typeof v === 'object' && typeof (v as { lat?: unknown }).lat === 'number' && typeof (v as { lon?: unknown }).lon === 'number';
}

export function haversineMetres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Milliseconds since the epoch; a datetime without an offset is UTC, as in Qdrant. */
export function parseDatetime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v.trim();
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s = s.replace(' ', 'T') + 'Z';
  else if (/^\d{4}-\d{2}-\d{2} \d/.test(s)) s = s.replace(' ', 'T');
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

export function tokens(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t.length > 0);
}
