/**
 * Deterministic Matryoshka-like vectors, shared by the store benchmark and the store tests.
 * C cluster centres with per-dimension std s_j = (j+1)^-0.5 (variance falls with the dimension
 * index, as in an MRL-trained embedding: ~63% of the energy is in the first 64 of 1024 dims);
 * point i = a centre + noise σ·s_j, regenerated identically from (seed, i) whenever needed;
 * a held-out query = a point's raw vector + fresh noise τ·s_j.
 */
import { pointId } from '../../shared/store/ids.ts';
import type { CataloguePoint } from '../../shared/store/points.ts';
import { SCHEMA_VERSION } from '../../shared/store/schema.ts';

export const FULL = 1024;

export interface SyntheticParams {
  clusters: number;
  sigma: number;
  tau: number;
  seed: number;
}

export function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussians(rand: () => number, out: Float64Array, scale: Float64Array, factor: number): void {
  for (let j = 0; j < out.length; j += 2) {
    const u = Math.max(rand(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * rand();
    out[j] = r * Math.cos(th) * scale[j]! * factor;
    if (j + 1 < out.length) out[j + 1] = r * Math.sin(th) * scale[j + 1]! * factor;
  }
}

export class MatryoshkaData {
  readonly std = Float64Array.from({ length: FULL }, (_, j) => (j + 1) ** -0.5);
  readonly centres: Float64Array[];
  constructor(private readonly args: SyntheticParams) {
    const rand = mulberry32(args.seed * 7919);
    this.centres = Array.from({ length: args.clusters }, () => {
      const c = new Float64Array(FULL);
      gaussians(rand, c, this.std, 1);
      return c;
    });
  }
  /** Point i's raw 1024-d vector and cluster, regenerated identically on demand. */
  raw(i: number): { x: Float64Array; cluster: number } {
    const rand = mulberry32((this.args.seed * 1_000_003 + i) >>> 0);
    const cluster = Math.floor(rand() * this.args.clusters);
    const x = new Float64Array(FULL);
    gaussians(rand, x, this.std, this.args.sigma);
    const c = this.centres[cluster]!;
    for (let j = 0; j < FULL; j++) x[j]! += c[j]!;
    return { x, cluster };
  }
  /** A held-out query near point i: its raw vector plus fresh noise. */
  query(i: number, q: number): number[] {
    const { x } = this.raw(i);
    const noise = new Float64Array(FULL);
    gaussians(mulberry32((this.args.seed * 104_729 + q * 31 + 17) >>> 0), noise, this.std, this.args.tau);
    return Array.from(x, (v, j) => v + noise[j]!);
  }
}

export function prefixNormalized(x: Float64Array, dim: number): number[] {
  let n = 0;
  for (let j = 0; j < dim; j++) n += x[j]! * x[j]!;
  n = Math.sqrt(n);
  const out = new Array<number>(dim);
  for (let j = 0; j < dim; j++) out[j] = x[j]! / n;
  return out;
}

/** Point i as the store would receive it: vectors per dim, a small realistic payload. */
export function syntheticPoint(data: MatryoshkaData, i: number, opts: { dims?: readonly number[]; products?: number; dataset?: string } = {}): CataloguePoint {
  const dims = opts.dims ?? [64, 256, 1024];
  const { x } = data.raw(i);
  const source = `record:${opts.dataset ?? 'synthetic'}/${i}`;
  return {
    id: pointId(source),
    vector: Object.fromEntries(dims.map((d) => [`mrl_${d}`, prefixNormalized(x, d)])),
    payload: {
      modality: i % 4 === 0 ? 'text' : 'image',
      source,
      product_id: `p${i % (opts.products ?? 40)}`,
      content_hash: `h${i}`,
      model: 'synthetic-matryoshka',
      schema_version: SCHEMA_VERSION,
      indexed_at: '2025-01-01T00:00:00.000Z',
    },
  };
}
