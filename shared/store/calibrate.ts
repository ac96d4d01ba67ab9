/**
 * Calibration of the coarse-to-fine stage limits on the data actually stored: how many
 * candidates each coarse stage must keep for the cascade to return what an exact 1024-d scan
 * would. Too few loses results, too many wastes the speed-up; the right numbers depend on the
 * catalogue, so they are measured, saved under DATA_DIR, and used by the query service.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { vectorName } from '../encoder/types.ts';
import { ClipstreamError } from '../errors.ts';
import {
  checkStageLimits,
  coarseToFineSearch,
  defaultStageLimits,
  excludeIds,
  exactSearch,
  sortedDims,
  type Filter,
  type SearchTarget,
} from './coarse-to-fine.ts';

export const CALIBRATION_FILE = 'calibration.json';

export interface CalibrationOptions {
  /** Hits compared per query (recall@k). */
  k?: number | undefined;
  /** Recall the chosen limits must reach. */
  target?: number | undefined;
  /** Stored points used as queries. */
  samples?: number | undefined;
  /** Stage-limit tuples to try, e.g. [[100, 20], [200, 50]]; default: defaultGrid. */
  grid?: number[][] | undefined;
  /** Restrict samples and searches (e.g. to one modality). */
  filter?: Filter | undefined;
  /**
   * Representative full-width query vectors (e.g. encoded from a query log, or held-out
   * queries) used instead of stored points. Worth it whenever queries are not stored points: a
   * stored point excluding itself still lies closer to its neighbours than a real query does
   * (at 1M points limits reaching 0.994 on stored points gave 0.949 on held-out queries), and a
   * text query lies farther from the images than images lie from each other.
   */
  queries?: ReadonlyArray<ArrayLike<number>> | undefined;
  onProgress?: ((line: string) => void) | undefined;
}

export interface StageMeasurement {
  stage_limits: number[];
  /** Mean over queries of |cascade top-k ∩ exact top-k| / |exact top-k|. */
  recall: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_mean_ms: number;
}

export interface CalibrationResult {
  version: 1;
  collection: string;
  dims: number[];
  k: number;
  target: number;
  /** Queries actually run (fewer than asked for when the collection is small). */
  samples: number;
  /** Where the queries came from. */
  queries: 'stored_points' | 'given_vectors';
  exact: { latency_p50_ms: number; latency_p99_ms: number; latency_mean_ms: number };
  grid: StageMeasurement[];
  /** The cheapest limits reaching the target, or the best measured when none did. */
  chosen: StageMeasurement;
  reached: boolean;
  measured_at: string;
}

export interface LoadedCalibration {
  stageLimits: number[];
  source: 'calibration' | 'default';
  /** Recall measured for these limits, when calibrated. */
  recall?: number | undefined;
  file: string;
}

/** Candidate limits, cheapest first (fewest first-stage candidates, then fewest second-stage). */
export function defaultGrid(dims: readonly number[], k = 10): number[][] {
  const coarse = sortedDims(dims).length - 1;
  const grid: number[][] = [];
  if (coarse === 2) {
    for (const l1 of [50, 100, 200, 400, 800, 1600]) for (const l2 of [20, 50, 100, 200, 400]) grid.push([l1, l2]);
  } else {
    for (const base of [20, 50, 100, 200, 400]) for (const ratio of [1, 2, 4]) grid.push(Array.from({ length: coarse }, (_, i) => base * ratio ** (coarse - 1 - i)));
  }
  return sortGrid(grid.filter((g) => valid(dims, g, k)));
}

/** `100:20,200:50` → [[100, 20], [200, 50]], each checked against the dims and k. */
export function parseGrid(spec: string, dims: readonly number[], k = 10): number[][] {
  const grid = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((tuple) => {
      const limits = tuple.split(':').map((x) => Number(x));
      try {
        checkStageLimits(dims, limits, k);
      } catch (err) {
        throw new ClipstreamError('BAD_REQUEST', `stage limits "${tuple}": ${(err as Error).message}`);
      }
      return limits;
    });
  if (grid.length === 0) throw new ClipstreamError('BAD_REQUEST', `no stage limits in "${spec}"`);
  return sortGrid(grid);
}

/** The first tuple (in cost order) reaching `target`, else the one with the best recall. */
export function chooseStageLimits(measured: readonly StageMeasurement[], target: number): { chosen: StageMeasurement; reached: boolean } {
  if (measured.length === 0) throw new ClipstreamError('BAD_REQUEST', 'nothing was measured');
  const ordered = [...measured].sort((a, b) => compareLimits(a.stage_limits, b.stage_limits));
  const hit = ordered.find((m) => m.recall >= target);
  if (hit) return { chosen: hit, reached: true };
  const best = ordered.reduce((a, b) => (b.recall > a.recall ? b : a));
  return { chosen: best, reached: false };
}

/**
 * Stored points as queries, each excluding itself (as "more like this" does), so a point
 * trivially finding itself does not flatter the recall. Point ids are UUIDv5 hashes of source
 * URIs, so the first N in id order (scroll order) are an unbiased sample of the catalogue.
 */
export async function sampleQueries(target: SearchTarget, n: number, filter?: Filter): Promise<Array<{ id: string | undefined; vector: number[] }>> {
  const final = sortedDims(target.dims).at(-1)!;
  const out: Array<{ id: string | undefined; vector: number[] }> = [];
  let offset: string | number | undefined;
  while (out.length < n) {
    const page = await target.client.scroll(target.collection, {
      limit: Math.min(256, n - out.length),
      ...(offset !== undefined ? { offset } : {}),
      ...(filter ? { filter } : {}),
      with_payload: false,
      with_vector: [vectorName(final)],
    });
    for (const p of page.points) {
      const v = (p.vector as Record<string, unknown> | undefined)?.[vectorName(final)];
      if (Array.isArray(v) && v.length === final) out.push({ id: String(p.id), vector: v as number[] });
    }
    const next = page.next_page_offset;
    if (next === undefined || next === null || page.points.length === 0) break;
    offset = typeof next === 'string' || typeof next === 'number' ? next : String(next);
  }
  return out;
}

export async function calibrate(target: SearchTarget, opts: CalibrationOptions = {}): Promise<CalibrationResult> {
  const k = opts.k ?? 10;
  const goal = opts.target ?? 0.99;
  const grid = opts.grid ?? defaultGrid(target.dims, k);
  for (const g of grid) checkStageLimits(target.dims, g, k);
  const final = sortedDims(target.dims).at(-1)!;
  const queries = opts.queries
    ? opts.queries.slice(0, opts.samples ?? opts.queries.length).map((v, i) => {
        if (v.length !== final) throw new ClipstreamError('VECTOR_INVALID', `query vector ${i + 1} has ${v.length} values, expected ${final}`);
        return { id: undefined, vector: Array.from(v) };
      })
    : await sampleQueries(target, opts.samples ?? 200, opts.filter);
  if (queries.length === 0) {
    throw new ClipstreamError('BAD_REQUEST', `no points with ${sortedDims(target.dims).at(-1)}-d vectors to calibrate on`, { item: target.collection });
  }
  opts.onProgress?.(`${queries.length} queries, k=${k}, ${grid.length} stage-limit tuples`);

  const own = (id: string | undefined) => (id === undefined ? opts.filter : excludeIds(opts.filter, [id]));
  const truth: string[][] = [];
  const exactMs: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    const hits = await exactSearch(target, { vector: q.vector, limit: k, filter: own(q.id), withPayload: false });
    exactMs.push(performance.now() - t);
    truth.push(hits.map((h) => h.id));
  }

  const measured: StageMeasurement[] = [];
  for (const stageLimits of grid) {
    const ms: number[] = [];
    let recallSum = 0;
    for (const [i, q] of queries.entries()) {
      const t = performance.now();
      const hits = await coarseToFineSearch(target, {
        vector: q.vector,
        limit: k,
        stageLimits,
        filter: own(q.id),
        withPayload: false,
      });
      ms.push(performance.now() - t);
      recallSum += recallAt(truth[i]!, hits.map((h) => h.id));
    }
    const m: StageMeasurement = { stage_limits: [...stageLimits], recall: recallSum / queries.length, ...latency(ms) };
    measured.push(m);
    opts.onProgress?.(`${stageLimits.join(':')} recall@${k}=${m.recall.toFixed(4)} p50=${m.latency_p50_ms.toFixed(2)}ms`);
  }
  const { chosen, reached } = chooseStageLimits(measured, goal);
  return {
    version: 1,
    collection: target.collection,
    dims: sortedDims(target.dims),
    k,
    target: goal,
    samples: queries.length,
    queries: opts.queries ? 'given_vectors' : 'stored_points',
    exact: latency(exactMs),
    grid: measured,
    chosen,
    reached,
    measured_at: new Date().toISOString(),
  };
}

/** |found ∩ truth| / |truth|; 1 when the truth is empty (nothing to find). */
export function recallAt(truth: readonly string[], found: readonly string[]): number {
  if (truth.length === 0) return 1;
  const f = new Set(found);
  return truth.filter((id) => f.has(id)).length / truth.length;
}

/** Writes DATA_DIR/calibration.json atomically (a reader never sees half a file). */
export async function saveCalibration(dataDir: string, result: CalibrationResult): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, CALIBRATION_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(result, null, 2) + '\n');
  await rename(tmp, file);
  return file;
}

/**
 * The stage limits to use by default: the calibrated ones when DATA_DIR/calibration.json exists
 * and was measured for these dims, else defaultStageLimits (L1=400, L2=100 for 64/256/1024).
 */
export function loadCalibration(dataDir: string, dims: readonly number[] = [64, 256, 1024]): LoadedCalibration {
  const file = path.join(dataDir, CALIBRATION_FILE);
  const fallback: LoadedCalibration = { stageLimits: defaultStageLimits(sortedDims(dims)), source: 'default', file };
  let parsed: Partial<CalibrationResult>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CalibrationResult>;
  } catch {
    return fallback;
  }
  const limits = parsed.chosen?.stage_limits;
  const sameDims = JSON.stringify(parsed.dims) === JSON.stringify(sortedDims(dims));
  if (!sameDims || !Array.isArray(limits)) return fallback;
  try {
    checkStageLimits(dims, limits, 1);
  } catch {
    return fallback;
  }
  return { stageLimits: limits, source: 'calibration', recall: parsed.chosen?.recall, file };
}

function latency(ms: number[]): { latency_p50_ms: number; latency_p99_ms: number; latency_mean_ms: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  const mean = ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length);
  return { latency_p50_ms: at(0.5), latency_p99_ms: at(0.99), latency_mean_ms: mean };
}

function valid(dims: readonly number[], limits: number[], k: number): boolean {
  try {
    checkStageLimits(dims, limits, k);
    return true;
  } catch {
    return false;
  }
}

function compareLimits(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function sortGrid(grid: number[][]): number[][] {
  return [...grid].sort(compareLimits);
}
