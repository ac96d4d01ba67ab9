/**
 * `npm run bench -- store [--points 200000] [--queries 500] [--warmup 20] [--batch 256]
 *                         [--concurrency 4] [--client-points N (default: --points; 0 skips)]
 *                         [--sparse 1 (0 skips the sparse/hybrid figures)] [--sparse-queries 200] [--sparse-terms 30]
 *                         [--query-terms 4] [--zipf 1.0] [--port 0 (the store's port; the JS-client store takes the next)]`
 *
 * Synthetic Matryoshka-like data: C cluster centres with per-dimension std s_j = (j+1)^-0.5
 * (variance falls with the dimension index, as in an MRL-trained embedding, whose leading dims
 * carry most of the signal: here ~63% of the energy sits in the first 64 of 1024 dims), each
 * point a centre plus noise σ·s_j; the stored 64/256/1024-d vectors are prefixes of the same
 * 1024-d vector, each re-normalised and held as float32 (as the encoder hands them over).
 * Queries are held out: a stored point's raw vector plus fresh noise τ·s_j, never a stored
 * vector itself.
 *
 * Figures (suite "store"), each with a baseline measured in the same run:
 * - `upsert_points_per_s`: the store's ingest rate through its HTTP API, wait=true, three named
 *   vectors per point. Request bodies are the adapter's JSON (shared/store/points.ts), made
 *   before the clock starts; `concurrency` keep-alive streams PUT them. Baseline: JSON.parse
 *   of the same bodies in this process (how fast a plain JSON server could even read them).
 * - `upsert_points_per_s_js_client`: the same points end to end as a worker writes them —
 *   built with the adapter, serialised and sent by @qdrant/js-client-rest through
 *   BatchUpserter — into a second, fresh store process (run first: the generated vectors are
 *   then dropped, so this process holds only the bodies while the store's figure is timed).
 *   Baseline: plain JSON.stringify of the points with unrounded float32 vectors (the client's
 *   serialisation cost before compaction).
 * - `c2f_recall_at_10`, `c2f_latency_p50/p99`: coarse-to-fine against the exact 1024-d scan,
 *   stage limits calibrated on held-out queries of their own (`--calib-samples`, never the
 *   measured ones), the first stage's HNSW beam firstStageEf(L1); then measured on held-out
 *   queries run one at a time after a warm-up, the two searches interleaved so both see the
 *   same cache state. Context in the same run: recall at the default 400/100, and at the
 *   chosen limits with the beam left to the store (`recall_without_first_stage_ef`).
 * - `rss_over_raw_vector_bytes`: VmRSS of the store process (its own process: no client,
 *   bodies or generated vectors in it; all its threads, the V8 heap with payloads, ids and
 *   indexes, the vector columns, code) at the end of the run, over 4·(64+256+1024) bytes per
 *   point. Nothing is subtracted; the empty store's RSS and a heap breakdown are reported.
 * - `sparse_query_latency_p50/p99`, `hybrid_rrf_latency_p50`: see sparse.ts (run last, on the
 *   same collection, so they do not change the figures above).
 * The embedded store runs in child processes; with QDRANT_URL set the same run targets that
 * server instead (RSS and CPU then not measured).
 */
import { loadConfig } from '../../shared/config/index.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { QdrantClient } from '@qdrant/js-client-rest';
import { percentile, report } from '../report.ts';
import { calibrate } from '../../shared/store/calibrate.ts';
import { coarseToFineSearch, exactSearch, firstStageEf, type SearchTarget } from '../../shared/store/coarse-to-fine.ts';
import { pointId } from '../../shared/store/ids.ts';
import { namedVectors, type CataloguePoint, type PointPayload } from '../../shared/store/points.ts';
import { ensureCollection, SCHEMA_VERSION } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { MatryoshkaData, mulberry32, prefixNormalized } from './synthetic.ts';
import { SPARSE_DEFAULTS, sparseBench } from './sparse.ts';

const DIMS = [64, 256, 1024] as const;
const SUITE = 'store';
const MODEL = 'synthetic-matryoshka';
/** Linux reports thread CPU times in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_S = 100;

interface Args {
  points: number;
  queries: number;
  warmup: number;
  k: number;
  batch: number;
  concurrency: number;
  clientPoints: number;
  clusters: number;
  sigma: number;
  tau: number;
  calibSamples: number;
  target: number;
  seed: number;
  /** 0 skips the sparse and hybrid figures. */
  sparse: number;
  /** Sparse query pairs (each one a full scan too: kept apart from --queries so large runs stay short). */
  sparseQueries: number;
  sparseTerms: number;
  queryTerms: number;
  zipf: number;
  /** The embedded store's port (0: any free one); the JS-client figure's store listens on the next. */
  port: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { points: 200_000, queries: 500, warmup: 20, k: 10, batch: 256, concurrency: 4, clientPoints: -1, clusters: 1000, sigma: 0.5, tau: 0.5, calibSamples: 100, target: 0.99, seed: 1, sparse: 1, sparseQueries: 200, sparseTerms: SPARSE_DEFAULTS.terms, queryTerms: SPARSE_DEFAULTS.queryTerms, zipf: SPARSE_DEFAULTS.zipf, port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Args;
    const value = Number(argv[++i]);
    if (!(key in a) || !Number.isFinite(value)) throw new Error(`bad argument ${argv[i - 1]} ${argv[i]}`);
    a[key] = value;
  }
  if (a.clientPoints < 0) a.clientPoints = a.points;
  return a;
}

// ---- the store under test --------------------------------------------------------------------

type MemoryUsage = ReturnType<typeof process.memoryUsage>;

interface StoreUnderTest {
  url: string;
  /** Set for an embedded store in a child process. */
  pid?: number | undefined;
  memoryUsage(): Promise<MemoryUsage | undefined>;
  close(): Promise<void>;
}

async function startStore(port: number): Promise<StoreUnderTest> {
  const qdrantUrl = loadConfig().store.qdrantUrl;
  if (qdrantUrl) return { url: qdrantUrl, memoryUsage: async () => undefined, close: async () => {} };
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipstream-bench-store-'));
  const server = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.ts');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', server, dataDir, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies: ((line: string) => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`store process exited (${code}) before listening`)));
    lines.once('line', (line) => {
      resolve((JSON.parse(line) as { url: string }).url);
      lines.on('line', (l) => replies.shift()?.(l));
    });
  });
  return {
    url,
    pid: child.pid,
    memoryUsage: () =>
      new Promise((resolve) => {
        replies.push((line) => resolve(JSON.parse(line) as MemoryUsage));
        child.stdin!.write('memory\n');
      }),
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** CPU seconds (user + system) of a process's main thread and of all its other threads. */
function cpuOf(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const s = (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
    if (Number(tid) === pid) main += s;
    else others += s;
  }
  return { main, others };
}

const log = (line: string) => process.stderr.write(`[bench store] ${line}\n`);
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** PUTs each body (a `{points: […]}` upsert) with wait=true over `streams` keep-alive connections. */
async function putAll(url: string, collection: string, bodies: Buffer[], streams: number): Promise<void> {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: streams });
  const put = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          method: 'PUT',
          path: `/collections/${encodeURIComponent(collection)}/points?wait=true`,
          agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode === 200 ? (JSON.parse(text) as { result?: { status?: string } }).result?.status : undefined;
            if (status === 'completed') resolve();
            else reject(new Error(`upsert answered ${res.statusCode}: ${text.slice(0, 300)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: streams }, async () => {
        while (next < bodies.length) await put(bodies[next++]!);
      }),
    );
  } finally {
    agent.destroy();
  }
}

// ---- the run -------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const data = new MatryoshkaData(args);
  log(
    `data: ${args.points} points, ${args.clusters} clusters, per-dim std (j+1)^-0.5, noise σ=${args.sigma}, ` +
      `queries: ${args.queries} held-out (stored point + noise τ=${args.tau}) after ${args.warmup} warm-up, k=${args.k}`,
  );

  let t = performance.now();
  const stored: Float32Array[] = DIMS.map((d) => new Float32Array(args.points * d));
  const clusters = new Uint32Array(args.points);
  for (let i = 0; i < args.points; i++) {
    const { x, cluster } = data.raw(i);
    clusters[i] = cluster;
    DIMS.forEach((d, s) => stored[s]!.set(prefixNormalized(x, d), i * d));
  }
  log(`generated in ${((performance.now() - t) / 1000).toFixed(1)}s`);

  const now = new Date().toISOString();
  const vectorsOf = (i: number) => Object.fromEntries(DIMS.map((d, s) => [d, stored[s]!.subarray(i * d, (i + 1) * d)]));
  const payloadOf = (i: number): PointPayload => {
    const source = `record:bench/${i}`;
    // lang (a keyword index of the schema): "de" on 10 % of the points, "rm" on 0.1 %, for the filtered figures.
    const lang = i % 1000 === 7 ? 'rm' : i % 10 === 3 ? 'de' : 'en';
    return { modality: i % 4 === 0 ? 'text' : 'image', source, product_id: `c${clusters[i]}`, lang, content_hash: `h${i}`, model: MODEL, schema_version: SCHEMA_VERSION, indexed_at: now };
  };
  /** A point as the adapter builds it (buildPoint's vector serialisation). */
  const adapterPoint = (i: number): CataloguePoint => {
    const payload = payloadOf(i);
    return { id: pointId(payload.source), vector: namedVectors(vectorsOf(i), DIMS, payload.source), payload };
  };
  /** The same point with its float32 vectors as plain, unrounded numbers. */
  const plainPoint = (i: number): CataloguePoint => {
    const payload = payloadOf(i);
    return { id: pointId(payload.source), vector: Object.fromEntries(DIMS.map((d, s) => [`mrl_${d}`, Array.from(stored[s]!.subarray(i * d, (i + 1) * d))])), payload };
  };

  // Baselines, one core of this process: writing the points with plain JSON.stringify, the
  // vectors unrounded and (for context) with the adapter's rounding.
  const samplePoints = Math.ceil(Math.min(args.points, 32 * args.batch) / args.batch) * args.batch;
  const stringifyRate = (make: (i: number) => CataloguePoint) => {
    const batches = Array.from({ length: Math.ceil(samplePoints / args.batch) }, (_, b) =>
      Array.from({ length: args.batch }, (_, k) => make((b * args.batch + k) % args.points)),
    );
    const started = performance.now();
    for (const points of batches) JSON.stringify({ points });
    return samplePoints / ((performance.now() - started) / 1000);
  };
  const plainStringifyRate = stringifyRate(plainPoint);
  const compactStringifyRate = stringifyRate(adapterPoint);

  const alias = `bench_store_${Date.now()}`;
  const aliases = [alias];
  const clients: Array<[QdrantClient, StoreUnderTest]> = [];
  const closeAll = async () => {
    for (const [c, s] of clients.splice(0)) {
      for (const a of aliases) {
        const name = (await c.getAliases().catch(() => ({ aliases: [] as { alias_name: string; collection_name: string }[] }))).aliases.find((x) => x.alias_name === a)?.collection_name;
        if (name) await c.deleteCollection(name).catch(() => {});
      }
      await s.close();
    }
  };
  try {
    // ---- end to end through the JS client, into a store of its own (run first, while this
    // process still needs the generated vectors; they are dropped before the store's figure)
    let clientLine: { rate: number; seconds: number; requests: number; retries: number; cpu: number } | undefined;
    if (args.clientPoints > 0) {
      const storeB = await startStore(args.port > 0 ? args.port + 1 : 0);
      const clientB = new QdrantClient({ url: storeB.url, timeout: 600_000, checkCompatibility: false });
      clients.push([clientB, storeB]);
      const aliasB = `${alias}_js`;
      aliases.push(aliasB);
      const { collection: collectionB } = await ensureCollection(clientB, { alias: aliasB, dims: DIMS, model: MODEL }, { storeUrl: storeB.url });
      const upserter = new BatchUpserter(clientB, { collection: collectionB, storeUrl: storeB.url, batchSize: args.batch, concurrency: args.concurrency });
      const window = args.batch * args.concurrency * 2;
      const pending: Promise<void>[] = [];
      const c0 = process.cpuUsage();
      t = performance.now();
      for (let i = 0; i < args.clientPoints; i++) {
        pending.push(upserter.add(adapterPoint(i % args.points)));
        if (pending.length >= window) await Promise.all(pending.splice(0, pending.length - window / 2));
      }
      await upserter.flush();
      await Promise.all(pending);
      const seconds = (performance.now() - t) / 1000;
      const c = process.cpuUsage(c0);
      clientLine = { rate: args.clientPoints / seconds, seconds, requests: upserter.stats.requests, retries: upserter.stats.retries, cpu: (c.user + c.system) / 1e6 };
      log(`js client: ${args.clientPoints} points in ${seconds.toFixed(1)}s (${upserter.stats.requests} requests, ${upserter.stats.retries} retries)`);
      await closeAll();
    }

    // Request bodies for the store's own ingest figure, made before its clock starts; then the
    // generated vectors go, so this process holds no more memory than it needs while timing.
    t = performance.now();
    let bodies: Buffer[] = [];
    for (let from = 0; from < args.points; from += args.batch) {
      const batch: CataloguePoint[] = [];
      for (let i = from; i < Math.min(args.points, from + args.batch); i++) batch.push(adapterPoint(i));
      bodies.push(Buffer.from(JSON.stringify({ points: batch })));
    }
    const bodyBytes = bodies.reduce((n, b) => n + b.length, 0);
    log(`serialised ${bodies.length} request bodies (${(bodyBytes / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    stored.length = 0;
    collectGarbage();
    // Baseline: reading the same bodies with JSON.parse (utf8 decoding included), one core.
    const sampleBodies = bodies.filter((_, i) => i % Math.max(1, Math.floor(bodies.length / 32)) === 0).slice(0, 32);
    t = performance.now();
    for (const b of sampleBodies) JSON.parse(b.toString('utf8'));
    const parsePoints = sampleBodies.length * args.batch;
    const parseRate = parsePoints / ((performance.now() - t) / 1000);
    log(`baselines: JSON.parse ${Math.round(parseRate)} points/s, JSON.stringify ${Math.round(plainStringifyRate)} (unrounded) / ${Math.round(compactStringifyRate)} (adapter) points/s`);

    const store = await startStore(args.port);
    const client = new QdrantClient({ url: store.url, timeout: 600_000, checkCompatibility: false });
    clients.push([client, store]);
    const { collection } = await ensureCollection(client, { alias, dims: DIMS, model: MODEL }, { storeUrl: store.url });
    const emptyRss = store.pid ? rssOf(store.pid).rss : NaN;

    // ---- the store's ingest rate: pre-made bodies, wait=true, several streams
    const cpu0 = store.pid ? cpuOf(store.pid) : undefined;
    const clientCpu0 = process.cpuUsage();
    t = performance.now();
    await putAll(store.url, collection, bodies, args.concurrency);
    const upsertS = (performance.now() - t) / 1000;
    const clientCpu = process.cpuUsage(clientCpu0);
    const cpu1 = store.pid ? cpuOf(store.pid) : undefined;
    const upsertRate = args.points / upsertS;
    const loadAfterUpsert = os.loadavg()[0]!;
    bodies = [];
    log(`upserted ${args.points} points in ${upsertS.toFixed(1)}s`);
    const count = (await client.count(collection, { exact: true })).count;
    if (count !== args.points) throw new Error(`stored ${count} points, expected ${args.points}`);
    const afterUpsert = store.pid ? { ...rssOf(store.pid), usage: await store.memoryUsage() } : undefined;

    // ---- the optimiser: queries are measured once the collection is green (indexes built)
    t = performance.now();
    let info = await client.getCollection(collection);
    while (info.status !== 'green') {
      await new Promise((r) => setTimeout(r, 500));
      info = await client.getCollection(collection);
    }
    const greenS = (performance.now() - t) / 1000;
    log(`green ${greenS.toFixed(1)}s after the last upsert (indexed vectors: ${info.indexed_vectors_count})`);

    // ---- stage limits calibrated on held-out queries of their own (the same kind of query as the
    // measured ones, none of them measured): stored points as queries (each excluding itself)
    // sit closer to their neighbours than a real query does and pick limits too small for it.
    const target: SearchTarget = { client, collection: alias, dims: DIMS };
    const calRand = mulberry32(args.seed * 7_368_787);
    const calibrationQueries = Array.from({ length: args.calibSamples }, (_, c) => data.query(Math.floor(calRand() * args.points), args.warmup + args.queries + c));
    t = performance.now();
    const calibration = await calibrate(target, {
      k: args.k,
      target: args.target,
      samples: args.calibSamples,
      queries: calibrationQueries,
      grid: [[20, 10], [50, 10], [50, 20], [100, 20], [100, 50], [200, 50], [400, 100], [800, 200], [1600, 400]],
      onProgress: log,
    });
    const stageLimits = calibration.chosen.stage_limits;
    log(`calibrated in ${((performance.now() - t) / 1000).toFixed(1)}s: stage limits ${stageLimits.join(':')} (recall ${calibration.chosen.recall.toFixed(4)} on held-out calibration queries)`);

    // ---- held-out queries, one at a time: exact scan vs coarse-to-fine, interleaved
    const rand = mulberry32(args.seed * 15_485_863);
    const queries = Array.from({ length: args.warmup + args.queries }, (_, q) => data.query(Math.floor(rand() * args.points), q));
    for (const v of queries.slice(0, args.warmup)) {
      await exactSearch(target, { vector: v, limit: args.k, withPayload: false });
      await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits, withPayload: false });
    }
    const measured = queries.slice(args.warmup);
    const exactMs: number[] = [];
    const c2fMs: number[] = [];
    let recallSum = 0;
    const truths: string[][] = [];
    t = performance.now();
    for (const v of measured) {
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
    log(`${measured.length} query pairs in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    // Filtered: a keyword filter reaching 10 % and 0.1 % of the points, at every stage.
    const filtered: Array<{ share: string; recall: number; p50: number; p99: number; exactP50: number; queries: number }> = [];
    for (const [share, lang] of [['0.1', 'de'], ['0.001', 'rm']] as const) {
      const filter = { must: [{ key: 'lang', match: { value: lang } }] };
      const fq = measured.slice(0, Math.min(measured.length, 100));
      const fMs: number[] = [];
      const eMs: number[] = [];
      let fRecall = 0;
      for (const v of fq) {
        let s = performance.now();
        const truth = await exactSearch(target, { vector: v, limit: args.k, filter, withPayload: false });
        eMs.push(performance.now() - s);
        s = performance.now();
        const found = await coarseToFineSearch(target, { vector: v, limit: args.k, filter, stageLimits, withPayload: false });
        fMs.push(performance.now() - s);
        const f = new Set(found.map((h) => h.id));
        fRecall += truth.filter((h) => f.has(h.id)).length / Math.max(1, truth.length);
      }
      fMs.sort((a, b) => a - b);
      eMs.sort((a, b) => a - b);
      filtered.push({ share, recall: fRecall / fq.length, p50: percentile(fMs, 50), p99: percentile(fMs, 99), exactP50: percentile(eMs, 50), queries: fq.length });
    }
    // Context on the same queries (the truth is known): the uncalibrated defaults, and the chosen
    // limits with the first stage's beam left to the store (no hnsw_ef: max(ef_construct, L1)).
    let defaultRecallSum = 0;
    let storeEfRecallSum = 0;
    for (const [qi, v] of measured.entries()) {
      const truth = truths[qi]!;
      const recallOf = (found: { id: string }[]) => {
        const f = new Set(found.map((h) => h.id));
        return truth.filter((id) => f.has(id)).length / Math.max(1, truth.length);
      };
      defaultRecallSum += recallOf(await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits: [400, 100], withPayload: false }));
      storeEfRecallSum += recallOf(await coarseToFineSearch(target, { vector: v, limit: args.k, stageLimits, hnswEf: null, withPayload: false }));
    }
    exactMs.sort((a, b) => a - b);
    c2fMs.sort((a, b) => a - b);
    const recall = recallSum / measured.length;
    const common = {
      points: args.points,
      cpus: os.cpus().length,
      data: `clusters=${args.clusters} std_j=(j+1)^-0.5 sigma=${args.sigma} tau=${args.tau} (held-out perturbed points)`,
      store: loadConfig().store.qdrantUrl ? 'qdrant' : 'embedded',
    };
    const queryCommon = { ...common, queries: measured.length, warmup_queries: args.warmup, sequential: true, stage_limits: stageLimits };
    report({ suite: SUITE, metric: `c2f_recall_at_${args.k}`, value: recall, unit: 'ratio', baseline: 'exact_1024d_scan', ratio: recall, goal: '>= 0.99', recall_at_default_400_100: round(defaultRecallSum / measured.length, 4), recall_without_first_stage_ef: round(storeEfRecallSum / measured.length, 4), first_stage_hnsw_ef: firstStageEf(stageLimits[0]!), calibration_recall_on_held_out_queries: round(calibration.chosen.recall, 4), calibration_reached_target: calibration.reached, ...queryCommon });
    for (const p of [50, 99]) {
      const c2f = percentile(c2fMs, p);
      const exact = percentile(exactMs, p);
      report({ suite: SUITE, metric: `c2f_latency_p${p}`, value: c2f, unit: 'ms', baseline: 'exact_1024d_scan', ratio: c2f / exact, baseline_value: Number(exact.toPrecision(4)), goal: 'ratio <= 0.2', ...queryCommon });
    }
    for (const f of filtered) {
      report({ suite: SUITE, metric: `filtered_${f.share}_c2f_recall_at_${args.k}`, value: f.recall, unit: 'ratio', baseline: 'exact_1024d_scan_same_filter', ratio: f.recall, goal: '>= 0.99', filter: `lang keyword matching ${Number(f.share) * 100} % of points`, c2f_p50_ms: round(f.p50), c2f_p99_ms: round(f.p99), exact_p50_ms: round(f.exactP50), ...queryCommon, queries: f.queries });
    }
    report({ suite: SUITE, metric: 'time_to_green_s', value: greenS, unit: 's', baseline: 'upsert_wall_s', ratio: greenS / upsertS, baseline_value: round(upsertS), indexed_vectors_count: info.indexed_vectors_count, counted: 'from the last acknowledged upsert until collection status green (optimiser done)', ...common });
    const upsertCommon = { ...common, batch: args.batch, concurrency: args.concurrency, vectors: 'mrl_64+mrl_256+mrl_1024, wait=true', json_bytes_per_point: Math.round(bodyBytes / args.points), load_average_1m: round(loadAfterUpsert) };
    report({
      suite: SUITE,
      metric: 'upsert_points_per_s',
      value: upsertRate,
      unit: 'points/s',
      baseline: 'json_parse_same_bodies_one_core',
      ratio: upsertRate / parseRate,
      baseline_value: Math.round(parseRate),
      baseline_points: parsePoints,
      goal: '>= 20000',
      bodies: 'adapter JSON (vectors rounded to 1e-7), serialised before timing',
      wall_s: round(upsertS),
      ...(cpu0 && cpu1
        ? {
            store_cpu_s_main_thread: round(cpu1.main - cpu0.main),
            store_cpu_s_other_threads: round(cpu1.others - cpu0.others),
            store_points_per_cpu_s: Math.round(args.points / (cpu1.main - cpu0.main + cpu1.others - cpu0.others)),
          }
        : {}),
      client_cpu_s: round((clientCpu.user + clientCpu.system) / 1e6),
      ...upsertCommon,
    });
    if (clientLine) {
      report({
        suite: SUITE,
        metric: 'upsert_points_per_s_js_client',
        value: clientLine.rate,
        unit: 'points/s',
        baseline: 'json_stringify_unrounded_float32_one_core',
        ratio: clientLine.rate / plainStringifyRate,
        baseline_value: Math.round(plainStringifyRate),
        baseline_points: samplePoints,
        json_stringify_adapter_points_per_s: Math.round(compactStringifyRate),
        client_points: args.clientPoints,
        wall_s: round(clientLine.seconds),
        client_cpu_s: round(clientLine.cpu),
        requests: clientLine.requests,
        retries: clientLine.retries,
        path: 'buildPoint vectors (namedVectors) -> BatchUpserter -> @qdrant/js-client-rest 1.18 -> fresh store process',
        ...upsertCommon,
      });
    }
    if (store.pid && afterUpsert) {
      const end = rssOf(store.pid);
      const usage = await store.memoryUsage();
      const raw = args.points * (64 + 256 + 1024) * 4;
      const mb = (x: number | undefined) => (x === undefined ? null : Math.round(x / 2 ** 20));
      report({
        suite: SUITE,
        metric: 'rss_over_raw_vector_bytes',
        value: end.rss / raw,
        unit: 'ratio',
        baseline: 'raw_vector_bytes',
        ratio: end.rss / raw,
        goal: '<= 1.3',
        counted: 'VmRSS of the store process (all threads) after upserts, calibration and queries; nothing subtracted',
        rss_bytes: end.rss,
        raw_vector_bytes: raw,
        rss_after_upsert_over_raw: round(afterUpsert.rss / raw, 4),
        peak_over_raw: round(end.peak / raw, 4),
        empty_store_rss_mib: mb(emptyRss),
        heap_used_mib: mb(usage?.heapUsed),
        heap_total_mib: mb(usage?.heapTotal),
        array_buffers_mib: mb(usage?.arrayBuffers),
        ...common,
      });
    }
    if (args.sparse) {
      await sparseBench(
        client,
        collection,
        args.points,
        { dims: DIMS, stageLimits, queries: [...queries.slice(0, args.warmup), ...measured] },
        { ...SPARSE_DEFAULTS, terms: args.sparseTerms, queryTerms: args.queryTerms, zipf: args.zipf, queries: args.sparseQueries, warmup: args.warmup, seed: args.seed },
        common,
        log,
      );
    }
  } finally {
    await closeAll();
  }
}

/** A full GC now (V8's flag set at run time), so memory let go is really gone before timing. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}
