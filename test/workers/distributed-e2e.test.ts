/**
 * The distributed path end to end: s3rver bucket → producer (runIngest with REDIS_URL) →
 * BullMQ queues on the shared Redis (own key prefix) → embed worker → store, with the test
 * model. The worker runs in this process here; faults.test.ts kills real worker processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { openQueues, type QueueContext } from '../../shared/queue/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { startEmbedWorker, type EmbedWorker } from '../../workers/embed/worker.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { putBadCatalogue } from '../pipeline/bad-input.ts';
import { allPoints, assertStored, BUCKET, productImage, putCatalogue, testConfig, waitFor, type ExpectedItem } from '../pipeline/harness.ts';

let s3: S3rver;
let store: TestStore;
let redis: TestRedis;
let config: Config;
let encoder: ClipEncoder;
/** What workers use, as `clipstream worker` does; `encoder` is the direct reference. */
let thread: EncoderThread;
let queues: QueueContext;
let catalogue: ExpectedItem[];
const collection = () => store.name('catalogue');
const counts = () => ({ images: thread.stats().image.items, texts: thread.stats().text.items });
const storeRef = () => ({ client: store.client, url: store.url });
const startWorker = (extra: Partial<Parameters<typeof startEmbedWorker>[1]> = {}) =>
  startEmbedWorker(config, { encoder: thread, store: storeRef(), stalledIntervalMs: 1000, lockDurationMs: 5000, ...extra });

before(async () => {
  [s3, store, redis] = await Promise.all([startS3rver({ faults: true }), startTestStore(), testRedis(import.meta.url)]);
  await s3.createBucket(BUCKET);
  config = testConfig({
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name('catalogue'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
  });
  [encoder, thread] = await Promise.all([openEncoder(config), EncoderThread.open(config)]);
  queues = await openQueues(config.queue);
  catalogue = await putCatalogue(s3, 6);
});

after(async () => {
  await queues?.close();
  await Promise.all([encoder?.close(), thread?.close()]);
  await Promise.all([s3?.stop(), store?.close(), redis?.cleanup()]);
});

test('producer → queues → worker → store: each item once, with its payload and the vectors of a direct encode', async () => {
  const worker = await startWorker();
  try {
    const summary = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { store: storeRef() });
    assert.equal(summary.mode, 'distributed');
    assert.deepEqual(summary.failures, []);
    assert.deepEqual([summary.total, summary.enqueued, summary.indexed, summary.skipped, summary.failed], [30, 30, 30, 0, 0]);
    const run = await queues.runs.readRun(summary.runId);
    assert.equal(run?.state, 'finished');
    assert.deepEqual([run!.counts.image.done, run!.counts.text.done], [6, 24]);
    assert.equal(worker.stats().completed, 30);
  } finally {
    await worker.close();
  }
  const points = await allPoints(store.client, collection());
  assert.equal(points.length, 30);
  await assertStored(points, catalogue, encoder);
  // Texts from many jobs shared encoder batches.
  assert.ok(Object.keys(thread.stats().text.batchSizes).some((s) => Number(s) > 1));
});

test('a re-run queues and encodes nothing; a changed object is queued and encoded alone', async () => {
  const worker = await startWorker();
  try {
    const before = counts();
    const again = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { store: storeRef() });
    assert.deepEqual([again.enqueued, again.skipped, again.indexed], [0, 30, 0]);
    assert.deepEqual(counts(), before);

    const changed = catalogue.find((i) => i.kind === 'image')!;
    if (changed.kind !== 'image') throw new Error('unreachable');
    changed.bytes = await productImage([200, 10, 120], 42);
    await s3.put(BUCKET, changed.key, changed.bytes, 'image/jpeg');
    const third = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { store: storeRef() });
    assert.deepEqual([third.enqueued, third.skipped, third.indexed], [1, 29, 1]);
    assert.deepEqual(counts(), { images: before.images + 1, texts: before.texts });
  } finally {
    await worker.close();
  }
  await assertStored(await allPoints(store.client, collection()), catalogue, encoder);
});

test('a key deleted between list and get fails alone (dead-lettered with its reason); S3 SlowDown is retried', async () => {
  for (let n = 0; n < 4; n++) await s3.put(BUCKET, `late/products/L${n}/front.jpg`, await productImage([n * 60, 90, 90], n));
  // Queue with no worker running, then delete one listed object.
  const queued = await runIngest(config, [`s3://${BUCKET}/late/`], { store: storeRef(), wait: false });
  assert.equal(queued.enqueued, 4);
  await s3.remove(BUCKET, 'late/products/L1/front.jpg');
  s3.faults!.slowDownNextGets(3);
  const gets = s3.faults!.objectGets;
  const worker = await startWorker();
  try {
    await waitFor('the run to finish', async () => (await queues.runs.readRun(queued.runId))?.state === 'finished');
  } finally {
    await worker.close();
  }
  assert.ok(s3.faults!.objectGets - gets >= 4 + 3, 'throttled GETs were retried');
  const run = (await queues.runs.readRun(queued.runId))!;
  assert.deepEqual([run.counts.image.done, run.counts.image.failed], [3, 1]);
  assert.deepEqual(
    run.failures.map((f) => [f.item, f.code]),
    [[`s3://${BUCKET}/late/products/L1/front.jpg`, 'SOURCE_NOT_FOUND']],
  );
  const [dead] = await queues.queues.image.getFailed();
  assert.equal(dead?.data.item.sourceUri, `s3://${BUCKET}/late/products/L1/front.jpg`);
  assert.match(dead!.failedReason, /SOURCE_NOT_FOUND/);
  assert.equal(dead!.attemptsMade, 1, 'an item error is not retried');
  const stored = await store.client.retrieve(collection(), { ids: [0, 2, 3].map((n) => pointId(`s3://${BUCKET}/late/products/L${n}/front.jpg`)) });
  assert.equal(stored.length, 3);
});

test('bad input through the queues: every bad item is reported with its item and reason, every good one is indexed', async () => {
  const bad = await putBadCatalogue(s3, 'bad-distributed/');
  const worker = await startWorker();
  let summary;
  const seen: string[] = [];
  try {
    summary = await runIngest(config, [`s3://${BUCKET}/bad-distributed/`], { store: storeRef(), listener: { failure: (f) => seen.push(f.item) } });
  } finally {
    await worker.close();
  }
  const reported = new Map(summary.failures.map((f) => [f.item, f.code]));
  assert.deepEqual(new Map([...reported].sort()), new Map([...bad.failures].sort()));
  assert.deepEqual(seen.sort(), [...bad.failures.keys()].sort());
  assert.equal(summary.indexed, bad.good.images.length + bad.good.records.length);
  const stored = await store.client.retrieve(collection(), { ids: [...bad.good.images, ...bad.good.records].map(pointId) });
  assert.equal(stored.length, bad.good.images.length + bad.good.records.length);
});

test('graceful shutdown: jobs in flight finish and are acknowledged, the rest wait for the next worker', async () => {
  for (let n = 0; n < 10; n++) await s3.put(BUCKET, `graceful/products/G${n}/front.jpg`, await productImage([20, n * 25, 200], n));
  const queued = await runIngest(config, [`s3://${BUCKET}/graceful/`], { store: storeRef(), wait: false });
  assert.equal(queued.enqueued, 10);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let fetching = 0;
  const slow: EmbedWorker = await startWorker({
    concurrency: 3,
    pipeline: {
      fetchBytes: async (item) => {
        fetching++;
        await gate;
        const { fetchObjectBytes } = await import('../../shared/sources/s3.ts');
        return { bytes: await fetchObjectBytes(s3.client, item.sourceUri) };
      },
    },
  });
  await waitFor('three jobs in flight', () => fetching === 3);
  const closing = slow.close();
  await new Promise((r) => setTimeout(r, 200));
  release();
  await closing;
  assert.equal(slow.stats().completed, 3, 'the jobs in flight were finished');
  const depth = await queues.queues.image.getJobCounts('active', 'waiting', 'completed');
  assert.deepEqual([depth.active, depth.waiting], [0, 7]);

  const next = await startWorker();
  try {
    await waitFor('the run to finish', async () => (await queues.runs.readRun(queued.runId))?.state === 'finished');
  } finally {
    await next.close();
  }
  assert.equal(next.stats().completed, 7);
});
