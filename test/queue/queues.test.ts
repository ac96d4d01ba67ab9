import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, UnrecoverableError } from 'bullmq';
import type { ImageObject, TextRecord } from '../../shared/catalogue/types.ts';
import { ClipstreamError, isClipstreamError } from '../../shared/errors.ts';
import { connectRedis, redactRedisUrl } from '../../shared/queue/connection.ts';
import {
  createQueues,
  enqueueItem,
  enqueueItems,
  isRetryableJobError,
  jobIdFor,
  pendingCount,
  QUEUE_NAMES,
  waitForRoom,
  type EmbedJobData,
} from '../../shared/queue/queues.ts';
import { openQueues } from '../../shared/queue/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { testRedis } from '../support/redis.ts';

const r = await testRedis(import.meta.url);
const queues = createQueues(r.redis, r.prefix);
test.after(async () => {
  await queues.close();
  await r.cleanup();
});

const image = (key: string, version = 'etag1'): ImageObject => ({ kind: 'image', sourceUri: `s3://bkt/${key}`, version, bytes: 10 });
const text = (id: string, version = 'a'.repeat(64)): TextRecord => ({
  kind: 'text',
  sourceUri: `record:ds/${id}`,
  version,
  recordId: id,
  text: `text ${id}`,
  fields: {},
});

test('job ids: point id and version, stable, no ":" and never an integer', () => {
  const item = image('a/b.jpg', '9b2cf535f27731c974343645a3985328-3');
  const id = jobIdFor(item);
  assert.equal(id, `${pointId('s3://bkt/a/b.jpg')}.9b2cf535f27731c974343645a3985328-3`);
  assert.equal(jobIdFor({ ...item }), id);
  assert.notEqual(jobIdFor({ ...item, version: 'other' }), id);
  assert.ok(!jobIdFor({ sourceUri: 'record:x/1', version: 'w/"odd:version"' }).includes(':'));
  assert.match(jobIdFor({ sourceUri: 'record:x/1', version: 'w/"odd:version"' }), /^[0-9a-f-]{36}\.h[0-9a-f]{32}$/);
  assert.throws(() => jobIdFor({ sourceUri: 'record:x/1', version: '' }), (e) => isClipstreamError(e, 'BAD_REQUEST'));
});

test('the same unchanged item is queued once; a new version is a new job', async () => {
  const item = image('dedupe/one.jpg');
  assert.equal(await enqueueItem(queues, 'run-1', item), 'enqueued');
  assert.equal(await enqueueItem(queues, 'run-2', item), 'duplicate');
  assert.equal(await enqueueItem(queues, 'run-2', { ...item }), 'duplicate');
  const job = await queues.image.getJob(jobIdFor(item));
  assert.equal(job?.data.runId, 'run-1', 'the first run keeps the job');
  assert.deepEqual(job?.data.item, item);
  assert.equal(await enqueueItem(queues, 'run-2', image('dedupe/one.jpg', 'etag2')), 'enqueued');
  assert.equal(await queues.image.getWaitingCount(), 2);
  assert.equal(await queues.text.getWaitingCount(), 0);
});

test('enqueueItems routes each modality to its queue, in one batch, results in input order', async () => {
  const items = [text('t1'), image('batch/1.jpg'), text('t2'), text('t1')];
  const results = await enqueueItems(queues, 'run-3', items);
  // The repeated t1 in the same batch: both see "unknown", BullMQ keeps one job.
  assert.deepEqual(results.slice(0, 3), ['enqueued', 'enqueued', 'enqueued']);
  const textJobs = await queues.text.getJobs(['waiting']);
  assert.deepEqual(textJobs.map((j) => j.data.item.sourceUri).sort(), ['record:ds/t1', 'record:ds/t2']);
  assert.equal(textJobs[0]!.name, QUEUE_NAMES.text);
  assert.equal(textJobs[0]!.opts.attempts, 5);
});

test('a finished job of the same item and version is replaced, not silently kept', async () => {
  const q = createQueues(r.redis, `${r.prefix}:finished`, { text: { attempts: 1 } });
  const workerConnection = r.redis.duplicate();
  const worker = new Worker<EmbedJobData>(
    QUEUE_NAMES.text,
    async (job) => {
      if (job.data.item.sourceUri === 'record:ds/bad') throw new UnrecoverableError('TEXT_EMPTY');
      return 'ok';
    },
    { connection: workerConnection, prefix: `${r.prefix}:finished`, concurrency: 1 },
  );
  try {
    const ok = text('good');
    const bad = text('bad');
    const settled = new Promise<void>((resolve) => {
      let n = 0;
      const tick = () => ++n === 2 && resolve();
      worker.on('completed', tick);
      worker.on('failed', tick);
    });
    await enqueueItems(q, 'run-a', [ok, bad]);
    await settled;
    assert.equal(await q.text.getJobState(jobIdFor(bad)), 'failed');
    await worker.close(true);
    assert.deepEqual(await enqueueItems(q, 'run-b', [ok, bad]), ['requeued', 'requeued']);
    const again = await q.text.getJob(jobIdFor(bad));
    assert.equal(await again!.getState(), 'waiting');
    assert.equal(again!.data.runId, 'run-b');
  } finally {
    await worker.close(true);
    await q.close();
    workerConnection.disconnect();
  }
});

test('waitForRoom resolves once the waiting count drops below the limit', async () => {
  const q = createQueues(r.redis, `${r.prefix}:room`);
  try {
    await enqueueItems(q, 'run-room', [text('r1'), text('r2'), text('r3')]);
    assert.equal(await pendingCount(q.text), 3);
    assert.equal(await waitForRoom(q.text, 10), 3, 'room already');
    let resolved = false;
    const waiting = waitForRoom(q.text, 2, { pollMs: 10, maxPollMs: 20 }).then((n) => {
      resolved = true;
      return n;
    });
    await new Promise((res) => setTimeout(res, 60));
    assert.equal(resolved, false, 'still full');
    const [first, second] = await q.text.getJobs(['waiting']);
    await first!.remove();
    await second!.remove();
    assert.equal(await waiting, 1);
    const aborted = new AbortController();
    const blocked = waitForRoom(q.text, 1, { pollMs: 10, signal: aborted.signal });
    aborted.abort(new Error('stop'));
    await assert.rejects(blocked, /stop/);
  } finally {
    await q.close();
  }
});

test('which job errors are worth retrying', () => {
  assert.equal(isRetryableJobError(new ClipstreamError('SOURCE_UNREACHABLE', 'x')), true);
  assert.equal(isRetryableJobError(new ClipstreamError('STORE_UNAVAILABLE', 'x')), true);
  assert.equal(isRetryableJobError(new ClipstreamError('SOURCE_NOT_FOUND', 'x')), false);
  assert.equal(isRetryableJobError(new ClipstreamError('IMAGE_DECODE_FAILED', 'x')), false);
  assert.equal(isRetryableJobError(new Error('socket closed')), true);
});

test('Redis unreachable: QUEUE_UNAVAILABLE after bounded retries, naming the URL (password hidden)', async () => {
  await assert.rejects(connectRedis('redis://:s3cret@127.0.0.1:1/0', { connectTimeoutMs: 800 }), (e) => {
    assert.ok(isClipstreamError(e, 'QUEUE_UNAVAILABLE'));
    assert.match(e.message, /redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 within 800 ms/);
    assert.match(e.message, /ECONNREFUSED/);
    assert.ok(!e.message.includes('s3cret'));
    return true;
  });
  assert.equal(redactRedisUrl('redis://user:pw@h:6379'), 'redis://user:***@h:6379');
  await assert.rejects(openQueues({ prefix: 'x', maxWaiting: 1 }), (e) => isClipstreamError(e, 'CONFIG_INVALID'));
});

test('openQueues from config: queues under QUEUE_PREFIX, and close leaves no connection behind', async () => {
  const ctx = await openQueues({ redisUrl: r.url, prefix: `${r.prefix}:ctx`, maxWaiting: 7 });
  await enqueueItem(ctx.queues, 'run-ctx', image('ctx/a.jpg'));
  assert.ok((await r.keys()).some((k) => k.startsWith(`${r.prefix}:ctx:${QUEUE_NAMES.image}:`)));
  assert.equal(ctx.maxWaiting, 7);
  await ctx.close();
  assert.equal(ctx.redis.status, 'end');
});
