/**
 * Payload paths as Qdrant writes them (`a.b`, `a[].b`, `a[0]`, `"dotted.key".c`) and the payload
 * operations built on them: value lookup for filters, set/delete by path, and response selectors.
 */
import { badRequest } from './errors.ts';

export type Payload = Record<string, unknown>;
export type PathSegment = { key: string } | { index: number } | { all: true };

const pathCache = new Map<string, PathSegment[]>();

export function parsePath(path: string): PathSegment[] {
  const cached = pathCache.get(path);
  if (cached) return cached;
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = () => badRequest(`Invalid payload key: ${JSON.stringify(path)}`);
  if (path.length === 0) throw fail();
  while (i < path.length) {
    if (path[i] === '"') {
      const end = path.indexOf('"', i + 1);
      if (end < 0) throw fail();
      segments.push({ key: path.slice(i + 1, end) });
      i = end + 1;
    } else {
      let j = i;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      if (j === i) throw fail();
      segments.push({ key: path.slice(i, j) });
      i = j;
    }
    while (i < path.length && path[i] === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) throw fail();
      const inner = path.slice(i + 1, end);
      if (inner === '') segments.push({ all: true });
      else if (/^\d+$/.test(inner)) segments.push({ index: Number(inner) });
      else throw fail();
      i = end + 1;
    }
    if (i < path.length) {
      if (path[i] !== '.') throw fail();
      i++;
      if (i === path.length) throw fail();
    }
  }
  if (pathCache.size > 10_000) pathCache.clear();
  pathCache.set(path, segments);
  return segments;
}

/** The raw values a path reaches (before flattening a final array); `[]` fans out. */
export function rawValuesAt(root: unknown, segments: PathSegment[]): unknown[] {
  let current: unknown[] = [root];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const v of current) {
      if ('key' in seg) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const child = (v as Payload)[seg.key];
          if (child !== undefined) next.push(child);
        }
      } else if ('index' in seg) {
        if (Array.isArray(v) && seg.index < v.length) next.push(v[seg.index]);
      } else if (Array.isArray(v)) {
        for (const el of v) next.push(el);
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

/** Values a condition sees: a final array is matched element by element, as Qdrant does. */
export function valuesAt(root: unknown, segments: PathSegment[]): unknown[] {
  const raw = rawValuesAt(root, segments);
  if (raw.length === 1 && !Array.isArray(raw[0])) return raw;
  const out: unknown[] = [];
  for (const v of raw) {
    if (Array.isArray(v)) for (const el of v) out.push(el);
    else out.push(v);
  }
  return out;
}

/** set_payload: merges `patch` at the top level, or into the object at `key` (created if absent). */
export function setPayload(target: Payload, patch: Payload, key?: string | null): Payload {
  if (!key) {
    for (const k of Object.keys(patch)) target[k] = structuredCloneJson(patch[k]);
    return target;
  }
  const segments = parsePath(key);
  let obj: Payload = target;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (!('key' in seg)) throw badRequest(`set_payload key ${JSON.stringify(key)}: only object keys are supported`);
    const child = obj[seg.key];
    if (child === null || typeof child !== 'object' || Array.isArray(child)) obj[seg.key] = {};
    obj = obj[seg.key] as Payload;
  }
  for (const k of Object.keys(patch)) obj[k] = structuredCloneJson(patch[k]);
  return target;
}

/** Removes the value at `path` (object keys and array elements alike). */
export function deleteAtPath(target: Payload, path: string): void {
  const segments = parsePath(path);
  let parents: unknown[] = [target];
  for (let i = 0; i < segments.length - 1; i++) {
    const next: unknown[] = [];
    for (const parent of parents) for (const child of rawValuesAt(parent, [segments[i]!])) next.push(child);
    parents = next;
    if (parents.length === 0) return;
  }
  const last = segments[segments.length - 1]!;
  for (const p of parents) {
    if ('key' in last) {
      if (p !== null && typeof p === 'object' && !Array.isArray(p)) delete (p as Payload)[last.key];
    } else if ('index' in last) {
      if (Array.isArray(p) && last.index < p.length) p.splice(last.index, 1);
    } else if (Array.isArray(p)) {
      p.length = 0;
    }
  }
}

function structuredCloneJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  return JSON.parse(JSON.stringify(v));
}

export type PayloadSelector = { kind: 'all' } | { kind: 'none' } | { kind: 'include'; paths: string[] } | { kind: 'exclude'; paths: string[] };

export function parseWithPayload(raw: unknown, dflt: boolean): PayloadSelector {
  if (raw === undefined || raw === null) return { kind: dflt ? 'all' : 'none' };
  if (raw === true) return { kind: 'all' };
  if (raw === false) return { kind: 'none' };
  if (Array.isArray(raw)) return { kind: 'include', paths: raw as string[] };
  const o = raw as { include?: string[]; exclude?: string[] };
  if (o.include) return { kind: 'include', paths: o.include };
  return { kind: 'exclude', paths: o.exclude ?? [] };
}

/** The payload as a response shows it; never returns the stored object itself. */
export function selectPayload(payload: Payload | null, selector: PayloadSelector): Payload | undefined {
  if (selector.kind === 'none') return undefined;
  const p = payload ?? {};
  if (selector.kind === 'all') return structuredCloneJson(p) as Payload;
  if (selector.kind === 'exclude') {
    const copy = structuredCloneJson(p) as Payload;
    for (const path of selector.paths) deleteAtPath(copy, path);
    return copy;
  }
  const out: Payload = {};
  for (const path of selector.paths) copyPath(p, out, parsePath(path));
  return out;
}

function copyPath(src: unknown, dst: Payload, segments: PathSegment[]): void {
  const first = segments[0];
  if (!first || !('key' in first)) return;
  if (src === null || typeof src !== 'object' || Array.isArray(src)) return;
  const value = (src as Payload)[first.key];
  if (value === undefined) return;
  if (segments.length === 1) {
    dst[first.key] = structuredCloneJson(value);
    return;
  }
  const rest = segments.slice(1);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const child = (dst[first.key] ??= {}) as Payload;
    copyPath(value, child, rest);
  } else if (Array.isArray(value) && rest[0] && 'all' in rest[0]) {
    const tail = rest.slice(1);
    dst[first.key] = value.map((el) => {
      if (tail.length === 0) return structuredCloneJson(el);
      const o: Payload = {};
      copyPath(el, o, tail);
      return o;
    });
  }
}
