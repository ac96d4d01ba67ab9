/**
 * Redis restarted without its data in the middle of a distributed run (this file's own
 * redis-server with persistence off, never the shared one). The producer must not wait forever:
 * it stops with QUEUE_STATE_LOST naming what is not stored; with `resume` it lists again and
 * finishes the run. Workers say what happened once, and both warn at start-up that Redis keeps
 * nothing on disk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Config } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { closeRedis, connectRedis, warnIfNotPersistent } from '../../shared/queue/index.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { BUCKET, productImage, testConfig } from '../pipeline/harness.ts';

let s3: S3rver;
let store: TestStore;
let encoder: ClipEncoder;
let port: number;
let server: ChildProcess;
const storeRef = () => ({ client: store.client, url: store.url });

/** Redis as it runs without persistence: a restart starts empty. */
function startRedis(): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

async function restartEmpty(): Promise<void> {
  const old = server;
  await new Promise<void>((resolve) => {
    old.once('exit', () => resolve());
    old.kill('SIGKILL');
  });
  server = startRedis();
}

before(async () => {
  [s3, store] = await Promise.all([startS3rver(), startTestStore()]);
  await s3.createBucket(BUCKET);
  port = await freePort();
  server = startRedis();
  await waitForRedis(`redis://127.0.0.1:${port}`);
  encoder = await openEncoder(testConfig({}));
});

after(async () => {
  await encoder?.close();
  server?.kill('SIGKILL');
  await Promise.all([s3?.stop(), store?.close()]);
});

async function putItems(prefix: string, texts: number, images: number): Promise<number> {
  const lines = [];
  for (let i = 0; i < texts; i++) lines.push(JSON.stringify({ id: `${prefix}-${i}`, text: `${['red', 'blue', 'green'][i % 3]} coat size ${i}` }));
  await s3.put(BUCKET, `${prefix}/records.jsonl`, lines.join('\n'));
  for (let i = 0; i < images; i++) await s3.put(BUCKET, `${prefix}/img${i}.jpg`, await productImage([i * 40, 100, 200 - i * 30], i));
  return texts + images;
}

function configFor(name: string): Config {
  return testConfig({
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name(name),
    REDIS_URL: `redis://127.0.0.1:${port}`,
    QUEUE_PREFIX: name,
    // Jobs stay in the encoder a while, so some are in a worker's hands when Redis goes.
    BATCH_MAX_WAIT_MS: '300',
    BATCH_MAX_SIZE: '64',
  });
}

test('Redis restarted empty mid-run: the producer stops with QUEUE_STATE_LOST naming what is not stored; workers say it once', async () => {
  const config = configFor('lost');
  const total = await putItems('lost', 40, 4);
  const log: string[] = [];
  const worker = await startEmbedWorker(config, { encoder, store: storeRef(), concurrency: 4, stalledIntervalMs: 1000, lockDurationMs: 5000, log: (l) => log.push(l) });
  try {
    assert.ok(log.some((l) => /persistence is off/.test(l)), 'the worker warns that Redis keeps nothing on disk');
    let restarted: Promise<void> | undefined;
    const notices: string[] = [];
    const ingest = runIngest(config, [`s3://${BUCKET}/lost/`], {
      store: storeRef(),
      followIntervalMs: 100,
      listener: {
        notice: (l) => notices.push(l),
        progress: (p) => {
          if (!restarted && p.indexed >= 4) restarted = restartEmpty();
        },
      },
    });
    await assert.rejects(ingest, (err: unknown) => {
      assert.ok(isClipstreamError(err, 'QUEUE_STATE_LOST'), String(err));
      const m = /(\d+) item\(s\) this run queued are not in the store/.exec((err as Error).message);
      assert.ok(m, (err as Error).message);
      const missing = Number(m[1]);
      assert.ok(missing > 0 && missing < total, `some items are named as missing (${missing} of ${total})`);
      assert.match((err as Error).message, /was Redis restarted without persistence.*--resume/);
      return true;
    });
    assert.ok(restarted, 'Redis was restarted');
    await restarted;
    assert.ok(notices.some((l) => /persistence is off/.test(l)), 'the producer warned at start-up too');
  } finally {
    await worker.close();
  }
  const lostLines = log.filter((l) => /lost the queue state/.test(l));
  // Jobs were in the worker's hands (the encoder holds them 300 ms) when Redis went.
  assert.ok(lostLines.length >= 1 && lostLines.length <= 2, `said once per queue at most: ${lostLines.join('\n')}`);
  assert.ok(!log.some((l) => /^embed-(image|text): Missing (key|lock) for job/.test(l)), 'no raw BullMQ error per job');
});

test('with resume, the producer lists again after Redis lost its data and the run completes with everything stored', async () => {
  const config = configFor('resumed');
  const total = await putItems('resumed', 40, 4);
  const worker = await startEmbedWorker(config, { encoder, store: storeRef(), concurrency: 4, stalledIntervalMs: 1000, lockDurationMs: 5000, log: () => {} });
  try {
    let restarted: Promise<void> | undefined;
    const notices: string[] = [];
    const summary = await runIngest(config, [`s3://${BUCKET}/resumed/`], {
      store: storeRef(),
      resume: true,
      followIntervalMs: 100,
      listener: {
        notice: (l) => notices.push(l),
        progress: (p) => {
          if (!restarted && p.indexed >= 4) restarted = restartEmpty();
        },
      },
    });
    assert.ok(restarted, 'Redis was restarted');
    assert.ok(notices.some((l) => /--resume: listing again/.test(l)), notices.join('\n'));
    assert.equal(summary.outcome, 'succeeded');
    assert.equal(summary.failed, 0);
    assert.equal((await store.client.count(store.name('resumed'), { exact: true })).count, total, 'every item is stored');
  } finally {
    await worker.close();
  }
});

test('warnIfNotPersistent tells a Redis that keeps nothing from one with AOF', async () => {
  const r = await connectRedis(`redis://127.0.0.1:${port}`);
  try {
    const said: string[] = [];
    assert.equal(await warnIfNotPersistent(r, (l) => said.push(l)), false);
    assert.match(said[0] ?? '', /persistence is off \(save "" and appendonly no\)/);
    await r.config('SET', 'appendonly', 'yes');
    assert.equal(await warnIfNotPersistent(r, (l) => said.push(l)), true);
    assert.equal(said.length, 1);
    await r.config('SET', 'appendonly', 'no');
  } finally {
    await closeRedis(r);
  }
});

// A worker that hangs instead of exiting fails this test by its timeout.
test('SIGTERM while Redis is down: the worker gives its jobs the grace period, says why, and exits', { timeout: 90_000 }, async () => {
  const config = configFor('term');
  await putItems('term', 30, 0);
  const queued = await runIngest(config, [`s3://${BUCKET}/term/`], { store: storeRef(), wait: false });
  assert.equal(queued.enqueued, 30);
  let log = '';
  const child = spawn(process.execPath, ['bin/clipstream.mjs', 'worker', '--queues', 'text', '--concurrency', '8'], {
    env: {
      PATH: process.env.PATH ?? '',
      MODEL_DIR: config.model.dir,
      DATA_DIR: config.store.dataDir,
      REDIS_URL: config.queue.redisUrl,
      QUEUE_PREFIX: config.queue.prefix,
      QDRANT_URL: store.url,
      QDRANT_COLLECTION: config.store.collection,
      // Jobs wait in the micro-batcher for a second: some are in hand when Redis goes away.
      BATCH_MAX_WAIT_MS: '1000',
      WORKER_SHUTDOWN_GRACE_MS: '1500',
    } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (/consuming embed-text/.test(log)) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
      child.once('exit', () => reject(new Error(`worker exited early: ${log}`)));
    });
    const r = await connectRedis(config.queue.redisUrl!);
    try {
      for (let i = 0; i < 500 && ((await r.llen(`${config.queue.prefix}:embed-text:active`)) ?? 0) === 0; i++) await new Promise((res) => setTimeout(res, 20));
    } finally {
      await closeRedis(r);
    }
    server.kill('SIGKILL');
    // Redis has been gone a while (the worker is reconnecting) when the operator stops the worker.
    const since = log.length;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        // Reconnect attempts being refused: the state in which a plain close waits forever.
        if (/ECONNREFUSED/.test(log.slice(since))) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
    assert.match(log, /SIGTERM: no new jobs; finishing those in flight/);
    assert.match(log, /stopped: \d+ jobs done/);
    // Usually the close cannot finish while Redis refuses connections and the grace period ends it
    // (then it says why); when BullMQ gives up first the worker stops without it. Either way it exits.
    const forced = /not closed within/.test(log);
    if (forced) assert.match(log, /shutdown: not closed within 1500 ms \(WORKER_SHUTDOWN_GRACE_MS\): jobs in flight could not be acknowledged, is Redis reachable\?/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    server = startRedis();
    await waitForRedis(`redis://127.0.0.1:${port}`);
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as net.AddressInfo;
      s.close(() => resolve(p));
    });
  });
}

async function waitForRedis(url: string): Promise<void> {
  const r = await connectRedis(url, { connectTimeoutMs: 10_000 });
  await closeRedis(r);
}
