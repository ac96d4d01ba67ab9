/**
 * `clipstream doctor` against real set-ups, good and broken: the shared Redis and a Redis of
 * its own with the wrong eviction policy, the embedded store with a collection of the wrong
 * dimension, the test model with a file missing or damaged, a registered source that is gone,
 * CUDA asked for on a machine whose onnxruntime-node has no CUDA library.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '../../shared/config/index.ts';
import { closeRedis, connectRedis } from '../../shared/queue/connection.ts';
import { registerSources } from '../../shared/store/source-registry.ts';
import { runDoctor, type Finding } from '../../services/doctor/index.ts';
import { backendFacts } from '../../services/doctor/execution-provider.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { startS3rver } from '../support/s3rver.ts';
import { MODEL_DIR } from '../pipeline/harness.ts';

let store: TestStore;
let redis: TestRedis;
let tmp: string;

before(async () => {
  [store, redis] = await Promise.all([startTestStore(), testRedis(import.meta.url)]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-doctor-'));
});

after(async () => {
  await Promise.all([store?.close(), redis?.cleanup()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): Config =>
  loadConfig({ MODEL_DIR, DATA_DIR: path.join(tmp, 'data'), REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name(`c${Math.random().toString(36).slice(2, 8)}`), ...extra });
const find = (findings: Finding[], check: string) => {
  const f = findings.filter((x) => x.check === check);
  assert.ok(f.length > 0, `${check} in ${findings.map((x) => x.check).join(', ')}`);
  return f;
};
const failed = (findings: Finding[]) => findings.filter((f) => f.verdict === 'fail').map((f) => `${f.check}: ${f.detail}`);

test('a good set-up passes: every component OK (or a warning), exit verdict ok', async () => {
  const report = await runDoctor(env());
  assert.deepEqual(failed(report.findings), []);
  assert.equal(report.ok, true);
  for (const check of ['redis', 'redis.version', 'redis.eviction', 'model.files', 'model.hashes', 'encoder.provider', 'qdrant', 'qdrant.version', 'qdrant.collection', 'disk']) {
    assert.ok(find(report.findings, check).every((f) => f.verdict === 'ok'), check);
  }
  assert.match(find(report.findings, 'model.hashes')[0]!.detail, /onnx\/model\.onnx [0-9a-f]{12}/);
});

test('Redis with an evicting maxmemory-policy fails, and says how to fix it', async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmp, 'redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
  try {
    const url = `redis://127.0.0.1:${port}`;
    const probe = await connectRedis(url, { connectTimeoutMs: 10_000 });
    await closeRedis(probe);
    const report = await runDoctor(env({ REDIS_URL: url }));
    assert.equal(report.ok, false);
    const [eviction] = find(report.findings, 'redis.eviction');
    assert.equal(eviction!.verdict, 'fail');
    assert.match(eviction!.detail, /allkeys-lru/);
    assert.match(eviction!.fix!, /noeviction/);
    assert.equal(find(report.findings, 'redis.persistence')[0]!.verdict, 'warn', 'no persistence is a warning');
    assert.deepEqual(failed(report.findings).map((f) => f.split(':')[0]), ['redis.eviction']);
  } finally {
    child.kill('SIGKILL');
  }
});

test('unreachable Redis fails naming the URL', async () => {
  const report = await runDoctor(env({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }), { timeoutMs: 2000 });
  assert.equal(report.ok, false);
  assert.match(find(report.findings, 'redis')[0]!.detail, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
});

test('a collection with a wrong dimension fails with the difference and the rebuild hint', async () => {
  const config = env();
  const alias = config.store.collection;
  await store.client.createCollection(`${alias}_v1`, {
    vectors: { mrl_64: { size: 64, distance: 'Cosine' }, mrl_256: { size: 128, distance: 'Cosine' }, mrl_1024: { size: 1024, distance: 'Cosine' } },
  });
  await store.client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: alias, collection_name: `${alias}_v1` } }] });
  const report = await runDoctor(config);
  assert.equal(report.ok, false);
  const [schema] = find(report.findings, 'qdrant.schema');
  assert.equal(schema!.verdict, 'fail');
  assert.match(schema!.detail, /mrl_256 has size 128, configured 256/);
  assert.match(schema!.fix!, /clipstream rebuild/);
  assert.equal(find(report.findings, 'qdrant.indexes')[0]!.verdict, 'warn', 'a hand-made collection lacks the payload indexes');
});

test('a missing model file fails naming it; a damaged one fails its hash against the manifest', async () => {
  const broken = path.join(tmp, 'model-missing');
  fs.cpSync(MODEL_DIR, broken, { recursive: true });
  fs.rmSync(path.join(broken, 'tokenizer.json'));
  const report = await runDoctor(env({ MODEL_DIR: broken }));
  assert.equal(report.ok, false);
  const [files] = find(report.findings, 'model.files');
  assert.equal(files!.verdict, 'fail');
  assert.match(files!.detail, /lacks tokenizer\.json/);
  assert.match(files!.fix!, /MODEL_DIR/);

  // A cache laid out as `clipstream model fetch` leaves it, with the hub's hash of one file wrong.
  const cacheDir = path.join(tmp, 'cache');
  const repoDir = path.join(cacheDir, 'jinaai--jina-clip-v2', 'main');
  fs.cpSync(MODEL_DIR, repoDir, { recursive: true });
  fs.renameSync(path.join(repoDir, 'onnx/model.onnx'), path.join(repoDir, 'onnx/model_fp16.onnx'));
  const size = fs.statSync(path.join(repoDir, 'tokenizer.json')).size;
  fs.writeFileSync(
    path.join(repoDir, '.clipstream-manifest.json'),
    JSON.stringify({ repo: 'jinaai/jina-clip-v2', revision: 'main', files: { 'tokenizer.json': { size, sha256: 'ab'.repeat(32), fetchedAt: new Date().toISOString() } } }),
  );
  const cached = await runDoctor(env({ MODEL_DIR: '', MODEL_CACHE_DIR: cacheDir, MODEL_VARIANT: 'fp16', MODEL_OFFLINE: 'true' }));
  const [hashes] = find(cached.findings, 'model.hashes');
  assert.equal(hashes!.verdict, 'fail');
  assert.match(hashes!.detail, /tokenizer\.json \(sha256 [0-9a-f]{12}…, the hub's abababababab…\)/);
  assert.match(hashes!.fix!, /model fetch --force/);
});

test('a registered source that is gone fails; one named on the command line is checked too', async () => {
  const config = env();
  const folder = fs.mkdtempSync(path.join(tmp, 'source-'));
  // The collection comes from a first doctor-free ingest step: create it as a worker would.
  const { ensureCollection } = await import('../../shared/store/schema.ts');
  const target = await ensureCollection(store.client, { alias: config.store.collection, dims: [64, 256, 1024], model: 'clipstream/test-tiny@fp32' });
  await registerSources(store.client, target.collection, [{ root: `file://${folder}/`, spec: folder, registeredAt: new Date().toISOString() }]);
  const good = await runDoctor(config, { sources: [MODEL_DIR] });
  assert.deepEqual(failed(good.findings), []);
  assert.match(find(good.findings, 'sources.registered')[0]!.detail, /a readable folder/);
  assert.equal(find(good.findings, 'qdrant.schema')[0]!.verdict, 'ok');
  fs.rmSync(folder, { recursive: true });
  const gone = await runDoctor(config);
  const [registered] = find(gone.findings, 'sources.registered');
  assert.equal(registered!.verdict, 'fail');
  assert.match(registered!.detail, /no such file or folder/);
});

test('S3: credentials from the default chain, a prefix listed, a records file found, a missing one and a missing bucket failed', async () => {
  const s3 = await startS3rver();
  try {
    await s3.createBucket('shop');
    await s3.put('shop', 'catalogue/products/P1/front.jpg', Buffer.from('x'), 'image/jpeg');
    await s3.put('shop', 'records.jsonl', '{"id":"a","text":"b"}\n', 'application/x-ndjson');
    const config = env({ S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' });
    const report = await runDoctor(config, { sources: ['s3://shop/catalogue/', 's3://shop/records.jsonl', 's3://shop/gone.jsonl', 's3://no-such-bucket/x/'] });
    assert.equal(find(report.findings, 's3.credentials')[0]!.verdict, 'ok');
    const bySource = Object.fromEntries(find(report.findings, 'sources.argument').map((f) => [/^source (\S+):/.exec(f.detail)![1], f]));
    assert.equal(bySource['s3://shop/catalogue/']!.verdict, 'ok');
    assert.match(bySource['s3://shop/catalogue/']!.detail, /listable$/);
    assert.match(bySource['s3://shop/records.jsonl']!.detail, /readable \(22 bytes\)/);
    assert.equal(bySource['s3://shop/gone.jsonl']!.verdict, 'fail');
    assert.match(bySource['s3://shop/gone.jsonl']!.detail, /not found/);
    assert.equal(bySource['s3://no-such-bucket/x/']!.verdict, 'fail');
    assert.equal(report.ok, false);
  } finally {
    await s3.stop();
  }
});

test('CUDA asked for: the execution provider must really load, never a quiet CPU fallback', async () => {
  const report = await runDoctor(env({ ORT_EXECUTION_PROVIDER: 'cuda' }));
  const [provider] = find(report.findings, 'encoder.provider');
  if (!backendFacts().cudaLibrary) {
    // This machine's onnxruntime-node is the CPU build (.npmrc skips the CUDA download).
    assert.equal(provider!.verdict, 'fail');
    assert.equal(report.ok, false);
    assert.match(provider!.detail, /ORT_EXECUTION_PROVIDER=cuda asked for cuda \(device 0\), which does not load/);
    assert.match(provider!.fix!, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  } else {
    // A CUDA build: it loads only with a driver and a GPU; either way the verdict says which.
    assert.ok(provider!.verdict === 'ok' ? /cuda \(device 0\) loads/.test(provider!.detail) : /does not load/.test(provider!.detail), provider!.detail);
  }
});

test('too little free space under DATA_DIR fails', async () => {
  const report = await runDoctor(env(), { minFreeBytes: 2 ** 62 });
  const [disk] = find(report.findings, 'disk');
  assert.equal(disk!.verdict, 'fail');
  assert.match(disk!.detail, /free under .* less than/);
});

test('the CLI: one line per check, --json, exit 0 only when nothing failed', async () => {
  const run = promisify(execFile);
  const base = { ...process.env, MODEL_DIR, DATA_DIR: path.join(tmp, 'data'), REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('cli') };
  const good = await run(process.execPath, ['bin/clipstream.mjs', 'doctor', '--no-hashes'], { env: base });
  const lines = good.stdout.trim().split('\n');
  assert.ok(lines.every((l) => /^(OK {2}|WARN|FAIL|SKIP) [a-z0-9.]+: /.test(l)), good.stdout);
  assert.ok(lines.some((l) => l.startsWith('OK   redis.eviction')));
  const bad = await run(process.execPath, ['bin/clipstream.mjs', 'doctor', '--json', '--timeout', '2000'], { env: { ...base, REDIS_URL: `redis://127.0.0.1:${await freePort()}` } }).then(
    () => assert.fail('exit 0 with Redis down'),
    (err: { code: number; stdout: string }) => err,
  );
  assert.equal(bad.code, 1);
  const json = JSON.parse(bad.stdout) as { ok: boolean; findings: Finding[] };
  assert.equal(json.ok, false);
  assert.equal(json.findings.find((f) => f.check === 'redis')?.verdict, 'fail');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
