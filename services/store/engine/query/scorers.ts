/**
 * How a query scores a point: nearest to a dense vector (exact scan over the column), nearest to
 * a sparse vector (its inverted index), or a custom objective over example vectors — recommend
 * `best_score` / `sum_scores`, discovery and context — computed as Qdrant documents them.
 */
import { TopK } from '../topk.ts';
import type { SlotPredicate } from '../filter.ts';
import { SparseVectors } from '../sparse.ts';
import { MultiVectors } from '../multivectors.ts';
import { CHUNK_BITS, CHUNK_SLOTS, dot, higherIsBetter, l1, squaredL2, type VectorColumn } from '../vectors.ts';
import { isSparseValue, type SparseVector, type VectorStorage, type VectorValue } from '../vector-storage.ts';

export interface Ranked {
  slots: number[];
  scores: number[];
  orderValues?: Array<number | string>;
}

export type Scorer =
  | { kind: 'dense'; column: VectorColumn; vector: Float32Array }
  | { kind: 'sparse'; storage: SparseVectors; vector: SparseVector }
  | { kind: 'custom'; storage: VectorStorage; score: (slot: number) => number };

export function scorerHigherIsBetter(s: Scorer): boolean {
  return s.kind === 'dense' ? higherIsBetter(s.column.distance) : true;
}

/** The storage a scorer reads (to tell which points have the vector). */
export function scorerStorage(s: Scorer): VectorStorage {
  return s.kind === 'dense' ? s.column : s.storage;
}

/**
 * Similarity of a stored vector to an example, "higher is closer" for every distance (Euclid and
 * Manhattan negated), as Qdrant's custom objectives compare them.
 */
export function similarity(storage: VectorStorage, slot: number, example: VectorValue): number {
  if (storage instanceof MultiVectors) return storage.maxSim(slot, example as Float32Array);
  if (storage instanceof SparseVectors) {
    const s = storage.score(slot, example as SparseVector);
    return Number.isNaN(s) ? 0 : s;
  }
  const column = storage as VectorColumn;
  const s = column.score(slot, example as Float32Array);
  return higherIsBetter(column.distance) ? s : -s;
}

/** Qdrant's fast sigmoid: x / (1 + |x|), in (-1, 1). */
const fastSigmoid = (x: number) => x / (1 + Math.abs(x));

export function bestScore(storage: VectorStorage, positive: VectorValue[], negative: VectorValue[]): (slot: number) => number {
  return (slot) => {
    let pos = -Infinity;
    for (const v of positive) pos = Math.max(pos, similarity(storage, slot, v));
    let neg = -Infinity;
    for (const v of negative) neg = Math.max(neg, similarity(storage, slot, v));
    return pos > neg ? pos : -(neg * neg);
  };
}

export function sumScores(storage: VectorStorage, positive: VectorValue[], negative: VectorValue[]): (slot: number) => number {
  return (slot) => {
    let s = 0;
    for (const v of positive) s += similarity(storage, slot, v);
    for (const v of negative) s -= similarity(storage, slot, v);
    return s;
  };
}

export interface ContextPair {
  positive: VectorValue;
  negative: VectorValue;
}

/** Discovery: +1 per pair whose positive is closer, else −1; plus the target's similarity squashed into (0, 1). */
export function discoverScore(storage: VectorStorage, target: VectorValue, pairs: ContextPair[]): (slot: number) => number {
  return (slot) => {
    let rank = 0;
    for (const p of pairs) {
      const pos = similarity(storage, slot, p.positive);
      const neg = similarity(storage, slot, p.negative);
      rank += pos > neg ? 1 : -1;
    }
    return rank + 0.5 * (fastSigmoid(similarity(storage, slot, target)) + 1);
  };
}

/** Context search: the sum over pairs of min(0, sigmoid(sim(positive) − sim(negative) − ε)); 0 is the best score. */
export function contextScore(storage: VectorStorage, pairs: ContextPair[]): (slot: number) => number {
  return (slot) => {
    let loss = 0;
    for (const p of pairs) {
      const d = similarity(storage, slot, p.positive) - similarity(storage, slot, p.negative) - 1.1920929e-7;
      loss += Math.min(0, fastSigmoid(d));
    }
    return loss;
  };
}

/** avg(positive) · 2 − avg(negative) (Qdrant's `average_vector`), for dense or sparse examples. */
export function averageVector(positive: VectorValue[], negative: VectorValue[]): VectorValue {
  const first = positive[0] ?? negative[0]!;
  if (!isSparseValue(first)) {
    const dim = (first as Float32Array).length;
    const avg = (list: VectorValue[]) => {
      const out = new Float64Array(dim);
      for (const v of list) for (let i = 0; i < dim; i++) out[i] = (out[i] ?? 0) + (v as Float32Array)[i]! / list.length;
      return out;
    };
    const p = avg(positive);
    const out = new Float32Array(dim);
    if (negative.length === 0) out.set(p);
    else {
      const n = avg(negative);
      for (let i = 0; i < dim; i++) out[i] = p[i]! + p[i]! - n[i]!;
    }
    return out;
  }
  const acc = new Map<number, number>();
  const add = (list: VectorValue[], factor: number) => {
    for (const v of list as SparseVector[]) for (let i = 0; i < v.indices.length; i++) acc.set(v.indices[i]!, (acc.get(v.indices[i]!) ?? 0) + (factor * v.values[i]!) / list.length);
  };
  add(positive, negative.length === 0 ? 1 : 2);
  if (negative.length > 0) add(negative, -1);
  const keys = [...acc.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(keys), values: Float32Array.from(keys, (k) => acc.get(k)!) };
}

/**
 * Top k by `scorer` among the slots of `candidates` (every slot when null) that pass `pred`.
 * `exact` forces a sparse query to score points directly instead of walking its index.
 */
export function topK(scorer: Scorer, candidates: Iterable<number> | null, slotCount: number, pred: SlotPredicate | null, k: number, threshold: number | null, exact = false): Ranked {
  if (scorer.kind === 'dense') return scan(scorer.column, scorer.vector, candidates, slotCount, pred, k, threshold);
  if (scorer.kind === 'sparse') return scorer.storage.search(scorer.vector, { k, pred, threshold, candidates, exact });
  const heap = new TopK(k, true);
  const storage = scorer.storage;
  const consider = (slot: number) => {
    if (!storage.has(slot) || (pred !== null && !pred(slot))) return;
    const s = scorer.score(slot);
    if (threshold !== null && s < threshold) return;
    heap.push(slot, s);
  };
  if (candidates) for (const slot of candidates) consider(slot);
  else for (let slot = 0; slot < slotCount; slot++) consider(slot);
  return heap.drain();
}

/** Exact nearest-neighbour scan; `candidates` narrows it (index postings or prefetch results). */
function scan(column: VectorColumn, q: Float32Array, candidates: Iterable<number> | null, slotCount: number, pred: SlotPredicate | null, k: number, threshold: number | null): Ranked {
  const higher = higherIsBetter(column.distance);
  const heap = new TopK(k, higher);
  const present = column.present;
  const dim = column.dim;
  const kind = column.distance === 'Cosine' || column.distance === 'Dot' ? 0 : column.distance === 'Euclid' ? 1 : 2;
  const lim = threshold === null ? (higher ? -Infinity : Infinity) : threshold;
  const consider = (chunk: Float32Array, off: number, slot: number) => {
    const score = kind === 0 ? dot(chunk, off, q, dim) : kind === 1 ? Math.sqrt(squaredL2(chunk, off, q, dim)) : l1(chunk, off, q, dim);
    if (higher ? score < lim : score > lim) return;
    heap.push(slot, score);
  };
  if (candidates === null) {
    const chunkCount = column.chunkCount(slotCount);
    for (let c = 0; c < chunkCount; c++) {
      const chunk = column.chunkData(c, slotCount);
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
      if (column.file) consider(column.file.readScratch(slot), 0, slot);
      else consider(column.chunks[slot >>> CHUNK_BITS]!, (slot & (CHUNK_SLOTS - 1)) * dim, slot);
    }
  }
  return heap.drain();
}
