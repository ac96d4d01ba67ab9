/**
 * Runs a planned stage tree. A leaf searches the collection (dense: exact scan, starting from
 * index postings when the filter allows; sparse: the inverted index, or the filtered points
 * directly when they are few); a stage with prefetches re-scores the union of their results
 * with its own query, fuses them, orders, samples or applies a formula to them. The request's
 * top-level filter (with the query's example ids excluded) applies at every depth.
 */
import { badRequest } from '../errors.ts';
import { andPredicates, type SlotPredicate } from '../filter.ts';
import { TopK } from '../topk.ts';
import type { Collection } from '../collection.ts';
import { indexedNearest } from '../ann/search.ts';
import { fuse } from './fusion.ts';
import type { MmrSpec, ResolvedQuery, Stage } from './plan.ts';
import { scorerHigherIsBetter, scorerStorage, similarity, topK, type Ranked, type Scorer } from './scorers.ts';

export class Executor {
  constructor(
    private readonly col: Collection,
    private readonly root: SlotPredicate | null,
    private readonly rootJson: unknown,
  ) {}

  run(stage: Stage, limit: number): Ranked {
    const pred = andPredicates(this.root, stage.filter);
    if (stage.prefetch.length === 0) return this.leaf(stage, pred, limit);
    const sources = stage.prefetch.map((p) => this.run(p, p.limit));
    const q = stage.query!;
    if (q.kind === 'fusion') return this.top(fuse(q.fusion, sources), pred, stage.scoreThreshold, limit);
    const candidates = new Set<number>();
    for (const s of sources) for (const slot of s.slots) candidates.add(slot);
    switch (q.kind) {
      case 'nearest':
        return this.nearest(q, candidates, pred, limit, stage);
      case 'order_by':
        return this.ordered(q.spec, (slot) => candidates.has(slot) && (pred === null || pred(slot)), limit);
      case 'formula': {
        const perSource = sources.map((s) => new Map(s.slots.map((slot, i) => [slot, s.scores[i]!])));
        const scores = new Map<number, number>();
        for (const slot of candidates) {
          if (pred !== null && !pred(slot)) continue;
          scores.set(slot, q.formula(slot, perSource.map((m) => m.get(slot))));
        }
        return this.top(scores, null, stage.scoreThreshold, limit);
      }
      case 'sample':
        return sample([...candidates].filter((s) => pred === null || pred(s)), limit);
    }
  }

  private leaf(stage: Stage, pred: SlotPredicate | null, limit: number): Ranked {
    const q = stage.query;
    if (q === null) {
      const slots: number[] = [];
      for (const s of this.col.sortedSlots()) {
        if (pred !== null && !pred(s)) continue;
        slots.push(s);
        if (slots.length >= limit) break;
      }
      return { slots, scores: slots.map(() => 0) };
    }
    switch (q.kind) {
      case 'nearest': {
        let candidates: Iterable<number> | null = this.col.candidateSlots([this.rootJson, stage.filterJson]);
        // A sparse query walks its index unless the filter leaves few points to score directly.
        if (candidates && q.scorer.kind === 'sparse' && (candidates as Set<number>).size >= q.scorer.storage.fullScanThreshold) candidates = null;
        return this.nearest(q, candidates, pred, limit, stage, true);
      }
      case 'order_by':
        return this.ordered(q.spec, pred, limit);
      case 'sample': {
        const all: number[] = [];
        for (let s = 0; s < this.col.slotCount; s++) if (this.col.alive[s] === 1 && (pred === null || pred(s))) all.push(s);
        return sample(all, limit);
      }
      default:
        throw badRequest(q.kind === 'fusion' ? 'Fusion queries need prefetches to fuse' : 'A formula query needs prefetches to re-score');
    }
  }

  /**
   * Nearest by the stage's scorer. A leaf's candidates are payload-index postings (a filter's
   * reach), so a dense leaf may use the vector's ANN index; a re-scoring stage's candidates are
   * its prefetches' results, scored exactly.
   */
  private nearest(q: Extract<ResolvedQuery, { kind: 'nearest' }>, candidates: Iterable<number> | null, pred: SlotPredicate | null, limit: number, stage: Stage, leaf = false): Ranked {
    const search = (k: number): Ranked => {
      if (leaf && q.scorer.kind === 'dense') {
        const filter = { pred, candidates: candidates as Set<number> | null, slotCount: this.col.slotCount };
        const found = indexedNearest(q.scorer.column, q.scorer.vector, k, filter, stage.scoreThreshold, stage.search);
        if (found) return found;
      }
      return topK(q.scorer, candidates, this.col.slotCount, pred, k, stage.scoreThreshold, stage.exact);
    };
    if (!q.mmr) return search(limit);
    return mmr(q.scorer, search(Math.max(limit, q.mmr.candidates || limit)), q.mmr, limit);
  }

  private ordered(spec: unknown, pred: SlotPredicate | null, limit: number): Ranked {
    const rows = this.col.orderBy(spec, pred).slice(0, limit);
    return {
      slots: rows.map((r) => r.slot),
      scores: rows.map((r) => (typeof r.value === 'number' ? r.value : Date.parse(r.value) / 1000)),
      orderValues: rows.map((r) => r.value),
    };
  }

  private top(scores: Map<number, number>, pred: SlotPredicate | null, threshold: number | null, limit: number): Ranked {
    const heap = new TopK(limit, true);
    for (const [slot, score] of scores) {
      if (pred !== null && !pred(slot)) continue;
      if (threshold !== null && score < threshold) continue;
      heap.push(slot, score);
    }
    return heap.drain();
  }
}

/**
 * Maximal marginal relevance over the nearest candidates, as Qdrant: the most relevant first,
 * then each time the candidate maximising λ·relevance − (1 − λ)·(its highest similarity to one
 * already chosen), λ = 1 − diversity. Points keep their query scores.
 */
function mmr(scorer: Scorer, pool: Ranked, spec: MmrSpec, limit: number): Ranked {
  const n = pool.slots.length;
  if (n === 0) return pool;
  const storage = scorerStorage(scorer);
  const lambda = 1 - spec.diversity;
  const higher = scorerHigherIsBetter(scorer);
  // Relevance as a similarity (distances negated), like the pairwise similarities.
  const relevance = pool.scores.map((s) => (higher ? s : -s));
  const maxSim = new Float64Array(n).fill(-Infinity);
  const chosen: number[] = [];
  const taken = new Uint8Array(n);
  let next = 0;
  for (let i = 1; i < n; i++) if (relevance[i]! > relevance[next]!) next = i;
  while (chosen.length < Math.min(limit, n)) {
    chosen.push(next);
    taken[next] = 1;
    const value = storage.get(pool.slots[next]!);
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const sim = similarity(storage, pool.slots[i]!, value);
      if (sim > maxSim[i]!) maxSim[i] = sim;
      const score = lambda * relevance[i]! - (1 - lambda) * maxSim[i]!;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best < 0) break;
    next = best;
  }
  return { slots: chosen.map((i) => pool.slots[i]!), scores: chosen.map((i) => pool.scores[i]!) };
}

function sample(slots: number[], limit: number): Ranked {
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  const picked = slots.slice(0, limit);
  return { slots: picked, scores: picked.map(() => 0) };
}
