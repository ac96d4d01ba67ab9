/**
 * `npm run bench -- store [--points 200000] [--queries 200] [--batch 256] [--concurrency 4]`
 *
 * Synthetic Matryoshka-like data: C cluster centres with per-dimension std s_j = (j+1)^-0.5
 * (variance falls with the dimension index, as in an MRL-trained embedding, whose leading dims
 * carry most of the signal: here ~63% of the energy sits in the first 64 of 1024 dims), each
 * point a centre plus noise σ·s_j; the stored 64/256/1024-d vectors are prefixes of the same
 * 1024-d vector, each re-normalised. Queries are held out: a stored point's raw vector plus
 * fresh noise τ·s_j, never a stored vector itself.
 *
 * Figures (suite "store"): coarse-to-fine recall@10 and latency against the exact 1024-d scan
 * in the same run (stage limits chosen by `calibrate` on stored points, then measured on the
 * held-out queries), upsert throughput through the HTTP API with wait=true, and the store
 * process's RSS over the raw vector bytes. The embedded store runs in a child process so its
 * RSS is its own; with QDRANT_URL set the same run targets that server (RSS not measured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { QdrantClient } from '@qdrant/js-client-rest';
import { percentile, report } from '../report.ts';
import { calibrate } from '../../shared/store/calibrate.ts';
import { coarseToFineSearch, exactSearch, type SearchTarget } from '../../shared/store/coarse-to-fine.ts';
import { pointId } from '../../shared/store/ids.ts';
import type { CataloguePoint } from '../../shared/store/points.ts';
import { ensureCollection, SCHEMA_VERSION } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { MatryoshkaData, mulberry32, prefixNormalized } from './synthetic.ts';

const DIMS = [64, 256, 1024] as const;
const SUITE = 'store';

interface Args {
  points: number;
  queries: number;
  k: number;
  batch: number;
  concurrency: number;
  clusters: number;
  sigma: number;
  tau: number;
  calibSamples: number;
  target: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { points: 200_000, queries: 200, k: 10, batch: 256, concurrency: 4, clusters: 1000, sigma: 0.5, tau: 0.5, calibSamples: 100, target: 0.99, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Args;
    const value = Number(argv[++i]);
    if (!(key in a) || !Number.isFinite(value)) throw new Error(`bad argument ${argv[i - 1]} ${argv[i]}`);
    a[key] = value;
  }
  return a;
}

// ---- the store under test --------------------------------------------------------------------

interface StoreUnderTest {
  url: string;
  pid?: number;
  close(): Promise<void>;
}

async function startStore(): Promise<StoreUnderTest> {
  if (process.env.QDRANT_URL) return { url: process.env.QDRANT_URL, close: async () => {} };
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipstream-bench-store-'));
  const server = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.ts');
  const child: ChildProcess = spawn(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', server, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`store process exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return {
    url,
    pid: child.pid,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function waitForIndexing(client: QdrantClient, collection: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const info = await client.getCollection(collection);
    if (info.status === 'green') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return performance.now() - started;
}

const log = (line: string) => process.stderr.write(`[bench store] ${line}\n`);

// ---- the run -------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const data = new MatryoshkaData(args);
  log(
    `data: ${args.points} points, ${args.clusters} clusters, per-dim std (j+1)^-0.5, noise σ=${args.sigma}, ` +
      `queries: ${args.queries} held-out (stored point + noise τ=${args.tau}), k=${args.k}`,
  );

  // Vectors are generated before timing: the upsert figure is the store path (build points,
  // serialise, HTTP, apply, wait=true), not the random-number generator.
  let t = performance.now();
  const stored = DIMS.map((d) => new Float32Array(args.points * d));
  const clusters = new Uint32Array(args.points);
  for (let i = 0; i < args.points; i++) {
    const { x, cluster } = data.raw(i);
    clusters[i] = cluster;
    DIMS.forEach((d, s) => stored[s]!.set(prefixNormalized(x, d), i * d));
  }
  log(`generated in ${((performance.now() - t) / 1000).toFixed(1)}s`);

  const now = new Date().toISOString();
  const makePoint = (i: number): CataloguePoint => {
    const source = `record:bench/${i}`;
    return {
      id: pointId(source),
      vector: Object.fromEntries(DIMS.map((d, s) => [`mrl_${d}`, Array.from(stored[s]!.subarray(i * d, (i + 1) * d))])),
      payload: {
        modality: i % 4 === 0 ? 'text' : 'image',
        source,
        product_id: `c${clusters[i]}`,
        content_hash: `h${i}`,
        model: 'synthetic-matryoshka',
        schema_version: SCHEMA_VERSION,
        indexed_at: now,
      },
    };
  };

  const store = await startStore();
  const client = new QdrantClient({ url: store.url, timeout: 600_000, checkCompatibility: false });
  const alias = `bench_store_${Date.now()}`;
  try {
    const { collection } = await ensureCollection(client, { alias, dims: DIMS, model: 'synthetic-matryoshka' }, { storeUrl: store.url });

    // ---- the JSON ceiling: one core serialising (client) and parsing (server) the same batches.
    // Three float vectors make ~29 KB of JSON per point, so these bound any JSON-over-HTTP store.
    const sample = Array.from({ length: Math.min(args.points, args.batch * 8) }, (_, i) => makePoint(i));
    let bodies: string[] = [];
    t = performance.now();
    for (let i = 0; i < sample.length; i += args.batch) bodies.push(JSON.stringify({ points: sample.slice(i, i + args.batch) }));
    const encodeRate = sample.length / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const body of bodies) JSON.parse(body);
    const parseRate = sample.length / ((performance.now() - t) / 1000);
    const jsonBytesPerPoint = bodies.reduce((n, b) => n + b.length, 0) / sample.length;
    bodies = [];

    const emptyRss = store.pid ? (await memoryOf(store.pid)).rss : NaN;

    // ---- upsert throughput
    const upserter = new BatchUpserter(client, { collection, storeUrl: store.url, batchSize: args.batch, concurrency: args.concurrency });
    const window = args.batch * args.concurrency * 2;
    const pending: Promise<void>[] = [];
    t = performance.now();
    for (let i = 0; i < args.points; i++) {
      pending.push(upserter.add(makePoint(i)));
      if (pending.length >= window) await Promise.all(pending.splice(0, pending.length - window / 2));
    }
    await upserter.flush();
    await Promise.all(pending);
    const upsertS = (performance.now() - t) / 1000;
    const upsertRate = args.points / upsertS;
    log(`upserted in ${upsertS.toFixed(1)}s (${upserter.stats.requests} requests, ${upserter.stats.retries} retries)`);
    const indexMs = await waitForIndexing(client, collection, 30 * 60_000);
    log(`collection green ${(indexMs / 1000).toFixed(1)}s after the last acknowledged upsert`);
    const count = (await client.count(collection, { exact: true })).count;
    if (count !== args.points) throw new Error(`stored ${count} points, expected ${args.points}`);

    // ---- stage limits as a deployment would get them: calibrated on stored points
    const target: SearchTarget = { client, collection: alias, dims: DIMS };
    t = performance.now();
    const calibration = await calibrate(target, {
      k: args.k,
      target: args.target,
      samples: args.calibSamples,
      grid: [[20, 10], [50, 10], [50, 20], [100, 20], [100, 50], [200, 50], [400, 100], [800, 200]],
      onProgress: log,
    });
    const stageLimits = calibration.chosen.stage_limits;
    log(`calibrated in ${((performance.now() - t) / 1000).toFixed(1)}s: stage limits ${stageLimits.join(':')} (recall ${calibration.chosen.recall.toFixed(4)} on stored points)`);

    // ---- held-out queries: exact scan vs coarse-to-fine, interleaved so both see the same cache state
    const rand = mulberry32(args.seed * 15_485_863);
    const queries = Array.from({ length: args.queries }, (_, q) => data.query(Math.floor(rand() * args.points), q));
    for (const v of queries.slice(0, 5)) {
      await exactSearch(target, { vector: v, limit: args.k, withPayload: false });
      await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits, withPayload: false });
    }
    const exactMs: number[] = [];
    const c2fMs: number[] = [];
    let recallSum = 0;
    const truths: string[][] = [];
    for (const v of queries) {
      let s = performance.now();
      const truth = await exactSearch(target, { vector: v, limit: args.k, withPayload: false });
      exactMs.push(performance.now() - s);
      s = performance.now();
      const found = await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits, withPayload: false });
      c2fMs.push(performance.now() - s);
      const f = new Set(found.map((h) => h.id));
      recallSum += truth.filter((h) => f.has(h.id)).length / Math.max(1, truth.length);
      truths.push(truth.map((h) => h.id));
    }
    // Context: the uncalibrated defaults on the same queries (cascade only; the truth is known).
    let defaultRecallSum = 0;
    for (const [qi, v] of queries.entries()) {
      const found = await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits: [400, 100], withPayload: false });
      const f = new Set(found.map((h) => h.id));
      defaultRecallSum += truths[qi]!.filter((id) => f.has(id)).length / Math.max(1, truths[qi]!.length);
    }
    exactMs.sort((a, b) => a - b);
    c2fMs.sort((a, b) => a - b);
    const recall = recallSum / queries.length;
    const common = {
      points: args.points,
      queries: args.queries,
      stage_limits: stageLimits,
      data: `clusters=${args.clusters} std_j=(j+1)^-0.5 sigma=${args.sigma} tau=${args.tau} (held-out perturbed points)`,
      store: process.env.QDRANT_URL ? 'qdrant' : 'embedded',
    };
    report({ suite: SUITE, metric: `c2f_recall_at_${args.k}`, value: recall, unit: 'ratio', baseline: 'exact_1024d_scan', ratio: recall, goal: '>= 0.99', recall_at_default_400_100: Number((defaultRecallSum / queries.length).toFixed(4)), calibration_recall_on_stored_points: Number(calibration.chosen.recall.toFixed(4)), ...common });
    for (const p of [50, 99]) {
      const c2f = percentile(c2fMs, p);
      const exact = percentile(exactMs, p);
      report({
        suite: SUITE,
        metric: `c2f_latency_p${p}`,
        value: c2f,
        unit: 'ms',
        baseline: 'exact_1024d_scan',
        ratio: c2f / exact,
        baseline_value: Number(exact.toPrecision(4)),
        goal: 'ratio <= 0.2',
        ...common,
      });
    }
    report({
      suite: SUITE,
      metric: 'upsert_points_per_s',
      value: upsertRate,
      unit: 'points/s',
      baseline: 'json_encode_one_core',
      ratio: upsertRate / encodeRate,
      baseline_value: Math.round(encodeRate),
      json_parse_one_core_points_per_s: Math.round(parseRate),
      json_bytes_per_point: Math.round(jsonBytesPerPoint),
      load_average_1m: Number(os.loadavg()[0]!.toFixed(2)),
      cpus: os.cpus().length,
      goal: '>= 20000',
      batch: args.batch,
      concurrency: args.concurrency,
      vectors: 'mrl_64+mrl_256+mrl_1024, wait=true',
      index_ready_s: Number((indexMs / 1000).toFixed(1)),
      ...common,
    });
    if (store.pid) {
      const mem = await memoryOf(store.pid);
      const raw = args.points * (64 + 256 + 1024) * 4;
      report({
        suite: SUITE,
        metric: 'rss_over_raw_vector_bytes',
        value: mem.rss / raw,
        unit: 'ratio',
        baseline: 'raw_vector_bytes',
        ratio: mem.rss / raw,
        rss_bytes: mem.rss,
        peak_rss_bytes: mem.peak,
        peak_over_raw: Number((mem.peak / raw).toPrecision(4)),
        empty_store_rss_bytes: emptyRss,
        raw_vector_bytes: raw,
        goal: '<= 1.3',
        ...common,
      });
    }
  } finally {
    await client.deleteCollection((await client.getAliases()).aliases.find((a) => a.alias_name === alias)?.collection_name ?? alias).catch(() => {});
    await store.close();
  }
}
