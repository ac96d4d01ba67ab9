/**
 * Logs of real processes — the store server, a worker, the scheduler, the query service and a
 * distributed ingest — started with secrets in their environment: every line is JSON (pino),
 * each process says what it runs in a start-up line with the configuration masked, a worker's
 * line about an item names its run, job, item and collection, and no secret value appears in
 * anything any of them printed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { MODEL_DIR } from '../pipeline/harness.ts';

const SECRETS = {
  QDRANT_API_KEY: 'qdrant-ops-test-secret-5',
  API_KEY: 'api-ops-test-secret-6',
  AWS_ACCESS_KEY_ID: 'AKIAOPSTESTSECRET1',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-ops-test-2',
  AWS_SESSION_TOKEN: 'aws-session-ops-test-3',
  HF_TOKEN: 'hf_opsTestSecret4',
};

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
}

let redis: TestRedis;
let work: string;
const procs: Proc[] = [];

function start(name: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['bin/clipstream.mjs', ...args], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, out: '', err: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.err += d.toString()));
  procs.push(p);
  return p;
}

async function until(p: Proc, what: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!what.test(p.out + p.err)) {
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited ${p.child.exitCode} before ${what}: ${p.out}${p.err}`);
    if (Date.now() > deadline) throw new Error(`${p.name}: no ${what} within ${timeoutMs} ms: ${p.out}${p.err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const jsonLines = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

before(async () => {
  redis = await testRedis(import.meta.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-logs-'));
});

after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await redis?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

test('JSON start-up and item lines from every process, and no secret in any output', async () => {
  const storePort = await freePort();
  const store = start('store', ['store', 'serve', '--port', String(storePort), '--data', path.join(work, 'store'), '--api-key', SECRETS.QDRANT_API_KEY], { LOG_LEVEL: 'info' });
  await until(store, /store listening on/);
  const env = {
    ...SECRETS,
    MODEL_DIR,
    DATA_DIR: path.join(work, 'data'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    QDRANT_URL: `http://127.0.0.1:${storePort}`,
    QDRANT_COLLECTION: 'logs',
    WORKER_CONCURRENCY: '4',
  };
  // A text the worker's encoder refuses (longer than its TEXT_MAX_BYTES): an item failure only the worker sees.
  const worker = start('worker', ['worker'], { ...env, TEXT_MAX_BYTES: '24' });
  const scheduler = start('scheduler', ['scheduler'], { ...env, METRICS_PORT: '0' });
  const serve = start('serve', ['serve', '--port', '0'], env);
  await Promise.all([until(worker, /consuming embed-image, embed-text/), until(scheduler, /"msg":"starting"/), until(serve, /search page: /)]);
  // The scheduler's metrics listener (METRICS_PORT=0: a free port, announced in its log).
  await until(scheduler, /metrics and health: (\S+)\/metrics/);
  const schedulerUrl = /metrics and health: (\S+)\/metrics/.exec(scheduler.err)![1]!;
  const ready = await fetch(`${schedulerUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(((await ready.json()) as { checks: { redis: string } }).checks.redis, /^ok: redis:\/\//);
  const schedulerMetrics = await (await fetch(`${schedulerUrl}/metrics`)).text();
  assert.match(schedulerMetrics, /^clipstream_queue_jobs\{queue="schedules",state="waiting",role="scheduler"\} 0$/m);
  assert.match(schedulerMetrics, /^clipstream_process_info\{version="0\.1\.0",role="scheduler"\} 1$/m);

  const records = path.join(work, 'records.jsonl');
  fs.writeFileSync(records, '{"id":"ok","text":"rote Schuhe"}\n{"id":"long","text":"a rather long description of blue shoes"}\n');
  const ingest = start('ingest', ['ingest', records, '--no-progress'], env);
  assert.equal(await ingest.exited, 0, ingest.err);
  await until(worker, /TEXT_TOO_LONG/);
  for (const p of [worker, scheduler, serve, store]) p.child.kill('SIGTERM');
  await Promise.all([worker, scheduler, serve, store].map((p) => p.exited));

  // No secret anywhere, stdout or stderr, of any process.
  for (const p of procs) {
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!(p.out + p.err).includes(value), `${p.name} printed ${name}:\n${p.out}${p.err}`);
    }
  }
  // A start-up line with version, model and the masked configuration.
  for (const p of [worker, scheduler, serve, ingest]) {
    const lines = jsonLines(p.err);
    // A producer's other lines are its human report (failures, summary), as before; the services log JSON only.
    if (p !== ingest) assert.ok(p.err.split('\n').filter((l) => l.trim() !== '').every((l) => l.startsWith('{')), `${p.name}: JSON lines only on stderr:\n${p.err}`);
    const startup = lines.find((l) => l.msg === 'starting');
    assert.ok(startup, `${p.name} has a start-up line`);
    assert.equal(startup.version, '0.1.0');
    assert.equal(startup.level, 30);
    assert.ok(startup.model?.name && startup.model.variant && startup.model.revision && startup.model.execution_provider, JSON.stringify(startup.model));
    assert.equal(startup.config.store.qdrantApiKey, '***');
    assert.equal(startup.config.server.apiKey, '***');
    assert.equal(startup.config.model.hfToken, '***');
    assert.equal(startup.config.store.collection, 'logs');
  }
  assert.equal(jsonLines(worker.err).find((l) => l.msg === 'starting')!.model.name, 'clipstream/test-tiny@fp32');
  assert.ok(jsonLines(store.err).some((l) => l.msg === 'starting' && l.api_key === 'set'));
  // The failed item's line names its run, job, item and collection.
  const failed = jsonLines(worker.err).find((l) => l.code === 'TEXT_TOO_LONG');
  assert.ok(failed, worker.err);
  assert.equal(failed.level, 40);
  assert.equal(failed.item, 'record:records/long');
  assert.match(failed.run_id, /\S/);
  assert.match(failed.job_id, /\S/);
  assert.match(failed.collection, /^logs/);
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
