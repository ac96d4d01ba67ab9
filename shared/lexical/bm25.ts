/**
 * BM25 term-frequency weights, as FastEmbed's `Qdrant/bm25` computes them: a document's term t
 * gets tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl)), |d| its token count. The store multiplies by
 * the IDF it keeps from the collection (`modifier: idf`), so clipstream never needs corpus
 * statistics. A query's terms weigh 1 each (FastEmbed's `query_embed`).
 */
import { termId } from './term-id.ts';

export interface SparseVector {
  indices: number[];
  values: number[];
}

export interface Bm25Params {
  k1: number;
  b: number;
  /** Average document length in tokens (FastEmbed: 256). */
  avgLength: number;
}

export const DEFAULT_BM25: Bm25Params = { k1: 1.2, b: 0.75, avgLength: 256 };

export function documentWeights(terms: readonly string[], params: Bm25Params): SparseVector {
  const counts = new Map<number, number>();
  for (const t of terms) {
    const id = termId(t);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const indices = [...counts.keys()].sort((a, b) => a - b);
  const norm = params.k1 * (1 - params.b + (params.b * terms.length) / params.avgLength);
  const values = indices.map((id) => {
    const tf = counts.get(id)!;
    return (tf * (params.k1 + 1)) / (tf + norm);
  });
  return { indices, values };
}

export function queryWeights(terms: readonly string[]): SparseVector {
  const indices = [...new Set(terms.map(termId))].sort((a, b) => a - b);
  return { indices, values: indices.map(() => 1) };
}
