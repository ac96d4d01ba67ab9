/**
 * Fusion of prefetch results as Qdrant does it. RRF: each list contributes
 * 1 / ((rank + 1) / weight + k − 1) per point (rank from 0; k = 2 by default; weight 1 gives
 * 1 / (rank + k)); only the order of each list counts. DBSF: each list's scores are normalised
 * to [mean − 3σ, mean + 3σ] → [0, 1] (σ the sample standard deviation; a single point gets 0.5)
 * and the normalised scores summed.
 */
import { validationError } from '../errors.ts';
import type { Ranked } from './scorers.ts';

export const DEFAULT_RRF_K = 2;

export interface FusionSpec {
  method: 'rrf' | 'dbsf';
  k: number;
  weights: number[] | null;
}

/** Fused score per slot (unordered). */
export function fuse(spec: FusionSpec, sources: Ranked[]): Map<number, number> {
  if (spec.weights && spec.weights.length !== sources.length) {
    throw validationError('query.rrf.weights', `Number of weights in RRF should match number of pre-fetches: got ${spec.weights.length}, expected ${sources.length}`);
  }
  const fused = new Map<number, number>();
  const add = (slot: number, x: number) => fused.set(slot, (fused.get(slot) ?? 0) + x);
  sources.forEach((src, si) => {
    if (spec.method === 'rrf') {
      const w = spec.weights?.[si] ?? 1;
      src.slots.forEach((slot, rank) => add(slot, w <= 0 ? 0 : 1 / ((rank + 1) / w + spec.k - 1)));
      return;
    }
    const n = src.scores.length;
    if (n === 0) return;
    if (n === 1) {
      add(src.slots[0]!, 0.5);
      return;
    }
    const mean = src.scores.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(src.scores.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const lo = mean - 3 * sd;
    const hi = mean + 3 * sd;
    src.slots.forEach((slot, i) => add(slot, hi === lo ? 0.5 : (src.scores[i]! - lo) / (hi - lo)));
  });
  return fused;
}
