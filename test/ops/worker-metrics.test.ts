/**
 * Worker metrics against real services: s3rver, the shared Redis (own prefix), the embedded
 * store behind a proxy that can be taken down, the test model on its own encoder thread. The
 * figures are checked against what happened (the run record, the encoder's own statistics),
 * not against hard-coded expectations about timing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { openQueues, QUEUE_NAMES, type QueueContext } from '../../shared/queue/index.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { processRegistry } from '../../services/metrics/registry.ts';
import { registerQueueMetrics } from '../../services/metrics/queues.ts';
import { startOpsListener } from '../../services/metrics/listener.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { BUCKET, putCatalogue, startOutageProxy, testConfig, waitFor } from '../pipeline/harness.ts';
import { metric } from './support.ts';

let s3: S3rver;
let store: TestStore;
let redis: TestRedis;
let config: Config;
let thread: EncoderThread;
let queues: QueueContext;

before(async () => {
  [s3, store, redis] = await Promise.all([startS3rver(), startTestStore(), testRedis(import.meta.url)]);
  await s3.createBucket(BUCKET);
  config = testConfig({ S3_ENDPOINT: s3.endpoint, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('catalogue'), REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix });
  thread = await EncoderThread.open(config);
  queues = await openQueues(config.queue);
  await putCatalogue(s3, 2); // 2 images, 8 texts
  await s3.put(BUCKET, 'catalogue/products/P99/broken.jpg', Buffer.from('not a jpeg at all'), 'image/jpeg');
});

after(async () => {
  await queues?.close();
  await thread?.close();
  await Promise.all([s3?.stop(), store?.close(), redis?.cleanup()]);
});

test('queue depth and oldest waiting age, then every stage of the pipeline, failures by code and retries by cause', async () => {
  const registry = processRegistry('worker');
  const queueMetrics = registerQueueMetrics(registry, { redis: redis.redis, prefix: redis.prefix, queues: Object.values(QUEUE_NAMES) });
  const listener = await startOpsListener({ registry, host: '127.0.0.1', port: 0 });
  try {
    // Queued with no worker running: the depth is what the producer put there.
    const queued = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { store: { client: store.client, url: store.url }, wait: false });
    assert.equal(queued.enqueued, 11);
    const [oldestText] = await queues.queues.text.getJobs(['wait'], 0, 0, true);
    const ageBefore = (Date.now() - oldestText!.timestamp) / 1000;
    assert.equal(await metric(registry, 'clipstream_queue_jobs', { queue: 'embed-text', state: 'waiting' }), 8);
    assert.equal(await metric(registry, 'clipstream_queue_jobs', { queue: 'embed-image', state: 'waiting' }), 3);
    assert.ok((await metric(registry, 'clipstream_queue_oldest_waiting_seconds', { queue: 'embed-text' })) >= ageBefore);
    // The same figures over HTTP, as Prometheus scrapes them.
    const scraped = await (await fetch(`${listener.url}/metrics`)).text();
    assert.match(scraped, /^clipstream_queue_jobs\{queue="embed-image",state="waiting",role="worker"\} 3$/m);
    assert.match(scraped, /^clipstream_process_resident_memory_bytes\{role="worker"\} \d+/m);
    assert.match(scraped, /^clipstream_nodejs_eventloop_lag_seconds\{role="worker"\} /m);

    // The store is down when the worker starts: upserts are retried, then the jobs.
    const proxy = await startOutageProxy(store.url);
    proxy.down();
    const worker = await startEmbedWorker(config, {
      encoder: thread,
      store: { client: new (await import('@qdrant/js-client-rest')).QdrantClient({ url: proxy.url, checkCompatibility: false }), url: proxy.url },
      pipeline: { upserter: { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } } },
      metrics: registry,
      stalledIntervalMs: 1000,
      lockDurationMs: 5000,
    });
    try {
      // Down at start: the collection cannot even be checked, so the jobs are retried.
      await waitFor('a job retried because the store is down', async () => (await metric(registry, 'clipstream_retries_total', { stage: 'job' })) >= 1);
      proxy.up();
      await waitFor('the run to finish', async () => (await queues.runs.readRun(queued.runId))?.state === 'finished');
      // Down after the check: the upserter retries its request, then the job is retried.
      proxy.down();
      await s3.put(BUCKET, 'extra/records.jsonl', '{"id":"x1","text":"rote Schuhe"}\n{"id":"x2","text":"blaue Jacke"}\n', 'application/x-ndjson');
      const extra = await runIngest(config, [`s3://${BUCKET}/extra/records.jsonl`], { store: { client: store.client, url: store.url }, wait: false });
      assert.equal(extra.enqueued, 2);
      await waitFor('an upsert retried', async () => (await metric(registry, 'clipstream_retries_total', { stage: 'upsert' })) >= 1);
      proxy.up();
      await waitFor('the second run to finish', async () => (await queues.runs.readRun(extra.runId))?.state === 'finished');
    } finally {
      await worker.close();
      await proxy.close();
    }

    assert.equal(await metric(registry, 'clipstream_items_encoded_total', { modality: 'image' }), 2);
    assert.equal(await metric(registry, 'clipstream_items_encoded_total', { modality: 'text' }), 10);
    assert.equal(await metric(registry, 'clipstream_jobs_failed_total', { queue: 'embed-image', code: 'IMAGE_DECODE_FAILED' }), 1);
    assert.equal(await metric(registry, 'clipstream_jobs_processed_total', { outcome: 'failed' }), 1);
    assert.ok((await metric(registry, 'clipstream_jobs_processed_total', { outcome: 'retried' })) >= 1);
    assert.ok((await metric(registry, 'clipstream_retries_total', { stage: 'job', cause: 'STORE_UNAVAILABLE' })) >= 1);
    assert.ok((await metric(registry, 'clipstream_retries_total', { stage: 'upsert', cause: 'connection' })) >= 1);
    assert.ok((await metric(registry, 'clipstream_upsert_request_errors_total', { cause: 'connection' })) >= 1);
    assert.ok((await metric(registry, 'clipstream_upsert_duration_seconds_count', { outcome: 'ok' })) >= 1);
    assert.ok((await metric(registry, 'clipstream_fetch_duration_seconds_count', { outcome: 'ok' })) >= 3);

    // Batch sizes: exactly the batches the encoder ran, item for item.
    const stats = thread.stats();
    for (const modality of ['text', 'image'] as const) {
      const sizes = Object.entries(stats[modality].batchSizes);
      const batches = sizes.reduce((n, [, count]) => n + count, 0);
      const items = sizes.reduce((n, [size, count]) => n + Number(size) * count, 0);
      assert.equal(await metric(registry, 'clipstream_encoder_batch_size_count', { modality }), batches, `${modality} batches`);
      assert.equal(await metric(registry, 'clipstream_encoder_batch_size_sum', { modality }), items, `${modality} items in batches`);
      assert.equal(await metric(registry, 'clipstream_encoder_batch_duration_seconds_count', { modality }), batches);
      // Every encode call was timed: the successful ones at least once per item encoded.
      assert.ok((await metric(registry, 'clipstream_encode_duration_seconds_count', { modality })) >= (modality === 'text' ? 10 : 2));
    }
    assert.equal(await metric(registry, 'clipstream_preprocess_duration_seconds_count'), stats.image.items);
    assert.ok((await metric(registry, 'clipstream_preprocess_duration_seconds_sum')) > 0);
    assert.equal(await metric(registry, 'clipstream_queue_jobs', { queue: 'embed-text', state: 'waiting' }), 0);
    assert.equal(await metric(registry, 'clipstream_queue_oldest_waiting_seconds', { queue: 'embed-text' }), 0);
    assert.equal(await metric(registry, 'clipstream_queue_jobs', { queue: 'embed-image', state: 'failed' }), 1);

    // A job for an item already stored unchanged (no `force`): skipped, and counted as such.
    const [done] = await queues.queues.text.getJobs(['completed'], 0, 0);
    const skipRegistry = processRegistry('worker', { processMetrics: false });
    const skipper = await startEmbedWorker(config, { encoder: thread, store: { client: store.client, url: store.url }, metrics: skipRegistry });
    try {
      await queues.queues.text.add('embed', { ...done!.data, force: false, runId: 'skip-check' });
      await waitFor('the unchanged item to be skipped', async () => (await metric(skipRegistry, 'clipstream_items_skipped_total', { modality: 'text' })) === 1);
      assert.equal(await metric(skipRegistry, 'clipstream_items_encoded_total', { modality: 'text' }), 0);
    } finally {
      await skipper.close();
    }
  } finally {
    await listener.close();
    await queueMetrics.close();
  }
});

test('/readyz of a worker names Redis, the store and the model, and says which one is down', async () => {
  const proxy = await startOutageProxy(store.url);
  const worker = await startEmbedWorker(config, {
    encoder: thread,
    store: { client: new (await import('@qdrant/js-client-rest')).QdrantClient({ url: proxy.url, checkCompatibility: false, timeout: 1000 }), url: proxy.url },
  });
  const listener = await startOpsListener({ registry: processRegistry('worker', { processMetrics: false }), host: '127.0.0.1', port: 0, readiness: worker.readiness });
  try {
    const ready = await fetch(`${listener.url}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.checks).sort(), ['model', 'redis', 'store']);
    assert.match(body.checks.model!, /^ok: .*test-tiny/);
    proxy.down();
    const down = await fetch(`${listener.url}/readyz`);
    const downBody = (await down.json()) as { status: string; checks: Record<string, string> };
    assert.equal(down.status, 503);
    assert.equal(downBody.status, 'not ready');
    assert.doesNotMatch(downBody.checks.store!, /^ok/);
    assert.match(downBody.checks.redis!, /^ok/);
    assert.equal((await fetch(`${listener.url}/healthz`)).status, 200, 'alive even when not ready');
  } finally {
    await listener.close();
    await worker.close();
    await proxy.close();
  }
});
