/**
 * What an ANN index of one dense named vector is built with, resolved from the collection's
 * configuration as Qdrant resolves it: the vector's own `hnsw_config` over the collection's,
 * its own `quantization_config` over the collection's, and the optimiser's thresholds. Sizes
 * in Qdrant's units: `indexing_threshold` and `full_scan_threshold` are kilobytes of vectors.
 */
import os from 'node:os';
import type { CollectionMeta } from '../meta.ts';
import type { Distance } from '../vectors.ts';

export type IndexScalar = 'f32' | 'i8' | 'b1';

export interface AnnParams {
  dim: number;
  distance: Distance;
  /** Graph degree; 0 means no index (every search is exact), as `m: 0` in Qdrant. */
  m: number;
  efConstruct: number;
  /** Below this many bytes of filtered vectors a filtered search scans them exactly. */
  fullScanBytes: number;
  /** The appendable part is folded into the index once it holds this many bytes of vectors (0: never). */
  indexingBytes: number;
  /** Threads the optimiser adds points with (`max_indexing_threads`, 0 = one less than the cores). */
  threads: number;
  /** How the index holds vectors: float32, or quantised (scalar int8, binary). */
  scalar: IndexScalar;
  /** Quantised indexes return this many times the candidates (before rescoring with the originals). */
  defaultOversampling: number;
  /** Quantised scores are replaced by exact ones from the original vectors (default true). */
  defaultRescore: boolean;
}

type Body = Record<string, unknown>;

const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

/** The index parameters of a dense vector, or null when it gets no index (m 0, or a metric usearch lacks). */
export function annParams(meta: CollectionMeta, name: string): AnnParams | null {
  const v = meta.vectors[name];
  if (!v) return null;
  const hnsw = { ...meta.hnsw_config, ...((v.hnsw_config ?? {}) as Body) };
  const m = num(hnsw.m, 16);
  // Manhattan has no usearch metric: such a vector stays exact, as a plain segment would.
  if (m <= 0 || v.distance === 'Manhattan') return null;
  const quant = (v.quantization_config ?? meta.quantization_config ?? null) as Body | null;
  let scalar: IndexScalar = 'f32';
  // The quantisation's own settings (quantile, always_ram) do not apply to usearch's codes.
  if (quant && typeof quant === 'object') {
    if (quant.scalar && typeof quant.scalar === 'object') {
      // usearch's int8 maps [-1, 1] onto [-127, 127]: right for unit vectors (Cosine) only.
      if (v.distance === 'Cosine') scalar = 'i8';
    } else if (quant.binary && typeof quant.binary === 'object') {
      scalar = 'b1';
    }
  }
  const maxThreads = num(hnsw.max_indexing_threads, 0);
  return {
    dim: v.size,
    distance: v.distance,
    m,
    efConstruct: Math.max(4, num(hnsw.ef_construct, 100)),
    fullScanBytes: num(hnsw.full_scan_threshold, 10_000) * 1024,
    indexingBytes: num(meta.optimizers_config.indexing_threshold, 10_000) * 1024,
    threads: maxThreads > 0 ? maxThreads : Math.max(1, Math.min(8, os.availableParallelism() - 1)),
    scalar,
    // Binary codes rank coarsely: Qdrant's guides pair them with oversampling.
    defaultOversampling: scalar === 'b1' ? 3 : 1,
    defaultRescore: true,
  };
}

/** What decides the index file's layout: a change rebuilds the index. */
export function fingerprint(p: AnnParams): string {
  return `${p.dim}:${p.distance}:${p.m}:${p.efConstruct}:${p.scalar}`;
}

/** usearch's name for the metric (vectors of a Cosine collection are stored unit length). */
export function usearchMetric(p: AnnParams): 'cos' | 'ip' | 'l2sq' | 'hamming' {
  if (p.scalar === 'b1') return 'hamming';
  return p.distance === 'Cosine' ? 'cos' : p.distance === 'Dot' ? 'ip' : 'l2sq';
}

/** The query's `params` for search: beam width, exactness, indexed-only, quantisation overrides. */
export interface SearchParams {
  hnswEf: number | null;
  exact: boolean;
  indexedOnly: boolean;
  quantization: { ignore: boolean; rescore: boolean | null; oversampling: number | null } | null;
}

export function parseSearchParams(raw: unknown): SearchParams {
  const p = (raw ?? {}) as Body;
  const q = p.quantization as Body | null | undefined;
  return {
    hnswEf: typeof p.hnsw_ef === 'number' ? p.hnsw_ef : null,
    exact: p.exact === true,
    indexedOnly: p.indexed_only === true,
    quantization: q && typeof q === 'object'
      ? { ignore: q.ignore === true, rescore: typeof q.rescore === 'boolean' ? q.rescore : null, oversampling: typeof q.oversampling === 'number' ? q.oversampling : null }
      : null,
  };
}
