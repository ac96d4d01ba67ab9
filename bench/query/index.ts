/**
 * `npm run bench -- query [--points 100000] [--real 300] [--duration 15] [--connections 8] [--noise 0.35] [--calibrate 1]`
 *
 * The query service under concurrent load (autocannon), text queries over HTTP, on the embedded
 * store holding the sample catalogue scaled to `--points` points.
 *
 * Catalogue: `--real` items encoded with the model (MODEL_DIR, default the bundled test model):
 * half drawn product images, half product titles in eleven languages, over every colour ×
 * category the test model knows. The rest are synthetic: a real item's 1024-d embedding plus
 * isotropic Gaussian noise of norm ≈ `--noise`, re-normalised, sliced to 64/256 like real ones,
 * stored under a new id and product id (so "near-duplicate variants" of real products).
 *
 * Queries: distinct texts (colour × category × language phrases with a running number), so every
 * request in an "uncached" run misses the embedding cache; a "cached" run cycles 32 primed texts,
 * leaving the search alone. Each mode runs coarse-to-fine (64 → 256 → 1024) and exact 1024-d
 * search (the baseline) with the same load, one after the other. The stage limits are those the
 * service loads from DATA_DIR/calibration.json, measured first with `calibrate` on 60 held-out
 * text queries (target recall@10 0.95); `--calibrate 0` keeps the built-in 400/100.
 * Encode and search time come from the service's per-stage timings in every response.
 *
 * Processes: the store and the query service each run in a child process; the load generator is
 * this process. On a small machine all three share the cores, which the figures include.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { QdrantClient } from '@qdrant/js-client-rest';
import autocannon from 'autocannon';
import { percentile, report } from '../report.ts';
import type { ImageObject, TextRecord } from '../../shared/catalogue/types.ts';
import { loadConfig } from '../../shared/config/index.ts';
import { openEncoder } from '../../shared/encoder/index.ts';
import { matryoshka } from '../../shared/encoder/matryoshka.ts';
import { calibrate, saveCalibration } from '../../shared/store/calibrate.ts';
import { pointId } from '../../shared/store/ids.ts';
import { buildPoint, namedVectors, type CataloguePoint } from '../../shared/store/points.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { CATEGORIES, COLOURS, conceptPhrase, LANGUAGES, type Language } from '../../scripts/test-model/concepts.ts';
import { drawProductImage } from '../../scripts/test-model/draw.ts';

const SUITE = 'query';
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

interface Args {
  points: number;
  real: number;
  duration: number;
  connections: number;
  noise: number;
  seed: number;
  /** 1: calibrate stage limits on held-out text queries first (the service then uses them), 0: built-in defaults. */
  calibrate: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { points: 100_000, real: 300, duration: 15, connections: 8, noise: 0.35, seed: 1, calibrate: 1 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!.replace(/^--/, '') as keyof Args;
    const value = Number(argv[++i]);
    if (!(key in a) || !Number.isFinite(value)) throw new Error(`bad argument ${argv[i - 1]} ${argv[i] ?? ''}`);
    a[key] = value;
  }
  if (a.real < 2 || a.points < a.real) throw new Error('need 2 ≤ --real ≤ --points');
  return a;
}

const log = (line: string) => process.stderr.write(`[bench query] ${line}\n`);

/** Deterministic PRNG (mulberry32) and standard normals (Box–Muller). */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

async function spawnChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'child.ts'), ...args], { stdio: ['pipe', 'pipe', 'inherit'], env, cwd: repoRoot });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args[0]} process exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return { url, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface RealItem {
  point: CataloguePoint;
  embedding: Float32Array;
}

/** Encodes the real part of the catalogue: drawn images and multilingual titles. */
async function realItems(
  n: number,
  modelDir: string,
  dims: readonly number[],
  queryTexts: string[],
): Promise<{ items: RealItem[]; queryVectors: Float32Array[]; model: string; isTest: boolean }> {
  const config = loadConfig({ MODEL_DIR: modelDir });
  const encoder = await openEncoder(config);
  const build = { model: encoder.model.modelId, dims };
  const jobs: Promise<RealItem>[] = [];
  for (let i = 0; i < n; i++) {
    const colour = COLOURS[i % COLOURS.length]!.id;
    const category = CATEGORIES[Math.floor(i / COLOURS.length) % CATEGORIES.length]!.id;
    const product = `p${Math.floor(i / 2)}`;
    if (i % 2 === 0) {
      const bytes = await drawProductImage({ colour, category, seed: i, width: 128, height: 128 });
      const item: ImageObject = { kind: 'image', sourceUri: `s3://bench-catalogue/${product}/${colour}-${category}.png`, version: `v${i}`, bytes: bytes.length, productId: product };
      jobs.push(encoder.encodeImage({ bytes, item: item.sourceUri }).then((v) => ({ point: buildPoint(item, v, build), embedding: v[1024]! })));
    } else {
      const lang = LANGUAGES[Math.floor(i / 2) % LANGUAGES.length]!;
      const text = conceptPhrase(colour, category, lang);
      const item: TextRecord = {
        kind: 'text',
        sourceUri: `record:bench/${product}-${lang}`,
        version: `v${i}`,
        recordId: `${product}-${lang}`,
        text,
        lang,
        productId: product,
        fields: { title: text, colour, category, price: 5 + (i % 90) },
      };
      jobs.push(encoder.encodeText({ text, item: item.sourceUri }).then((v) => ({ point: buildPoint(item, v, build), embedding: v[1024]! })));
    }
  }
  const items = await Promise.all(jobs);
  const queryVectors = await Promise.all(queryTexts.map(async (text) => (await encoder.encodeText({ text, query: true }))[1024]!));
  const out = { items, queryVectors, model: encoder.model.modelId, isTest: encoder.model.isTestModel };
  await encoder.close();
  return out;
}

/** A real item's embedding plus Gaussian noise of norm ≈ `noise`, under a new id and product. */
function synthetic(base: RealItem, copy: number, noise: number, dims: readonly number[], random: ReturnType<typeof rng>): CataloguePoint {
  const dim = base.embedding.length;
  const v = new Float32Array(dim);
  const sigma = noise / Math.sqrt(dim);
  for (let i = 0; i < dim; i++) v[i] = base.embedding[i]! + sigma * random.normal();
  const source = `record:bench/copy-${copy}`;
  return {
    id: pointId(source),
    vector: namedVectors(matryoshka(v, dims), dims, source),
    payload: { ...base.point.payload, source, product_id: `${base.point.payload.product_id}-c${copy}`, content_hash: `c${copy}` },
  };
}

/** Distinct query texts: every colour × category × language phrase, then again with a number. */
function* distinctTexts(firstRound = 0): Generator<string> {
  for (let round = firstRound; ; round++) {
    for (const lang of LANGUAGES) {
      for (const colour of COLOURS) {
        for (const category of CATEGORIES) {
          const phrase = conceptPhrase(colour.id, category.id, lang as Language);
          yield round === 0 ? phrase : `${phrase} ${round}`;
        }
      }
    }
  }
}

interface ModeResult {
  latencies: number[];
  encodeMs: number[];
  searchMs: number[];
  requestsPerS: number;
  errors: number;
}

async function load(url: string, args: Args, body: (i: number) => object): Promise<ModeResult> {
  const encodeMs: number[] = [];
  const searchMs: number[] = [];
  const latencies: number[] = [];
  let n = 0;
  let bad = 0;
  const instance = autocannon({
    url: `${url}/v1/search`,
    connections: args.connections,
    duration: args.duration,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(body(n++)) }),
        onResponse: (status, text) => {
          if (status !== 200) {
            bad++;
            return;
          }
          const t = (JSON.parse(text) as { timings: { encode_ms: number; search_ms: number } }).timings;
          encodeMs.push(t.encode_ms);
          searchMs.push(t.search_ms);
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status === 200) latencies.push(ms);
  });
  const result = await instance;
  const sort = (x: number[]) => x.sort((a, b) => a - b);
  return {
    latencies: sort(latencies),
    encodeMs: sort(encodeMs),
    searchMs: sort(searchMs),
    requestsPerS: latencies.length / result.duration,
    errors: bad + result.errors + result.timeouts,
  };
}

async function post(url: string, body: object): Promise<{ hits: Array<{ id: string }> }> {
  const res = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`search answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { hits: Array<{ id: string }> };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const dims = [64, 256, 1024];
  const modelDir = path.resolve(process.env.MODEL_DIR ?? path.join(repoRoot, 'models/test-tiny'));
  const work = await mkdtemp(path.join(os.tmpdir(), 'clipstream-bench-query-'));
  const children: ChildProcess[] = [];
  try {
    const store = await spawnChild(['store', path.join(work, 'store')], process.env);
    children.push(store.child);
    const client = new QdrantClient({ url: store.url, checkCompatibility: false, timeout: 600_000 });
    const collection = 'catalogue';

    let t = performance.now();
    // Held-out texts (never sent to the service) for calibrating the stage limits.
    const heldOut = distinctTexts(1000);
    const calibrationTexts = args.calibrate ? Array.from({ length: 60 }, () => heldOut.next().value as string) : [];
    const real = await realItems(args.real, modelDir, dims, calibrationTexts);
    log(`encoded ${args.real} real items with ${real.model}${real.isTest ? ' [TEST MODEL]' : ''} in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    await ensureCollection(client, { alias: collection, dims, model: real.model });

    t = performance.now();
    const upserter = new BatchUpserter(client, { collection, storeUrl: store.url, batchSize: 256, concurrency: 2 });
    const random = rng(args.seed);
    const chunk = 4096;
    for (let start = 0; start < args.points; start += chunk) {
      const pending: Promise<void>[] = [];
      for (let i = start; i < Math.min(args.points, start + chunk); i++) {
        pending.push(upserter.add(i < real.items.length ? real.items[i]!.point : synthetic(real.items[i % real.items.length]!, i, args.noise, dims, random)));
      }
      await Promise.all(pending);
      if ((start / chunk) % 5 === 0) log(`upserted ${Math.min(args.points, start + chunk)} / ${args.points}`);
    }
    await upserter.close();
    const count = (await client.count(collection, { exact: true })).count;
    log(`catalogue: ${count} points (${args.real} encoded, ${count - args.real} synthetic) in ${((performance.now() - t) / 1000).toFixed(1)}s`);
    // The store indexes in the background after acknowledging writes: measure the settled state.
    t = performance.now();
    while ((await client.getCollection(collection)).status !== 'green') await new Promise((r) => setTimeout(r, 250));
    log(`collection green ${((performance.now() - t) / 1000).toFixed(1)}s after the last upsert`);

    const serviceDir = path.join(work, 'service');
    let stageLimits = 'default 400/100';
    if (args.calibrate) {
      const result = await calibrate(
        { client, collection, dims },
        { k: 10, target: 0.95, queries: real.queryVectors, grid: [[100, 25], [200, 50], [400, 100], [800, 200], [1600, 400], [3200, 800]], onProgress: log },
      );
      await saveCalibration(serviceDir, result);
      stageLimits = `calibrated ${result.chosen.stage_limits.join('/')} (recall@10 ${result.chosen.recall.toFixed(3)} on ${result.samples} held-out text queries${result.reached ? '' : ', target 0.95 not reached'})`;
      log(`stage limits: ${stageLimits}`);
    }

    const service = await spawnChild(['service'], {
      ...process.env,
      MODEL_DIR: modelDir,
      QDRANT_URL: store.url,
      QDRANT_COLLECTION: collection,
      DATA_DIR: serviceDir,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      QUERY_CACHE_SIZE: '100000',
    });
    children.push(service.child);

    const texts = distinctTexts();
    const nextText = () => texts.next().value as string;
    const primed = Array.from({ length: 32 }, nextText);
    for (const text of primed) await post(service.url, { text, limit: 10 });

    // Recall of the cascade against exact search, on the same (cached) query vectors.
    let recall = 0;
    for (const text of primed) {
      const [c2f, exact] = await Promise.all([post(service.url, { text, limit: 10 }), post(service.url, { text, limit: 10, exact: true })]);
      const truth = new Set(exact.hits.map((h) => h.id));
      recall += c2f.hits.filter((h) => truth.has(h.id)).length / Math.max(1, truth.size);
    }
    recall /= primed.length;

    const modes = [
      { name: 'coarse_to_fine', cached: false, body: () => ({ text: nextText(), limit: 10 }) },
      { name: 'exact', cached: false, body: () => ({ text: nextText(), limit: 10, exact: true }) },
      { name: 'coarse_to_fine', cached: true, body: (i: number) => ({ text: primed[i % primed.length], limit: 10 }) },
      { name: 'exact', cached: true, body: (i: number) => ({ text: primed[i % primed.length], limit: 10, exact: true }) },
    ];
    // Warm-up (JIT, connection pools, the store's page cache) so the first measured mode is not penalised.
    await load(service.url, { ...args, duration: Math.min(5, args.duration) }, (i) => ({ text: nextText(), limit: 10, exact: i % 2 === 1 }));
    const results = new Map<string, ModeResult>();
    for (const m of modes) {
      log(`load: ${m.name}${m.cached ? ' (cached embeddings)' : ' (distinct texts)'}, ${args.connections} connections, ${args.duration}s`);
      const r = await load(service.url, args, m.body);
      results.set(`${m.name}:${m.cached}`, r);
      log(`  ${r.latencies.length} ok, ${r.errors} failed, ${r.requestsPerS.toFixed(1)} req/s, p50 ${percentile(r.latencies, 50).toFixed(1)} ms`);
    }

    const common = {
      points: count,
      encoded_points: args.real,
      synthesis: `${count - args.real} copies of ${args.real} encoded items (drawn images + titles in ${LANGUAGES.length} languages): embedding + Gaussian noise of norm ${args.noise}, re-normalised, new ids`,
      model: real.model + (real.isTest ? ' [TEST MODEL]' : ''),
      connections: args.connections,
      duration_s: args.duration,
      stage_limits: stageLimits,
      recall_at_10_vs_exact: Number(recall.toFixed(4)),
    };
    for (const cached of [false, true]) {
      const c2f = results.get(`coarse_to_fine:${cached}`)!;
      const exact = results.get(`exact:${cached}`)!;
      const suffix = cached ? '_cached' : '';
      const extra = { ...common, queries: cached ? 'cached embeddings (32 texts cycled)' : 'distinct texts (embedding cache misses)', errors: c2f.errors, baseline_errors: exact.errors };
      const lowerBetter = (metric: string, a: number[], b: number[], p: number, unit = 'ms') =>
        report({ suite: SUITE, metric: metric + suffix, value: percentile(a, p), unit, baseline: 'exact_1024d', ratio: percentile(b, p) / percentile(a, p), ...extra });
      lowerBetter('query_latency_p50', c2f.latencies, exact.latencies, 50);
      lowerBetter('query_latency_p99', c2f.latencies, exact.latencies, 99);
      report({
        suite: SUITE,
        metric: 'query_requests_per_s' + suffix,
        value: c2f.requestsPerS,
        unit: 'req/s',
        baseline: 'exact_1024d',
        ratio: c2f.requestsPerS / exact.requestsPerS,
        ...extra,
      });
      lowerBetter('query_encode_ms_p50', c2f.encodeMs, exact.encodeMs, 50);
      lowerBetter('query_search_ms_p50', c2f.searchMs, exact.searchMs, 50);
      lowerBetter('query_search_ms_p99', c2f.searchMs, exact.searchMs, 99);
    }
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(work, { recursive: true, force: true });
  }
}
