/**
 * Matryoshka slicing. jina-clip-v2 was trained so that the first k dims of its embedding,
 * re-normalised, still work. Order matters: truncate FIRST, then L2-normalise — slicing an
 * already-normalised 1024-d vector leaves non-unit vectors that rank wrongly under Cosine/Dot.
 */
import { ClipstreamError } from '../errors.ts';
import type { MatryoshkaVectors } from './types.ts';

/** `v[0:dim] / ||v[0:dim]||` as a new Float32Array. */
export function truncateAndNormalise(embedding: ArrayLike<number>, dim: number): Float32Array {
  if (dim > embedding.length || dim < 1) {
    throw new ClipstreamError('VECTOR_INVALID', `cannot take ${dim} dims of a ${embedding.length}-d embedding`);
  }
  const out = new Float32Array(dim);
  let sumSq = 0;
  for (let i = 0; i < dim; i++) {
    const x = embedding[i]!;
    out[i] = x;
    sumSq += x * x;
  }
  const norm = Math.sqrt(sumSq);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new ClipstreamError('VECTOR_INVALID', `the first ${dim} dims of the embedding have norm ${norm}; cannot normalise`);
  }
  for (let i = 0; i < dim; i++) out[i]! /= norm;
  return out;
}

/** Every requested Matryoshka size of one embedding. */
export function matryoshka(embedding: ArrayLike<number>, dims: readonly number[]): MatryoshkaVectors {
  const vectors: Record<number, Float32Array> = {};
  for (const dim of dims) vectors[dim] = truncateAndNormalise(embedding, dim);
  return vectors;
}
