/**
 * Formula queries (Qdrant's score boosting): an expression evaluated per prefetched point over
 * `$score` / `$score[i]` (the point's score in prefetch i, 0 when absent from it), payload
 * values (numbers; the first of an array; else `defaults`), conditions (1 when the point matches,
 * else 0), geo distances in metres, datetimes as epoch seconds, arithmetic and decays:
 *   lin_decay   max(0, 1 − (1 − midpoint)·|x − target| / scale)
 *   exp_decay   exp(ln(midpoint)·|x − target| / scale)
 *   gauss_decay exp(ln(midpoint)·(x − target)² / scale²)
 * (target 0, scale 1, midpoint 0.5 by default). A non-finite result is an error, as in Qdrant.
 */
import { badRequest } from '../errors.ts';
import { compileFilter, haversineMetres, parseDatetime, type FilterJson, type FilterTarget } from '../filter.ts';
import { parsePath, valuesAt, type PathSegment } from '../payload.ts';

/** An evaluator for one point: its slot and its score in each prefetch. */
export type Formula = (slot: number, scores: (number | undefined)[]) => number;

type Defaults = Record<string, unknown>;

export function parseFormula(target: FilterTarget, raw: unknown, defaults: Defaults, where: string): Formula {
  if (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults)) throw badRequest(`${where}: defaults must be an object`);
  const f = compile(target, raw, defaults, where);
  return (slot, scores) => {
    const v = f(slot, scores);
    if (!Number.isFinite(v)) throw badRequest(`${where}: the formula gave a non-finite number (${v}) for a point`);
    return v;
  };
}

function compile(target: FilterTarget, raw: unknown, defaults: Defaults, where: string): Formula {
  if (typeof raw === 'number') return () => raw;
  if (typeof raw === 'string') return variable(target, raw, defaults, where);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`${where}: expected an expression`);
  const e = raw as Record<string, unknown>;
  const sub = (x: unknown, w: string) => compile(target, x, defaults, w);
  if ('sum' in e || 'mult' in e) {
    const key = 'sum' in e ? 'sum' : 'mult';
    const list = e[key];
    if (!Array.isArray(list)) throw badRequest(`${where}.${key}: expected a list of expressions`);
    const parts = list.map((x, i) => sub(x, `${where}.${key}[${i}]`));
    if (key === 'sum') return (s, sc) => parts.reduce((a, p) => a + p(s, sc), 0);
    return (s, sc) => parts.reduce((a, p) => a * p(s, sc), 1);
  }
  if ('neg' in e) {
    const x = sub(e.neg, `${where}.neg`);
    return (s, sc) => -x(s, sc);
  }
  if ('abs' in e) {
    const x = sub(e.abs, `${where}.abs`);
    return (s, sc) => Math.abs(x(s, sc));
  }
  if ('sqrt' in e) {
    const x = sub(e.sqrt, `${where}.sqrt`);
    return (s, sc) => Math.sqrt(x(s, sc));
  }
  if ('exp' in e) {
    const x = sub(e.exp, `${where}.exp`);
    return (s, sc) => Math.exp(x(s, sc));
  }
  if ('log10' in e) {
    const x = sub(e.log10, `${where}.log10`);
    return (s, sc) => Math.log10(x(s, sc));
  }
  if ('ln' in e) {
    const x = sub(e.ln, `${where}.ln`);
    return (s, sc) => Math.log(x(s, sc));
  }
  if ('pow' in e) {
    const p = e.pow as { base: unknown; exponent: unknown };
    const base = sub(p?.base, `${where}.pow.base`);
    const exponent = sub(p?.exponent, `${where}.pow.exponent`);
    return (s, sc) => Math.pow(base(s, sc), exponent(s, sc));
  }
  if ('div' in e) {
    const d = e.div as { left: unknown; right: unknown; by_zero_default?: number | null };
    const left = sub(d?.left, `${where}.div.left`);
    const right = sub(d?.right, `${where}.div.right`);
    const dflt = d?.by_zero_default;
    return (s, sc) => {
      const r = right(s, sc);
      if (r === 0 && dflt !== undefined && dflt !== null) return dflt;
      return left(s, sc) / r;
    };
  }
  for (const kind of ['lin_decay', 'exp_decay', 'gauss_decay'] as const) {
    if (!(kind in e)) continue;
    const d = e[kind] as { x: unknown; target?: unknown; scale?: number | null; midpoint?: number | null };
    const x = sub(d?.x, `${where}.${kind}.x`);
    const t = d?.target === undefined || d.target === null ? () => 0 : sub(d.target, `${where}.${kind}.target`);
    const scale = d?.scale ?? 1;
    const midpoint = d?.midpoint ?? 0.5;
    if (!(scale > 0)) throw badRequest(`${where}.${kind}.scale: must be a positive number`);
    if (kind === 'lin_decay' ? !(midpoint >= 0 && midpoint <= 1) : !(midpoint > 0 && midpoint < 1)) throw badRequest(`${where}.${kind}.midpoint: must be between 0 and 1`);
    if (kind === 'lin_decay') return (s, sc) => Math.max(0, 1 - ((1 - midpoint) * Math.abs(x(s, sc) - t(s, sc))) / scale);
    const lambda = Math.log(midpoint);
    if (kind === 'exp_decay') return (s, sc) => Math.exp((lambda * Math.abs(x(s, sc) - t(s, sc))) / scale);
    return (s, sc) => Math.exp((lambda * (x(s, sc) - t(s, sc)) ** 2) / (scale * scale));
  }
  if ('geo_distance' in e) {
    const g = e.geo_distance as { origin: { lat: number; lon: number }; to: string };
    if (!g || !g.origin || typeof g.to !== 'string') throw badRequest(`${where}.geo_distance: expected {origin: {lat, lon}, to: "<payload key>"}`);
    const segs = parsePath(g.to);
    return (slot) => {
      const point = valuesAt(target.payloadOf(slot), segs).find((v): v is { lat: number; lon: number } => v !== null && typeof v === 'object' && typeof (v as { lat?: unknown }).lat === 'number');
      if (point) return haversineMetres(g.origin, point);
      return fromDefaults(defaults, g.to, where);
    };
  }
  if ('datetime' in e) {
    const t = parseDatetime(e.datetime);
    if (t === undefined) throw badRequest(`${where}.datetime: not a datetime: ${JSON.stringify(e.datetime)}`);
    return () => t / 1000;
  }
  if ('datetime_key' in e) {
    if (typeof e.datetime_key !== 'string') throw badRequest(`${where}.datetime_key: expected a payload key`);
    const key = e.datetime_key;
    const segs = parsePath(key);
    return (slot) => {
      for (const v of valuesAt(target.payloadOf(slot), segs)) {
        const t = parseDatetime(v);
        if (t !== undefined) return t / 1000;
      }
      const d = defaults[key];
      const t = parseDatetime(d);
      if (t !== undefined) return t / 1000;
      return fromDefaults(defaults, key, where);
    };
  }
  // Anything else is a filter condition: 1 when the point satisfies it.
  const pred = compileFilter({ must: [e] } as FilterJson, target, `${where}.condition`);
  return (slot) => (pred!(slot) ? 1 : 0);
}

function variable(target: FilterTarget, name: string, defaults: Defaults, where: string): Formula {
  const score = /^\$score(?:\[(\d+)\])?$/.exec(name);
  if (score) {
    const i = score[1] === undefined ? 0 : Number(score[1]);
    const dflt = defaults[name] ?? (i === 0 ? defaults.$score : undefined);
    const fallback = typeof dflt === 'number' ? dflt : 0;
    return (_slot, scores) => scores[i] ?? fallback;
  }
  const segs: PathSegment[] = parsePath(name);
  return (slot) => {
    for (const v of valuesAt(target.payloadOf(slot), segs)) if (typeof v === 'number') return v;
    return fromDefaults(defaults, name, where);
  };
}

function fromDefaults(defaults: Defaults, key: string, where: string): number {
  const d = defaults[key];
  if (typeof d === 'number') return d;
  throw badRequest(`${where}: Expected number value for ${key} in the payload and/or in the formula defaults`);
}
