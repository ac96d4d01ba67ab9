/**
 * Sparse vectors for one named vector: each slot's vector (indices sorted) and an inverted index
 * — a posting list per index ("term") of (slot, value) — so a query touches only the points that
 * share a term with it. Scores are dot products over the shared indices, as in Qdrant; with
 * `modifier: idf` the query's weights are multiplied by each term's IDF from the current
 * document frequencies (Qdrant's formula: ln((N − df + 0.5) / (df + 0.5) + 1), N = points that
 * have this vector).
 *
 * Postings are append-only: a rewritten or deleted vector leaves stale entries behind, told apart
 * by a per-slot generation number and swept out once they are half of a list. Search is exact
 * top-k with pruning: terms go in order of the most they can add; once the k-th best partial score
 * beats everything the remaining terms could give a point not yet seen, the remaining (typically
 * long, low-IDF) lists are not walked — the points already seen are finished off from their own
 * vectors instead.
 */
import { badRequest, validationError, wrongInput } from './errors.ts';
import type { SlotPredicate } from './filter.ts';
import { TopK } from './topk.ts';
import { shortestF32 } from './vectors.ts';
import type { SparseVector, VectorStorage, VectorValue } from './vector-storage.ts';

export interface SparseParamsJson {
  index?: { full_scan_threshold?: number | null; on_disk?: boolean | null; [extra: string]: unknown } | null;
  modifier?: 'none' | 'idf' | null;
  [extra: string]: unknown;
}

/** Qdrant's default: below this many candidate points a filtered sparse query scores them directly. */
export const SPARSE_FULL_SCAN_THRESHOLD = 5000;
const MAX_INDEX = 0xffffffff;

class Posting {
  slots = new Int32Array(4);
  values = new Float32Array(4);
  gens = new Uint32Array(4);
  n = 0;
  dead = 0;
  /** Bounds of the values ever held (still bounds after removals). */
  max = -Infinity;
  min = Infinity;

  push(slot: number, value: number, gen: number): void {
    if (this.n === this.slots.length) {
      const cap = this.n * 2;
      const s = new Int32Array(cap);
      s.set(this.slots);
      const v = new Float32Array(cap);
      v.set(this.values);
      const g = new Uint32Array(cap);
      g.set(this.gens);
      this.slots = s;
      this.values = v;
      this.gens = g;
    }
    this.slots[this.n] = slot;
    this.values[this.n] = value;
    this.gens[this.n] = gen;
    this.n++;
    if (value > this.max) this.max = value;
    if (value < this.min) this.min = value;
  }

  get live(): number {
    return this.n - this.dead;
  }

  /** Drops stale entries (their slot's generation moved on). */
  sweep(current: Uint32Array): void {
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      const slot = this.slots[i]!;
      if (current[slot] !== this.gens[i]) continue;
      this.slots[w] = slot;
      this.values[w] = this.values[i]!;
      this.gens[w] = this.gens[i]!;
      w++;
    }
    this.n = w;
    this.dead = 0;
  }
}

/** A sparse search returns only points sharing at least one index with the query, as Qdrant's. */
export interface SparseSearch {
  k: number;
  pred: SlotPredicate | null;
  threshold: number | null;
  /** Points to score (index postings of a filter, prefetch results) instead of the whole index. */
  candidates?: Iterable<number> | null;
  /** Score every point with this vector directly (Qdrant's `params.exact`). */
  exact?: boolean;
}

export class SparseVectors implements VectorStorage {
  readonly kind = 'sparse' as const;
  readonly params: SparseParamsJson;
  private vectors: (SparseVector | undefined)[] = [];
  /** Generation of each slot's current vector; posting entries of another generation are stale. */
  private gen = new Uint32Array(16);
  private readonly postings = new Map<number, Posting>();
  count = 0;
  private storedValues = 0;
  // Scratch for term-at-a-time accumulation, reused across queries.
  private acc = new Float64Array(0);
  private stamp = new Uint32Array(0);
  private touched = new Int32Array(0);
  private query = 0;

  constructor(params: SparseParamsJson) {
    this.params = params;
  }

  get idf(): boolean {
    return this.params.modifier === 'idf';
  }

  get fullScanThreshold(): number {
    return this.params.index?.full_scan_threshold ?? SPARSE_FULL_SCAN_THRESHOLD;
  }

  ensureCapacity(slots: number): void {
    if (this.gen.length >= slots) return;
    let n = this.gen.length;
    while (n < slots) n *= 2;
    const g = new Uint32Array(n);
    g.set(this.gen);
    this.gen = g;
  }

  has(slot: number): boolean {
    return this.vectors[slot] !== undefined;
  }

  prepare(raw: unknown, where: string, name: string): SparseVector {
    if (Array.isArray(raw) || raw instanceof Float32Array || raw === null || typeof raw !== 'object' || !('indices' in raw)) {
      throw wrongInput(`${where}: vector ${JSON.stringify(name)} is a sparse vector: send {"indices": [...], "values": [...]}`);
    }
    return parseSparse(raw as { indices: unknown; values?: unknown }, where);
  }

  set(slot: number, value: VectorValue): void {
    if (value instanceof Float32Array) throw new Error('a dense value cannot go into a sparse vector');
    this.clear(slot);
    this.ensureCapacity(slot + 1);
    // Stored as a copy: a replayed value is a view into a log frame.
    const v: SparseVector = { indices: Uint32Array.from(value.indices), values: Float32Array.from(value.values) };
    const g = ++this.gen[slot]!;
    for (let i = 0; i < v.indices.length; i++) {
      let p = this.postings.get(v.indices[i]!);
      if (!p) this.postings.set(v.indices[i]!, (p = new Posting()));
      p.push(slot, v.values[i]!, g);
    }
    this.vectors[slot] = v;
    this.count++;
    this.storedValues += v.indices.length;
  }

  clear(slot: number): void {
    const v = this.vectors[slot];
    if (!v) return;
    this.gen[slot]!++;
    for (const t of v.indices) {
      const p = this.postings.get(t)!;
      p.dead++;
      if (p.live === 0) this.postings.delete(t);
      else if (p.dead * 2 > p.n && p.n >= 8) p.sweep(this.gen);
    }
    this.vectors[slot] = undefined;
    this.count--;
    this.storedValues -= v.indices.length;
  }

  get(slot: number): SparseVector {
    return this.vectors[slot]!;
  }

  toJson(slot: number): { indices: number[]; values: number[] } {
    const v = this.vectors[slot]!;
    return { indices: Array.from(v.indices), values: Array.from(v.values, shortestF32) };
  }

  loggedBytes(slot: number): number {
    return 4 + (this.vectors[slot]?.indices.length ?? 0) * 8;
  }

  storedBytes(): number {
    return this.storedValues * 8;
  }

  /** Points whose vector holds index `term` (the document frequency IDF uses). */
  documentFrequency(term: number): number {
    return this.postings.get(term)?.live ?? 0;
  }

  /** The query as scored: weights times IDF under `modifier: idf`, else as given. */
  weigh(query: SparseVector): SparseVector {
    if (!this.idf) return query;
    const n = this.count;
    const values = new Float32Array(query.values.length);
    for (let i = 0; i < values.length; i++) {
      const df = this.documentFrequency(query.indices[i]!);
      values[i] = query.values[i]! * Math.log((n - df + 0.5) / (df + 0.5) + 1);
    }
    return { indices: query.indices, values };
  }

  /** Dot product of a slot's vector with a (sorted) query; NaN when they share no index. */
  score(slot: number, q: SparseVector): number {
    const v = this.vectors[slot];
    if (!v) return NaN;
    return sparseDot(v, q);
  }

  /** Top k by dot product with `query` (already weighed), best first. */
  search(query: SparseVector, opts: SparseSearch): { slots: number[]; scores: number[] } {
    const heap = new TopK(opts.k, true);
    const { pred, threshold } = opts;
    const consider = (slot: number, score: number) => {
      if (Number.isNaN(score) || (threshold !== null && score < threshold)) return;
      heap.push(slot, score);
    };
    if (opts.candidates) {
      for (const slot of opts.candidates) {
        if (!this.vectors[slot] || (pred !== null && !pred(slot))) continue;
        consider(slot, this.score(slot, query));
      }
      return heap.drain();
    }
    if (opts.exact) {
      for (let slot = 0; slot < this.vectors.length; slot++) {
        if (!this.vectors[slot] || (pred !== null && !pred(slot))) continue;
        consider(slot, this.score(slot, query));
      }
      return heap.drain();
    }
    return this.searchIndex(query, opts.k, pred, threshold);
  }

  /**
   * Term-at-a-time over the postings with the pruning described at the top. Contribution
   * bounds per term: w·max and w·min of its list, so negative weights or values stay exact.
   */
  private searchIndex(query: SparseVector, k: number, pred: SlotPredicate | null, threshold: number | null): { slots: number[]; scores: number[] } {
    const terms: Array<{ w: number; p: Posting; term: number; hi: number; lo: number }> = [];
    for (let i = 0; i < query.indices.length; i++) {
      const w = query.values[i]!;
      const p = this.postings.get(query.indices[i]!);
      if (!p || p.live === 0 || w === 0) continue;
      const a = w * p.max;
      const b = w * p.min;
      terms.push({ w, p, term: query.indices[i]!, hi: Math.max(a, b), lo: Math.min(a, b) });
    }
    terms.sort((a, b) => b.hi - a.hi);
    this.scratch();
    const stampNow = ++this.query;
    const acc = this.acc;
    const stamp = this.stamp;
    let touched = this.touched;
    let nTouched = 0;
    // What the terms not walked yet could still add at most (hi) and take at least (lo).
    let restHi = 0;
    let restLo = 0;
    for (const t of terms) {
      restHi += Math.max(0, t.hi);
      restLo += Math.min(0, t.lo);
    }
    let walked = 0;
    const gen = this.gen;
    for (; walked < terms.length; walked++) {
      const { w, p, hi, lo } = terms[walked]!;
      const { slots, values, gens, n } = p;
      for (let i = 0; i < n; i++) {
        const slot = slots[i]!;
        if (gen[slot] !== gens[i]) continue;
        if (stamp[slot] !== stampNow) {
          stamp[slot] = stampNow;
          acc[slot] = 0;
          if (nTouched === touched.length) {
            const grown = new Int32Array(Math.max(1024, touched.length * 2));
            grown.set(touched);
            this.touched = touched = grown;
          }
          touched[nTouched++] = slot;
        }
        acc[slot] = acc[slot]! + w * values[i]!;
      }
      restHi -= Math.max(0, hi);
      restLo -= Math.min(0, lo);
      if (walked + 1 < terms.length && nTouched >= k && this.kthPartial(k, pred, touched, nTouched) + restLo > restHi) {
        walked++;
        break;
      }
    }
    const rest = terms.slice(walked);
    const heap = new TopK(k, true);
    for (let i = 0; i < nTouched; i++) {
      const slot = touched[i]!;
      if (pred !== null && !pred(slot)) continue;
      let score = acc[slot]!;
      if (rest.length > 0) {
        // Cannot enter the heap even if every remaining term adds its most.
        if (heap.size === k && score + restHi <= heap.threshold) continue;
        const v = this.vectors[slot]!;
        for (const t of rest) {
          const at = findIndex(v.indices, t.term);
          if (at >= 0) score += t.w * v.values[at]!;
        }
      }
      if (threshold !== null && score < threshold) continue;
      heap.push(slot, score);
    }
    return heap.drain();
  }

  /** The k-th best partial score among seen points the filter lets through (-Infinity if fewer). */
  private kthPartial(k: number, pred: SlotPredicate | null, touched: Int32Array, n: number): number {
    const heap = new TopK(k, true);
    for (let i = 0; i < n; i++) {
      const slot = touched[i]!;
      if (pred !== null && !pred(slot)) continue;
      heap.push(slot, this.acc[slot]!);
    }
    return heap.threshold;
  }

  private scratch(): void {
    const need = this.vectors.length;
    if (this.acc.length >= need) return;
    const n = Math.max(1024, need * 2);
    this.acc = new Float64Array(n);
    this.stamp = new Uint32Array(n);
    this.query = 0;
  }
}

/** A request's sparse vector checked (same lengths, unique non-negative u32 indices) and sorted by index. */
export function parseSparse(raw: { indices: unknown; values?: unknown }, where: string): SparseVector {
  const { indices, values } = raw;
  const isList = (x: unknown): x is ArrayLike<unknown> => Array.isArray(x) || x instanceof Float32Array;
  if (!isList(indices) || !isList(values)) throw badRequest(`${where}: a sparse vector needs \`indices\` and \`values\` arrays`);
  if (indices.length !== values.length) throw validationError(where, 'indices and values must be of the same length');
  const n = indices.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const x = indices[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_INDEX) throw badRequest(`${where}.indices[${i}]: ${JSON.stringify(x)} is not an unsigned 32-bit integer`);
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i] as number)) throw badRequest(`${where}.values[${i}]: not a number`);
  }
  order.sort((a, b) => (indices[a] as number) - (indices[b] as number));
  const out: SparseVector = { indices: new Uint32Array(n), values: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    out.indices[i] = indices[order[i]!] as number;
    out.values[i] = values[order[i]!] as number;
    if (i > 0 && out.indices[i] === out.indices[i - 1]) throw validationError(`${where}.indices`, 'must be unique');
  }
  return out;
}

/** Dot product over shared indices of two sorted sparse vectors; NaN when none is shared. */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  const ai = a.indices;
  const bi = b.indices;
  let i = 0;
  let j = 0;
  let s = 0;
  let shared = false;
  while (i < ai.length && j < bi.length) {
    const x = ai[i]!;
    const y = bi[j]!;
    if (x === y) {
      s += a.values[i]! * b.values[j]!;
      shared = true;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return shared ? s : NaN;
}

function findIndex(sorted: Uint32Array, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
