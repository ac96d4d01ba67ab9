/**
 * Worker faults with real processes: a worker SIGKILLed mid-batch (its jobs come back through
 * BullMQ's stalled-job check and a second worker stores every item exactly once), and Redis
 * itself restarted mid-run (this file's own redis-server, never the shared one).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { closeRedis, connectRedis, IngestRuns, openQueues } from '../../shared/queue/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { BUCKET, MODEL_DIR, productImage, testConfig, waitFor } from '../pipeline/harness.ts';

let s3: S3rver;
let store: TestStore;
const storeRef = () => ({ client: store.client, url: store.url });

before(async () => {
  [s3, store] = await Promise.all([startS3rver(), startTestStore()]);
  await s3.createBucket(BUCKET);
});

after(async () => {
  await Promise.all([s3?.stop(), store?.close()]);
});

/** `texts` records and `images` images under `prefix`; returns their source URIs. */
async function putItems(prefix: string, texts: number, images: number): Promise<string[]> {
  const uris: string[] = [];
  const lines = [];
  for (let n = 0; n < texts; n++) {
    lines.push(JSON.stringify({ id: `${prefix}t${n}`, text: `item ${n}: ${['red', 'blue', 'green', 'black'][n % 4]} jacket size ${n}`, lang: 'en' }));
    uris.push(`record:${prefix}records/${prefix}t${n}`);
  }
  await s3.put(BUCKET, `${prefix}/${prefix}records.jsonl`, lines.join('\n'));
  for (let n = 0; n < images; n++) {
    await s3.put(BUCKET, `${prefix}/img${n}.jpg`, await productImage([n * 30, 255 - n * 30, 128], n));
    uris.push(`s3://${BUCKET}/${prefix}/img${n}.jpg`);
  }
  return uris;
}

async function countStored(collection: string, uris: string[]): Promise<number> {
  return (await store.client.retrieve(collection, { ids: uris.map(pointId) })).length;
}

test('a worker SIGKILLed mid-batch: its jobs return to the queue and another worker stores every item exactly once', async () => {
  const redis: TestRedis = await testRedis(`${import.meta.url}-kill`);
  const env = {
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name('killed'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    // Long batch waits keep jobs sitting in the micro-batcher, unacknowledged, when the kill comes.
    BATCH_MAX_WAIT_MS: '1500',
    BATCH_MAX_SIZE: '64',
  };
  const config = testConfig(env);
  const uris = await putItems('kill', 40, 8);
  const queues = await openQueues(config.queue);
  let child: ChildProcess | undefined;
  let encoder: ClipEncoder | undefined;
  try {
    const queued = await runIngest(config, [`s3://${BUCKET}/kill/`], { store: storeRef(), wait: false });
    assert.equal(queued.enqueued, 48);

    let log = '';
    child = spawn(
      process.execPath,
      ['bin/clipstream.mjs', 'worker', '--concurrency', '8', '--lock-duration', '2000', '--stalled-interval', '1000'],
      {
        env: { ...process.env, ...env, MODEL_DIR, DATA_DIR: config.store.dataDir, S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
    let activeAtKill = 0;
    let doneAtKill = 0;
    await waitFor(
      'the worker to finish a batch and hold more jobs',
      async () => {
        const run = await queues.runs.readRun(queued.runId, { failures: 0 });
        const done = (run?.counts.text.done ?? 0) + (run?.counts.image.done ?? 0);
        const active = (await queues.queues.text.getJobCounts('active')).active ?? 0;
        if (done >= 8 && active > 0) {
          child!.kill('SIGKILL');
          activeAtKill = active;
          doneAtKill = done;
          return true;
        }
        return false;
      },
      60_000,
      20,
    );
    assert.equal(await exited, 'SIGKILL', log);
    assert.ok(doneAtKill < 48, 'killed before the end');
    assert.ok((await queues.queues.text.getJobCounts('active')).active! > 0, `jobs were left active by the dead worker (${activeAtKill})`);

    encoder = await openEncoder(config);
    const rescuer = await startEmbedWorker(config, { encoder, store: storeRef(), stalledIntervalMs: 500 });
    try {
      await waitFor('the run to finish', async () => (await queues.runs.readRun(queued.runId))?.state === 'finished', 60_000);
    } finally {
      await rescuer.close();
    }
    assert.ok(rescuer.stats().completed >= 48 - doneAtKill, 'the rescuer took over the dead worker\'s jobs');
    const run = (await queues.runs.readRun(queued.runId))!;
    assert.deepEqual([run.counts.text.failed, run.counts.image.failed], [0, 0]);
    assert.equal(await countStored(store.name('killed'), uris), 48);
    const total = await store.client.count(store.name('killed'), { exact: true });
    assert.equal(total.count, 48, 'no item stored twice');
    assert.deepEqual(await queues.queues.text.getJobCounts('failed', 'active', 'waiting'), { failed: 0, active: 0, waiting: 0 });
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await encoder?.close();
    await queues.close();
    await redis.cleanup();
  }
});

test('SIGTERM: the worker process stops taking jobs, finishes those in flight and exits cleanly', async () => {
  const redis: TestRedis = await testRedis(`${import.meta.url}-term`);
  const env = {
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name('term'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    BATCH_MAX_WAIT_MS: '1000',
    BATCH_MAX_SIZE: '64',
  };
  const config = testConfig(env);
  await putItems('term', 40, 0);
  const queues = await openQueues(config.queue);
  let child: ChildProcess | undefined;
  try {
    const queued = await runIngest(config, [`s3://${BUCKET}/term/`], { store: storeRef(), wait: false });
    let log = '';
    child = spawn(process.execPath, ['bin/clipstream.mjs', 'worker', '--concurrency', '8'], {
      env: { ...process.env, ...env, MODEL_DIR, DATA_DIR: config.store.dataDir, S3_FORCE_PATH_STYLE: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    // Jobs sit in the micro-batcher (1 s wait) when the signal comes.
    await waitFor('jobs in flight', async () => ((await queues.queues.text.getJobCounts('active')).active ?? 0) > 0, 60_000, 20);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
    assert.match(log, /SIGTERM: no new jobs; finishing those in flight/);
    assert.match(log, /stopped: \d+ jobs done/);
    const counts = await queues.queues.text.getJobCounts('active', 'waiting', 'completed', 'failed');
    assert.equal(counts.active, 0, 'nothing left half-done');
    assert.equal(counts.failed, 0);
    assert.ok(counts.completed! > 0 && counts.waiting! > 0, `some finished, the rest wait (${JSON.stringify(counts)})`);
    const run = (await queues.runs.readRun(queued.runId))!;
    assert.equal(run.counts.text.done, counts.completed, 'every acknowledged job is counted and stored');
    assert.equal((await store.client.count(store.name('term'), { exact: true })).count, counts.completed);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await queues.close();
    await redis.cleanup();
  }
});

test('Redis restarted mid-run: producer, worker and run record ride it out and the run completes', async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-redis-'));
  // Persistence on (AOF, fsync always): a restart that lost the queues could not complete any run.
  const startRedis = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  let server = startRedis();
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url);
  const config = testConfig({
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name('restart'),
    REDIS_URL: url,
    QUEUE_PREFIX: 'restart',
    BATCH_MAX_WAIT_MS: '300',
    BATCH_MAX_SIZE: '64',
  });
  const uris = await putItems('restart', 40, 6);
  const encoder = await openEncoder(config);
  const worker = await startEmbedWorker(config, { encoder, store: storeRef(), concurrency: 4, stalledIntervalMs: 1000, lockDurationMs: 5000 });
  const monitor = await connectRedis(url);
  const runs = new IngestRuns(monitor, 'restart');
  try {
    let restarted = false;
    const ingest = runIngest(config, [`s3://${BUCKET}/restart/`], {
      store: storeRef(),
      listener: {
        progress: (p) => {
          if (restarted || p.indexed < 8) return;
          restarted = true;
          const old = server;
          old.once('exit', () => {
            setTimeout(() => (server = startRedis()), 500);
          });
          old.kill('SIGTERM');
        },
      },
    });
    const summary = await ingest;
    assert.ok(restarted, 'Redis was restarted during the run');
    assert.equal(summary.failed, 0);
    assert.ok(summary.indexed >= 46, `every item done (${summary.indexed}; re-run jobs count again)`);
    const run = await runs.readRun(summary.runId);
    assert.equal(run?.state, 'finished');
    assert.equal(await countStored(store.name('restart'), uris), 46);
    assert.equal((await store.client.count(store.name('restart'), { exact: true })).count, 46);
  } finally {
    await worker.close();
    await closeRedis(monitor);
    await encoder.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForRedis(url: string): Promise<void> {
  const r = await connectRedis(url, { connectTimeoutMs: 10_000 });
  await closeRedis(r);
}
