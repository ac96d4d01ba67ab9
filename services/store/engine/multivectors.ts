/**
 * Multivector storage (`multivector_config: {comparator: "max_sim"}`): each point holds a
 * variable number of dense vectors of the configured size (late-interaction models such as
 * ColBERT), kept as one flat float32 array per slot (Cosine ones normalised one by one). A query
 * is itself a list of vectors, scored by MaxSim as Qdrant does: the sum over query vectors of
 * the best similarity to any of the point's vectors (dot product for Cosine/Dot, negated
 * distance for Euclid/Manhattan, so higher is always better).
 *
 * In the log a multivector is an ordinary dense value of k × size floats; the configuration
 * says how to split it.
 */
import { badRequest, validationError, wrongInput } from './errors.ts';
import { normaliseInPlace, signedScore, VectorColumn, vectorToJson, type Distance } from './vectors.ts';
import type { VectorStorage, VectorValue } from './vector-storage.ts';

/** The storage for a dense vector's configuration: a column, or multivectors with max_sim. */
export function denseStorage(p: { size: number; distance: Distance; multivector_config?: unknown }): VectorColumn | MultiVectors {
  return p.multivector_config ? new MultiVectors(p.size, p.distance) : new VectorColumn(p.size, p.distance);
}

export class MultiVectors implements VectorStorage {
  readonly kind = 'multi' as const;
  readonly dim: number;
  readonly distance: Distance;
  private values: Array<Float32Array | undefined> = [];
  count = 0;
  private bytes = 0;

  constructor(dim: number, distance: Distance) {
    this.dim = dim;
    this.distance = distance;
  }

  has(slot: number): boolean {
    return this.values[slot] !== undefined;
  }

  ensureCapacity(slots: number): void {
    if (this.values.length < slots) this.values.length = slots;
  }

  /** A request's multivector (a list of vectors of `dim` numbers) flattened; Cosine normalised. */
  prepare(raw: unknown, where: string, name: string): Float32Array {
    // Qdrant names the field of a multivector's data `<vector struct>.?.data`.
    const field = name !== '' && where.endsWith(`.${name}`) ? `${where.slice(0, -name.length - 1)}.?.data` : `${where}.data`;
    // The unnamed vector takes a single dense vector as a multivector of one (Qdrant's legacy form).
    if (name === '' && isDense(raw)) return this.flatten([raw], `${where}: vector`, field);
    return this.flatten(raw, `${where}: vector ${JSON.stringify(name)}`, field);
  }

  /**
   * A list of vectors (a query or a stored value) as one flat array, each vector checked, with
   * Qdrant's errors: a single vector cannot convert, an empty list has dimension 0, inner
   * vectors must be non-empty and of one dimension, and that dimension the configured one.
   */
  flatten(raw: unknown, what: string, field = 'vector.data'): Float32Array {
    if (raw instanceof Float32Array || (Array.isArray(raw) && raw.length > 0 && !raw.every((v) => Array.isArray(v) || v instanceof Float32Array))) {
      throw wrongInput('Conversion between multi and regular vectors failed');
    }
    if (!Array.isArray(raw)) throw badRequest(`${what} is a multivector: expected a list of vectors of ${this.dim} numbers`);
    if (raw.length === 0) throw wrongInput(`Vector inserting error: expected dim: ${this.dim}, got 0`);
    const lengths = (raw as Array<ArrayLike<unknown>>).map((v) => v.length);
    if (lengths.some((n) => n === 0)) throw validationError(field, 'all vectors must be non-empty');
    const odd = lengths.find((n) => n !== lengths[0]);
    if (odd !== undefined) throw validationError(field, `all vectors must have the same dimension, found vector with dimension ${odd}`);
    const out = new Float32Array(raw.length * this.dim);
    raw.forEach((v: ArrayLike<unknown>, i) => {
      if (v.length !== this.dim) throw wrongInput(`Vector dimension error: expected dim: ${this.dim}, got ${v.length}`);
      for (let j = 0; j < this.dim; j++) {
        const x = v[j];
        if (typeof x !== 'number') throw badRequest(`${what}[${i}][${j}] is not a number`);
        out[i * this.dim + j] = x;
      }
      if (this.distance === 'Cosine') normaliseInPlace(out.subarray(i * this.dim, (i + 1) * this.dim));
    });
    return out;
  }

  set(slot: number, value: VectorValue): void {
    if (!(value instanceof Float32Array) || value.length === 0 || value.length % this.dim !== 0) {
      throw new Error(`a multivector of size ${this.dim} needs a whole number of vectors`);
    }
    const old = this.values[slot];
    if (old) this.bytes -= old.byteLength;
    else this.count++;
    // A copy: replayed values are views into a log frame.
    const copy = new Float32Array(value);
    this.values[slot] = copy;
    this.bytes += copy.byteLength;
  }

  clear(slot: number): void {
    const old = this.values[slot];
    if (!old) return;
    this.bytes -= old.byteLength;
    this.count--;
    this.values[slot] = undefined;
  }

  get(slot: number): Float32Array {
    return this.values[slot]!;
  }

  toJson(slot: number): number[][] {
    const v = this.values[slot]!;
    const out: number[][] = [];
    for (let off = 0; off < v.length; off += this.dim) out.push(vectorToJson(v.subarray(off, off + this.dim)));
    return out;
  }

  loggedBytes(slot: number): number {
    return (this.values[slot]?.byteLength ?? 0) + 16;
  }

  storedBytes(): number {
    return this.bytes;
  }

  /** A query: a list of vectors, or one dense vector (a list of one, as Qdrant takes it). */
  queryVector(raw: unknown, what: string): Float32Array {
    return this.flatten(isDense(raw) ? [raw] : raw, what);
  }

  /**
   * `average_vector` over multivector examples: the mean of every positive example's vectors,
   * doubled, minus the mean of every negative one's (just the positive mean without negatives),
   * as a multivector of one — the dense rule applied to the examples' vectors.
   */
  average(positive: Float32Array[], negative: Float32Array[]): Float32Array {
    const mean = (list: Float32Array[]) => {
      const out = new Float64Array(this.dim);
      let n = 0;
      for (const v of list) for (let off = 0; off < v.length; off += this.dim, n++) for (let j = 0; j < this.dim; j++) out[j] = (out[j] ?? 0) + (v[off + j] ?? 0);
      return out.map((x) => x / n);
    };
    const p = mean(positive);
    const out = new Float32Array(this.dim);
    if (negative.length === 0) out.set(p);
    else {
      const q = mean(negative);
      for (let j = 0; j < this.dim; j++) out[j] = 2 * p[j]! - q[j]!;
    }
    if (this.distance === 'Cosine') normaliseInPlace(out);
    return out;
  }

  /** MaxSim of the slot's vectors against a flat query multivector (prepared like a stored one). */
  maxSim(slot: number, query: Float32Array): number {
    const doc = this.values[slot]!;
    const dim = this.dim;
    let total = 0;
    for (let q = 0; q < query.length; q += dim) {
      const qv = query.subarray(q, q + dim);
      let best = -Infinity;
      for (let d = 0; d < doc.length; d += dim) {
        const s = signedScore(this.distance, doc, d, qv, this.dim);
        if (s > best) best = s;
      }
      total += best;
    }
    return total;
  }
}

/** One dense vector (numbers), not a list of vectors. */
function isDense(raw: unknown): boolean {
  return raw instanceof Float32Array || (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'number'));
}
