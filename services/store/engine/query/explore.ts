/**
 * Exploration APIs: the distance matrix of a random sample (`search/matrix/pairs|offsets`: each
 * sampled point's `limit` nearest among the sample) and facet counts of a payload field's values
 * (`facet`, which like Qdrant needs a keyword, integer, bool or uuid index on the field).
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest } from '../errors.ts';
import type { PointId } from '../ids.ts';
import { TopK } from '../topk.ts';
import { shortestF32 } from '../vectors.ts';
import { matching } from '../reads.ts';
import type { Collection } from '../collection.ts';
import { nearestScorer } from './plan.ts';
import { topK } from './scorers.ts';

interface Matrix {
  ids: PointId[];
  rows: number[];
  cols: number[];
  scores: number[];
}

function matrix(col: Collection, body: Schemas['SearchMatrixRequest']): Matrix {
  const sampleSize = body.sample ?? 10;
  const limit = body.limit ?? 3;
  const storage = col.storage(body.using ?? '');
  const pred = col.filter(body.filter);
  const pool: number[] = [];
  for (const s of matching(col, body.filter, pred)) if (storage.has(s)) pool.push(s);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const sample = pool.slice(0, sampleSize);
  const index = new Map(sample.map((s, i) => [s, i]));
  const out: Matrix = { ids: sample.map((s) => col.idOf(s)), rows: [], cols: [], scores: [] };
  sample.forEach((slot, row) => {
    const scorer = nearestScorer(storage, storage.get(slot));
    const others = sample.filter((s) => s !== slot);
    const ranked = topK(scorer, others, col.slotCount, null, limit, null, true);
    ranked.slots.forEach((s, i) => {
      out.rows.push(row);
      out.cols.push(index.get(s)!);
      out.scores.push(shortestF32(ranked.scores[i]!));
    });
  });
  return out;
}

export function matrixPairs(col: Collection, body: Schemas['SearchMatrixRequest']): { pairs: Array<{ a: PointId; b: PointId; score: number }> } {
  const m = matrix(col, body);
  return { pairs: m.rows.map((r, i) => ({ a: m.ids[r]!, b: m.ids[m.cols[i]!]!, score: m.scores[i]! })) };
}

export function matrixOffsets(col: Collection, body: Schemas['SearchMatrixRequest']): { offsets_row: number[]; offsets_col: number[]; scores: number[]; ids: PointId[] } {
  const m = matrix(col, body);
  return { offsets_row: m.rows, offsets_col: m.cols, scores: m.scores, ids: m.ids };
}

export function facet(col: Collection, body: Schemas['FacetRequest']): { hits: Array<{ value: string | number | boolean; count: number }> } {
  const index = col.state.indexes.get(body.key);
  if (!index || !['keyword', 'integer', 'bool', 'uuid'].includes(index.type)) {
    throw badRequest(`Index required but not found for "${body.key}" of one of the following types: [keyword, integer, bool, uuid]. Help: Create an index for this key or use a different filter.`);
  }
  const pred = col.filter(body.filter);
  const counts = new Map<string | number | boolean, number>();
  for (const s of matching(col, body.filter, pred)) {
    for (const v of new Set(index.indexedValues(col.payloadOf(s)))) counts.set(v as string | number | boolean, (counts.get(v as string | number | boolean) ?? 0) + 1);
  }
  const limit = body.limit ?? 10;
  const heap = new TopK(limit, true);
  const values = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Ties in count: the earlier value (pushed first) stays ahead, as the sorted order puts it.
  values.forEach((v, i) => heap.push(i, counts.get(v)!));
  const top = heap.drain();
  return { hits: top.slots.map((i) => ({ value: values[i]!, count: counts.get(values[i]!)! })) };
}
