import type { VectorFile } from './disk-vectors.ts';
import { badRequest, wrongInput } from './errors.ts';
import type { VectorStorage, VectorValue } from './vector-storage.ts';

/**
 * Dense vector storage for one named vector: fixed-size Float32Array chunks indexed by slot.
 * Chunks (not one slab grown by doubling) keep growth copy-free at any size, so a 200k-point
 * collection never holds an old and a new slab at once and never over-allocates by more than
 * one chunk. Only the first chunk grows (by doubling) so small collections stay small.
 */
export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';

export const CHUNK_BITS = 12;
export const CHUNK_SLOTS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_SLOTS - 1;
const FIRST_CHUNK_SLOTS = 16;

/** Told of every change to a column's values (the ANN index keeps its appendable part so). */
export interface ColumnObserver {
  written(slot: number): void;
  cleared(slot: number): void;
}

/** Cosine and Dot rank by similarity (higher first); Euclid and Manhattan by distance (lower first). */
export function higherIsBetter(distance: Distance): boolean {
  return distance === 'Cosine' || distance === 'Dot';
}

/** The raw score of `dim` values of `a` from `off` against `q`: similarity for Cosine/Dot, distance for Euclid/Manhattan. */
export function rawScore(distance: Distance, a: Float32Array, off: number, q: Float32Array, dim: number): number {
  switch (distance) {
    case 'Cosine':
    case 'Dot':
      return dot(a, off, q, dim);
    case 'Euclid':
      return Math.sqrt(squaredL2(a, off, q, dim));
    case 'Manhattan':
      return l1(a, off, q, dim);
  }
}

/** The same score turned so that higher is always better (distances negated), as Qdrant's custom objectives compare. */
export function signedScore(distance: Distance, a: Float32Array, off: number, q: Float32Array, dim: number): number {
  const s = rawScore(distance, a, off, q, dim);
  return higherIsBetter(distance) ? s : -s;
}

export class VectorColumn implements VectorStorage {
  readonly kind = 'dense' as const;
  readonly dim: number;
  readonly distance: Distance;
  readonly chunks: Float32Array[] = [];
  /** 1 where the slot holds a vector of this name; 0 for empty, deleted or vector-less slots. */
  present: Uint8Array = new Uint8Array(FIRST_CHUNK_SLOTS);
  count = 0;
  /** The vector's ANN index (ann/dense-index.ts), when it has one. */
  observer: ColumnObserver | null = null;
  /** Where the values live for an `on_disk` vector (then `chunks` stays empty). */
  file: VectorFile | null = null;
  private firstChunkSlots = 0;

  constructor(dim: number, distance: Distance) {
    this.dim = dim;
    this.distance = distance;
  }

  /** Keeps the values in `file` from now on (a column still empty: before the log replay). */
  backWithFile(file: VectorFile): void {
    if (this.count > 0) throw new Error('a column holding vectors cannot move to a file');
    this.file = file;
    this.chunks.length = 0;
    this.firstChunkSlots = 0;
  }

  /** Makes room for slots [0, slots). */
  ensureCapacity(slots: number): void {
    if (this.present.length < slots) {
      let n = this.present.length;
      while (n < slots) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.present);
      this.present = grown;
    }
    if (this.file) return;
    if (slots <= CHUNK_SLOTS) {
      if (this.firstChunkSlots >= slots) return;
      let n = Math.max(FIRST_CHUNK_SLOTS, this.firstChunkSlots);
      while (n < slots) n *= 2;
      n = Math.min(n, CHUNK_SLOTS);
      const grown = new Float32Array(n * this.dim);
      if (this.chunks.length > 0) grown.set(this.chunks[0]!);
      this.chunks[0] = grown;
      this.firstChunkSlots = n;
      return;
    }
    if (this.firstChunkSlots < CHUNK_SLOTS) this.ensureCapacity(CHUNK_SLOTS);
    const needed = (slots + CHUNK_MASK) >>> CHUNK_BITS;
    while (this.chunks.length < needed) this.chunks.push(new Float32Array(CHUNK_SLOTS * this.dim));
  }

  has(slot: number): boolean {
    return slot < this.present.length && this.present[slot] === 1;
  }

  /** Stores `values` (already normalised for Cosine by the caller). */
  set(slot: number, values: VectorValue): void {
    if (!(values instanceof Float32Array)) throw new Error('a sparse value cannot go into a dense column');
    if (this.file) this.file.write(slot, values);
    else this.chunks[slot >>> CHUNK_BITS]!.set(values, (slot & CHUNK_MASK) * this.dim);
    if (this.present[slot] === 0) {
      this.present[slot] = 1;
      this.count++;
    }
    this.observer?.written(slot);
  }

  /** Writes what `set` staged for an on-disk vector (the values it was given may change after). */
  flush(): void {
    this.file?.flush();
  }

  clear(slot: number): void {
    if (slot < this.present.length && this.present[slot] === 1) {
      this.present[slot] = 0;
      this.count--;
      this.observer?.cleared(slot);
    }
  }

  /**
   * A request vector as stored: dimension checked, Cosine normalised. A Float32Array from the
   * body parser is fresh and normalised in place (no copy).
   */
  prepare(raw: unknown, where: string, name: string): Float32Array {
    if (raw instanceof Float32Array) {
      if (raw.length !== this.dim) throw wrongInput(`Vector dimension error: expected dim: ${this.dim}, got ${raw.length}`);
      return prepareVector(this.distance, raw, raw);
    }
    if (!Array.isArray(raw)) {
      if (raw !== null && typeof raw === 'object' && 'indices' in raw) throw wrongInput(`${where}: vector ${JSON.stringify(name)} is a dense vector, got a sparse one`);
      throw badRequest(`${where}: vector ${JSON.stringify(name)} must be a dense vector of ${this.dim} numbers (documents, images and inference objects are not supported by the embedded store)`);
    }
    if (raw.length > 0 && (Array.isArray(raw[0]) || raw[0] instanceof Float32Array)) {
      throw badRequest(`${where}: vector ${JSON.stringify(name)} has no multivector_config: send one dense vector`);
    }
    if (raw.length !== this.dim) throw wrongInput(`Vector dimension error: expected dim: ${this.dim}, got ${raw.length}`);
    for (let i = 0; i < raw.length; i++) {
      if (typeof raw[i] !== 'number') throw badRequest(`${where}: vector ${JSON.stringify(name)}[${i}] is not a number`);
    }
    return prepareVector(this.distance, raw as number[]);
  }

  get(slot: number): Float32Array {
    return this.view(slot);
  }

  toJson(slot: number): number[] {
    return vectorToJson(this.view(slot));
  }

  loggedBytes(): number {
    return this.dim * 4 + 16;
  }

  storedBytes(): number {
    return this.count * this.dim * 4;
  }

  /** A view (no copy; read from the file for an on-disk vector) of the slot's vector; valid until the slot is rewritten. */
  view(slot: number): Float32Array {
    if (this.file) return this.file.read(slot);
    const off = (slot & CHUNK_MASK) * this.dim;
    return this.chunks[slot >>> CHUNK_BITS]!.subarray(off, off + this.dim);
  }

  /** Score of one stored vector against a prepared query (see prepareQuery). */
  score(slot: number, query: Float32Array): number {
    const chunk = this.file ? this.file.readScratch(slot) : this.chunks[slot >>> CHUNK_BITS]!;
    const off = this.file ? 0 : (slot & CHUNK_MASK) * this.dim;
    return rawScore(this.distance, chunk, off, query, this.dim);
  }

  /** Chunks a full scan walks (of CHUNK_SLOTS slots each). */
  chunkCount(slotCount: number): number {
    return this.file ? (slotCount + CHUNK_MASK) >>> CHUNK_BITS : this.chunks.length;
  }

  /**
   * Chunk `c`'s values: the chunk itself in memory, or its slots below `slotCount` read from the
   * file (into a buffer the next call reuses).
   */
  chunkData(c: number, slotCount: number): Float32Array {
    if (!this.file) return this.chunks[c]!;
    const first = c << CHUNK_BITS;
    return this.file.readBlock(first, Math.max(0, Math.min(CHUNK_SLOTS, slotCount - first)));
  }

  /** Bytes of vector data held, for memory accounting. */
  allocatedBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    return n + this.present.byteLength;
  }
}

/** Converts a request vector into the stored/query form: Cosine vectors are unit length. */
export function prepareVector(distance: Distance, values: ArrayLike<number>, out?: Float32Array): Float32Array {
  const v = out ?? new Float32Array(values.length);
  if (v !== values) for (let i = 0; i < values.length; i++) v[i] = values[i]!;
  if (distance === 'Cosine') normaliseInPlace(v);
  return v;
}

export function normaliseInPlace(v: Float32Array): void {
  // Four running sums: one would chain every addition on the previous one's latency.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = v.length;
  const end4 = n & ~3;
  let i = 0;
  for (; i < end4; i += 4) {
    s0 += v[i]! * v[i]!;
    s1 += v[i + 1]! * v[i + 1]!;
    s2 += v[i + 2]! * v[i + 2]!;
    s3 += v[i + 3]! * v[i + 3]!;
  }
  for (; i < n; i++) s0 += v[i]! * v[i]!;
  const sum = s0 + s1 + s2 + s3;
  if (sum === 0) return;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
}

export function dot(a: Float32Array, off: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim & ~3;
  for (; i < end4; i += 4) {
    s0 += a[off + i]! * q[i]!;
    s1 += a[off + i + 1]! * q[i + 1]!;
    s2 += a[off + i + 2]! * q[i + 2]!;
    s3 += a[off + i + 3]! * q[i + 3]!;
  }
  for (; i < dim; i++) s0 += a[off + i]! * q[i]!;
  return s0 + s1 + s2 + s3;
}

export function squaredL2(a: Float32Array, off: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  const end2 = dim & ~1;
  for (; i < end2; i += 2) {
    const d0 = a[off + i]! - q[i]!;
    const d1 = a[off + i + 1]! - q[i + 1]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  if (i < dim) {
    const d = a[off + i]! - q[i]!;
    s0 += d * d;
  }
  return s0 + s1;
}

export function l1(a: Float32Array, off: number, q: Float32Array, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += Math.abs(a[off + i]! - q[i]!);
  return s;
}

/**
 * The shortest decimal that reads back as the same float32, so a vector or score Qdrant would
 * print as 0.1 is not printed as 0.10000000149011612.
 */
export function shortestF32(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let p = 6; p < 9; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return Number(f.toPrecision(9));
}

export function vectorToJson(v: Float32Array): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = shortestF32(v[i]!);
  return out;
}
