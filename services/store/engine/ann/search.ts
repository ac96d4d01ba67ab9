/**
 * When a dense nearest search uses the ANN index, as Qdrant's query planner decides it: not for
 * `exact`, nor when the filter leaves fewer points than `full_scan_threshold` worth of vectors
 * (scanning those directly is both cheaper and exact), nor for quantised vectors with
 * `quantization.ignore` (the index holds only the quantised ones). Otherwise the index is
 * searched with the beam widened by the filter's selectivity; the caller scans exactly when this
 * answers null.
 */
import type { SlotPredicate } from '../filter.ts';
import type { VectorColumn } from '../vectors.ts';
import { DenseIndex } from './dense-index.ts';
import type { SearchParams } from './params.ts';

/** Live points tested to estimate how many a filter without payload-index postings lets through. */
const SAMPLE = 1024;

export interface Ranked {
  slots: number[];
  scores: number[];
}

export function indexedNearest(
  column: VectorColumn,
  query: Float32Array,
  k: number,
  filter: { pred: SlotPredicate | null; candidates: Set<number> | null; slotCount: number },
  threshold: number | null,
  params: SearchParams,
): Ranked | null {
  const idx = column.observer;
  if (!(idx instanceof DenseIndex) || params.exact || !idx.searchable || k <= 0) return null;
  if (params.quantization?.ignore && idx.params.scalar !== 'f32') return null;
  const total = Math.max(1, column.count);
  let selectivity = 1;
  if (filter.pred !== null) {
    const cardinality = filter.candidates ? filter.candidates.size : estimate(column, filter.pred, filter.slotCount);
    if (cardinality * column.dim * 4 < idx.params.fullScanBytes) return null;
    selectivity = Math.min(1, cardinality / total);
  }
  return idx.search(query, {
    k,
    ef: params.hnswEf,
    pred: filter.pred,
    selectivity,
    threshold,
    indexedOnly: params.indexedOnly,
    oversampling: params.quantization?.oversampling ?? null,
    rescore: params.quantization?.rescore ?? null,
  });
}

/** Points passing `pred` among those holding the vector, from evenly spaced samples. */
function estimate(column: VectorColumn, pred: SlotPredicate, slotCount: number): number {
  const step = Math.max(1, Math.floor(slotCount / SAMPLE));
  let seen = 0;
  let passed = 0;
  for (let s = 0; s < slotCount; s += step) {
    if (!column.has(s)) continue;
    seen++;
    if (pred(s)) passed++;
  }
  return seen === 0 ? 0 : Math.round((passed / seen) * column.count);
}
