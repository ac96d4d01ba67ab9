/**
 * The embedded runner end to end: s3rver bucket → runIngest (no Redis) → embedded store, with
 * the test model. Same assertions as the distributed path: everything stored once with the
 * right payload and vectors, re-runs encode nothing, faults are retried or reported per item.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import type { ItemFailure } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { createByteFetcher } from '../../shared/pipeline/fetch.ts';
import { openPipeline } from '../../shared/pipeline/index.ts';
import { type ItemProcessor } from '../../shared/pipeline/processor.ts';
import { listImageObjects } from '../../shared/sources/s3.ts';
import { pointId } from '../../shared/store/ids.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { putBadCatalogue } from './bad-input.ts';
import { allPoints, assertStored, BUCKET, productImage, putCatalogue, startOutageProxy, testConfig, type ExpectedItem } from './harness.ts';

let s3: S3rver;
let store: TestStore;
let config: Config;
let encoder: ClipEncoder;
/** What the runs use, as the CLI does: the encoder on its own thread. `encoder` is the direct reference. */
let thread: EncoderThread;
let catalogue: ExpectedItem[];
const collection = () => store.name('catalogue');
const counts = () => {
  const s = thread.stats();
  return { images: s.image.items, texts: s.text.items };
};

before(async () => {
  [s3, store] = await Promise.all([startS3rver({ faults: true }), startTestStore()]);
  await s3.createBucket(BUCKET);
  config = testConfig({ S3_ENDPOINT: s3.endpoint, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('catalogue') });
  [encoder, thread] = await Promise.all([openEncoder(config), EncoderThread.open(config)]);
  catalogue = await putCatalogue(s3, 6);
});

after(async () => {
  await Promise.all([encoder?.close(), thread?.close()]);
  await Promise.all([s3?.stop(), store?.close()]);
});

test('images and multilingual records are stored once each, with their payload and the vectors of a direct encode', async () => {
  // Two throttled GETs on the way: retried by the fetcher, invisible in the outcome.
  s3.faults!.slowDownNextGets(2);
  const getsBefore = s3.faults!.objectGets;
  // No encoder given: runIngest opens its own on a thread, as `clipstream ingest` does.
  const summary = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { mode: 'embedded', store });
  assert.deepEqual(summary.failures, []);
  assert.equal(summary.mode, 'embedded');
  assert.deepEqual([summary.total, summary.indexed, summary.skipped, summary.failed], [30, 30, 0, 0]);
  assert.ok(s3.faults!.objectGets - getsBefore >= 6 + 1 + 2, 'the throttled GETs were retried');
  const points = await allPoints(store.client, collection());
  assert.equal(points.length, 30);
  await assertStored(points, catalogue, encoder);
  // The micro-batcher saw concurrent items: some batch held more than one.
  assert.ok(Object.keys(summary.batchSizes!.text).some((size) => Number(size) > 1), JSON.stringify(summary.batchSizes));
});

test('a re-run encodes nothing; a changed object re-encodes only itself', async () => {
  const before = counts();
  const again = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { mode: 'embedded', encoder: thread, store });
  assert.deepEqual([again.indexed, again.skipped, again.failed], [0, 30, 0]);
  assert.deepEqual(counts(), before);

  const changed = catalogue.find((i) => i.kind === 'image')!;
  if (changed.kind !== 'image') throw new Error('unreachable');
  changed.bytes = await productImage([10, 200, 200], 99);
  await s3.put(BUCKET, changed.key, changed.bytes, 'image/jpeg');
  const third = await runIngest(config, [`s3://${BUCKET}/catalogue/`], { mode: 'embedded', encoder: thread, store });
  assert.deepEqual([third.indexed, third.skipped], [1, 29]);
  assert.deepEqual(counts(), { images: before.images + 1, texts: before.texts });
  const points = await allPoints(store.client, collection());
  assert.equal(points.length, 30);
  await assertStored(points, catalogue, encoder);
});

test('bad input: every bad item is reported with its item and reason, every good one is indexed', async () => {
  const bad = await putBadCatalogue(s3, 'bad-embedded/');
  const seen: ItemFailure[] = [];
  const summary = await runIngest(config, [`s3://${BUCKET}/bad-embedded/`], { mode: 'embedded', encoder: thread, store, listener: { failure: (f) => seen.push(f) } });
  const reported = new Map(summary.failures.map((f) => [f.item, f.code]));
  assert.deepEqual(new Map([...reported].sort()), new Map([...bad.failures].sort()));
  assert.deepEqual(seen.map((f) => f.item).sort(), [...bad.failures.keys()].sort(), 'failures are reported as they happen');
  for (const f of summary.failures) assert.ok(f.reason.length > 5, `${f.item} has a reason: ${f.reason}`);
  assert.equal(summary.indexed, bad.good.images.length + bad.good.records.length);
  const stored = await store.client.retrieve(collection(), { ids: [...bad.good.images, ...bad.good.records].map(pointId), with_payload: ['source'] });
  assert.equal(stored.length, bad.good.images.length + bad.good.records.length);
});

test('an object deleted between listing and fetching fails alone with SOURCE_NOT_FOUND', async () => {
  await s3.put(BUCKET, 'vanishing/a.jpg', await productImage([1, 2, 3], 1));
  await s3.put(BUCKET, 'vanishing/b.jpg', await productImage([3, 2, 1], 2));
  const listed = [];
  for await (const image of listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'vanishing/' })) listed.push(image);
  assert.equal(listed.length, 2);
  await s3.remove(BUCKET, 'vanishing/a.jpg');
  const pipeline = await openPipeline(config, { encoder: thread, store, s3Client: () => s3.client });
  try {
    const processor: ItemProcessor = pipeline.processor;
    const [gone, kept] = await Promise.all(listed.map((item) => processor.process(item)));
    assert.equal(gone!.status, 'failed');
    assert.equal(gone!.status === 'failed' && gone!.failure.code, 'SOURCE_NOT_FOUND');
    assert.equal(gone!.item, `s3://${BUCKET}/vanishing/a.jpg`);
    assert.equal(kept!.status, 'indexed');
  } finally {
    await pipeline.close();
  }
  // The fetcher alone says the same (what the worker sees).
  const fetch = createByteFetcher({ s3Client: () => s3.client, maxBytes: 1 << 20 });
  await assert.rejects(fetch(listed[0]!), /SOURCE_NOT_FOUND|no longer|not found|NoSuchKey/i);
});

test('the store unreachable for a while: writes are retried and the run completes', async () => {
  const proxy = await startOutageProxy(store.url);
  const client = new QdrantClient({ url: proxy.url, checkCompatibility: false });
  for (let n = 0; n < 12; n++) await s3.put(BUCKET, `outage/products/Q${n}/front.png`, await productImage([n * 20, 100, 255 - n * 20], n, 'png'));
  let tookDown = false;
  try {
    const summary = await runIngest(config, [`s3://${BUCKET}/outage/`], {
      mode: 'embedded',
      encoder: thread,
      store: { client, url: proxy.url },
      concurrency: 2,
      listener: {
        progress: (p) => {
          if (!tookDown && p.done >= 2) {
            tookDown = true;
            proxy.down();
            setTimeout(() => proxy.up(), 1500);
          }
        },
      },
    });
    assert.ok(tookDown);
    assert.ok(proxy.refused > 0, 'requests were refused during the outage');
    assert.deepEqual([summary.indexed, summary.failed], [12, 0]);
  } finally {
    proxy.up();
    await proxy.close();
  }
  const ids = Array.from({ length: 12 }, (_, n) => pointId(`s3://${BUCKET}/outage/products/Q${n}/front.png`));
  assert.equal((await store.client.retrieve(collection(), { ids })).length, 12);
});
