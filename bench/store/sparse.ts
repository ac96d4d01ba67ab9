/**
 * Sparse and hybrid figures of the store suite, on the collection the dense figures were measured
 * on (its points get a sparse vector `lex` through the 1.19 named-vector endpoint and
 * update_vectors):
 * - `sparse_query_latency_p50`: BM25-like documents (~30 distinct terms, Zipf(s) term ranks over
 *   a 250k vocabulary, ids spread over u32, values BM25 tf weights with k1 = 1.2, b = 0.75),
 *   `modifier: idf`, queries of a few Zipf-drawn terms (weight 1, as a BM25 query is); through the
 *   inverted index, against a scan of every point's vector (`params.exact`) on the same queries,
 *   interleaved. Their top-10 are checked to agree.
 * - `hybrid_rrf_latency_p50`: one query fusing the coarse-to-fine dense chain (64→256→1024, the
 *   calibrated stage limits) and the sparse search with RRF, against the dense chain alone.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import { buildCascade, stageVectors } from '../../shared/store/coarse-to-fine.ts';
import { percentile, report } from '../report.ts';
import { mulberry32 } from './synthetic.ts';

export interface SparseArgs {
  vocabulary: number;
  terms: number;
  queryTerms: number;
  zipf: number;
  queries: number;
  warmup: number;
  seed: number;
}

export const SPARSE_DEFAULTS: SparseArgs = { vocabulary: 250_000, terms: 30, queryTerms: 4, zipf: 1.0, queries: 500, warmup: 20, seed: 1 };

/** Samples Zipf-distributed ranks 1..V (P(r) ∝ r^-s) by binary search over the cumulative weights. */
export class Zipf {
  private readonly cdf: Float64Array;
  constructor(vocabulary: number, s: number) {
    this.cdf = new Float64Array(vocabulary);
    let sum = 0;
    for (let r = 1; r <= vocabulary; r++) this.cdf[r - 1] = sum += r ** -s;
    for (let i = 0; i < vocabulary; i++) this.cdf[i]! /= sum;
  }
  sample(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}

/** A term rank as a u32 term id (a fixed odd multiplier spreads ranks over the id space, as hashed tokens are). */
const termId = (rank: number) => Math.imul(rank, 2654435761) >>> 0;

function distinctRanks(zipf: Zipf, rand: () => number, count: number): number[] {
  const seen = new Set<number>();
  let guard = 0;
  while (seen.size < count && guard++ < count * 50) seen.add(zipf.sample(rand()));
  return [...seen];
}

/** A document's BM25 term weights: term frequencies 1 + geometric, normalised by length. */
export function bm25Document(zipf: Zipf, rand: () => number, terms: number, avgLength: number): { indices: number[]; values: number[] } {
  const ranks = distinctRanks(zipf, rand, terms);
  const tfs = ranks.map(() => 1 + Math.floor(-Math.log(Math.max(rand(), 1e-12)) / 1.5));
  const length = tfs.reduce((a, b) => a + b, 0);
  const k1 = 1.2;
  const b = 0.75;
  return { indices: ranks.map(termId), values: tfs.map((tf) => (tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / avgLength))) };
}

export async function sparseBench(
  client: QdrantClient,
  collection: string,
  points: number,
  dense: { dims: readonly number[]; stageLimits: readonly number[]; queries: number[][] },
  args: SparseArgs,
  common: Record<string, unknown>,
  log: (line: string) => void,
): Promise<void> {
  const zipf = new Zipf(args.vocabulary, args.zipf);
  const rand = mulberry32(args.seed * 104_729);
  // Average document length of this generator, for the BM25 normalisation.
  const avgLength = args.terms * (1 + 1 / (Math.exp(1.5) - 1));
  await client.createVectorName(collection, 'lex', { sparse: { modifier: 'idf' } }, { wait: true });
  let t = performance.now();
  let offset: string | number | undefined;
  for (let written = 0; written < points; ) {
    const page = await client.scroll(collection, { limit: 1000, with_payload: false, ...(offset !== undefined ? { offset } : {}) });
    await client.updateVectors(collection, { wait: true, points: page.points.map((p) => ({ id: p.id, vector: { lex: bm25Document(zipf, rand, args.terms, avgLength) } })) });
    written += page.points.length;
    const next = page.next_page_offset;
    if (next === undefined || next === null || page.points.length === 0) break;
    offset = next as string | number;
  }
  log(`sparse vectors: ${points} documents x ${args.terms} terms written in ${((performance.now() - t) / 1000).toFixed(1)}s`);

  const queries = Array.from({ length: args.warmup + args.queries }, () => {
    const ranks = distinctRanks(zipf, rand, args.queryTerms);
    return { indices: ranks.map(termId), values: ranks.map(() => 1) };
  });
  const sparse = (q: { indices: number[]; values: number[] }, exact: boolean) =>
    client.query(collection, { query: q, using: 'lex', limit: 10, with_payload: false, ...(exact ? { params: { exact: true } } : {}) });
  for (const q of queries.slice(0, args.warmup)) {
    await sparse(q, false);
    await sparse(q, true);
  }
  const indexedMs: number[] = [];
  const scanMs: number[] = [];
  let disagreements = 0;
  t = performance.now();
  for (const q of queries.slice(args.warmup)) {
    let s = performance.now();
    const a = await sparse(q, false);
    indexedMs.push(performance.now() - s);
    s = performance.now();
    const b = await sparse(q, true);
    scanMs.push(performance.now() - s);
    if (a.points.map((p) => p.score).join() !== b.points.map((p) => p.score).join()) disagreements++;
  }
  log(`${args.queries} sparse query pairs in ${((performance.now() - t) / 1000).toFixed(1)}s (${disagreements} disagreeing top-10s)`);
  if (disagreements > 0) throw new Error(`the inverted index and the scan disagreed on ${disagreements} queries`);
  indexedMs.sort((x, y) => x - y);
  scanMs.sort((x, y) => x - y);
  const sparseCommon = {
    ...common,
    queries: args.queries,
    warmup_queries: args.warmup,
    sequential: true,
    data: `BM25-like: ${args.terms} distinct terms/doc, Zipf s=${args.zipf} over ${args.vocabulary} terms, k1=1.2 b=0.75, modifier idf; queries ${args.queryTerms} Zipf terms, weight 1`,
  };
  for (const p of [50, 99]) {
    report({ suite: 'store', metric: `sparse_query_latency_p${p}`, value: percentile(indexedMs, p), unit: 'ms', baseline: 'sparse_full_scan_same_vectors', ratio: percentile(indexedMs, p) / percentile(scanMs, p), baseline_value: Number(percentile(scanMs, p).toPrecision(4)), goal: p === 50 ? 'ratio <= 0.05' : null, top10_identical_to_scan: true, ...sparseCommon });
  }

  // Hybrid: the dense chain and the sparse search fused with RRF, against the dense chain alone.
  const sorted = [...dense.dims].sort((a, b) => a - b);
  const hybridMs: number[] = [];
  const c2fMs: number[] = [];
  const pairs = dense.queries.map((v, i) => ({ cascade: buildCascade(sorted, stageVectors(v, sorted), { stageLimits: dense.stageLimits }), lex: queries[i % queries.length]! }));
  const run = async (p: (typeof pairs)[number], hybrid: boolean) => {
    const denseBranch = { ...p.cascade, limit: hybrid ? 20 : 10 };
    if (!hybrid) return client.query(collection, { ...denseBranch, with_payload: false });
    return client.query(collection, { prefetch: [denseBranch, { query: p.lex, using: 'lex', limit: 20 }], query: { fusion: 'rrf' }, limit: 10, with_payload: false });
  };
  for (const p of pairs.slice(0, args.warmup)) {
    await run(p, true);
    await run(p, false);
  }
  for (const p of pairs.slice(args.warmup)) {
    let s = performance.now();
    await run(p, true);
    hybridMs.push(performance.now() - s);
    s = performance.now();
    await run(p, false);
    c2fMs.push(performance.now() - s);
  }
  hybridMs.sort((x, y) => x - y);
  c2fMs.sort((x, y) => x - y);
  report({
    suite: 'store',
    metric: 'hybrid_rrf_latency_p50',
    value: percentile(hybridMs, 50),
    unit: 'ms',
    baseline: 'c2f_dense_only_same_queries',
    ratio: percentile(hybridMs, 50) / percentile(c2fMs, 50),
    baseline_value: Number(percentile(c2fMs, 50).toPrecision(4)),
    p99: Number(percentile(hybridMs, 99).toPrecision(4)),
    shape: `prefetch [c2f 64->256->1024 (stage limits ${dense.stageLimits.join(':')}, 20 kept), lex sparse (20)] fused rrf, limit 10`,
    ...sparseCommon,
    queries: hybridMs.length,
  });
}
