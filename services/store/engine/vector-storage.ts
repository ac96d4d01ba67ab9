/**
 * One interface over the ways a named vector is stored: dense columns (vectors.ts) and sparse
 * vectors with their inverted index (sparse.ts). The collection writes, clears and prints values
 * through it; queries reach for the concrete storage they can search.
 */

/** A sparse vector as stored: indices strictly increasing, one value each. */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/** A stored value: a dense vector (float32) or a sparse one. */
export type VectorValue = Float32Array | SparseVector;

export function isSparseValue(v: VectorValue): v is SparseVector {
  return !(v instanceof Float32Array);
}

export interface VectorStorage {
  readonly kind: 'dense' | 'sparse' | 'multi';
  /** Slots holding a vector of this name. */
  readonly count: number;
  has(slot: number): boolean;
  /** Makes room for slots [0, slots). */
  ensureCapacity(slots: number): void;
  /**
   * A request's vector (JSON or parsed float32) checked and converted into the stored form;
   * throws a StoreError naming `where` when it does not fit this vector.
   */
  prepare(raw: unknown, where: string, name: string): VectorValue;
  /** Stores a value `prepare` produced (or a log replay decoded). */
  set(slot: number, value: VectorValue): void;
  clear(slot: number): void;
  /** The stored value (a view: valid until the slot is rewritten). */
  get(slot: number): VectorValue;
  /** The value as a response prints it. */
  toJson(slot: number): unknown;
  /** Bytes a log frame spends on the slot's value (compaction accounting). */
  loggedBytes(slot: number): number;
  /** Bytes of stored vector data, for memory accounting. */
  storedBytes(): number;
}

/**
 * A Document, Image or InferenceObject (text/image/object plus a `model` name) where a vector
 * was expected: Qdrant embeds those with an inference service, which the embedded store lacks.
 */
export function isInferenceInput(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) && typeof (raw as { model?: unknown }).model === 'string';
}

export const INFERENCE_REFUSED = 'documents, images and inference objects need an inference service, which the embedded store does not have (send vectors)';
