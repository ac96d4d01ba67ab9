import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClipstreamError } from '../../shared/errors.ts';
import { ItemProcessor } from '../../shared/pipeline/processor.ts';
import { VersionLookup } from '../../shared/pipeline/versions.ts';
import { pointId } from '../../shared/store/ids.ts';
import { DIMS, FakeEncoder, FakeSink, imageObject, textRecord } from './fakes.ts';

function setup(files: Record<string, Uint8Array> = {}) {
  const encoder = new FakeEncoder();
  const sink = new FakeSink();
  let fetches = 0;
  let maxConcurrentFetches = 0;
  let active = 0;
  const processor = new ItemProcessor({
    encoder,
    sink,
    model: encoder.model.modelId,
    dims: DIMS,
    storedVersions: sink.versions,
    fetchSlots: 2,
    fetchBytes: async (item) => {
      fetches++;
      active++;
      maxConcurrentFetches = Math.max(maxConcurrentFetches, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
      const bytes = files[item.sourceUri];
      if (!bytes) throw new ClipstreamError('SOURCE_NOT_FOUND', 'object no longer exists', { item: item.sourceUri });
      return { bytes };
    },
  });
  return { encoder, sink, processor, stats: () => ({ fetches, maxConcurrentFetches }) };
}

test('an item is encoded, built into a point with its payload and stored under its deterministic id', async () => {
  const { sink, processor } = setup();
  const rec = textRecord('sku-1', 'rote Schuhe', { lang: 'de', productId: 'P1', fields: { title: 'Rote Schuhe', price: 9 } });
  const outcome = await processor.process(rec);
  assert.equal(outcome.status, 'indexed');
  const point = sink.points.get(pointId(rec.sourceUri));
  assert.ok(point);
  assert.deepEqual(Object.keys(point.vector).sort(), ['lex', 'mrl_1024', 'mrl_256', 'mrl_64']);
  assert.equal(point.payload.modality, 'text');
  assert.equal(point.payload.lang, 'de');
  assert.equal(point.payload.product_id, 'P1');
  assert.equal(point.payload.content_hash, rec.version);
  assert.equal(point.payload.model, 'fake/clip@test');
  assert.deepEqual(point.payload.fields, { title: 'Rote Schuhe', price: 9 });
});

test('an unchanged item is skipped without encoding; a changed one is re-encoded', async () => {
  const { encoder, sink, processor } = setup();
  await processor.process(textRecord('a', 'blue shirt'));
  assert.equal((await processor.process(textRecord('a', 'blue shirt'))).status, 'skipped');
  assert.equal(encoder.texts.length, 1);
  assert.equal((await processor.process(textRecord('a', 'blue shirt, long sleeves'))).status, 'indexed');
  assert.equal(encoder.texts.length, 2);
  assert.equal(sink.points.size, 1);
  assert.equal((await processor.process(textRecord('a', 'blue shirt, long sleeves'), { force: true })).status, 'indexed');
  assert.equal(encoder.texts.length, 3);
});

test('item errors become failed outcomes naming the item and reason; infrastructure errors are thrown', async () => {
  const good = new Uint8Array([1, 2, 3]);
  const { sink, processor } = setup({ 's3://bucket/good.jpg': good, 's3://bucket/bad.jpg': new Uint8Array([0xff, 0xff]) });
  const bad = await processor.process(imageObject('bad.jpg', new Uint8Array([0xff, 0xff])));
  assert.equal(bad.status, 'failed');
  assert.deepEqual(bad.status === 'failed' && bad.failure, { item: 's3://bucket/bad.jpg', code: 'IMAGE_DECODE_FAILED', reason: 'not an image' });
  const gone = await processor.process(imageObject('gone.jpg', good));
  assert.equal(gone.status === 'failed' && gone.failure.code, 'SOURCE_NOT_FOUND');
  const empty = await processor.process(textRecord('e', '  '));
  assert.equal(empty.status === 'failed' && empty.failure.code, 'TEXT_EMPTY');
  assert.equal((await processor.process(imageObject('good.jpg', good))).status, 'indexed');

  sink.failWith = new ClipstreamError('STORE_UNAVAILABLE', 'store down');
  await assert.rejects(processor.process(textRecord('x', 'hello')), (e: unknown) => e instanceof ClipstreamError && e.code === 'STORE_UNAVAILABLE');
  assert.deepEqual({ ...processor.stats(), fetchMs: 0, storeMs: 0, fetchedBytes: 0 }, { indexed: 1, skipped: 0, failed: 3, fetchMs: 0, storeMs: 0, fetchedBytes: 0 });
});

test('a non-canonical source URI fails as the item, not the run', async () => {
  const { processor } = setup();
  const outcome = await processor.process({ ...textRecord('x', 'hi'), sourceUri: 'record:/nope' });
  assert.equal(outcome.status === 'failed' && outcome.failure.code, 'BAD_REQUEST');
});

test('image fetches are bounded by fetchConcurrency', async () => {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 10; i++) files[`s3://bucket/${i}.jpg`] = new Uint8Array([i, 1]);
  const { processor, stats } = setup(files);
  const outcomes = await Promise.all(Object.entries(files).map(([, b], i) => processor.process(imageObject(`${i}.jpg`, b))));
  assert.ok(outcomes.every((o) => o.status === 'indexed'));
  assert.equal(stats().fetches, 10);
  assert.equal(stats().maxConcurrentFetches, 2);
});

test('version lookups from concurrent callers share one store round trip', async () => {
  const asked: string[][] = [];
  const lookup = new VersionLookup(async (ids) => {
    asked.push(ids);
    return new Map(ids.filter((id) => id.startsWith('a')).map((id) => [id, { contentHash: `v-${id}` }]));
  });
  const results = await Promise.all(['a1', 'b1', 'a2', 'a1'].map((id) => lookup.get(id)));
  assert.deepEqual(results.map((r) => r?.contentHash), ['v-a1', undefined, 'v-a2', 'v-a1']);
  assert.equal(asked.length, 1);
  assert.deepEqual(asked[0], ['a1', 'b1', 'a2']);
});

test('a point stored by another model is re-encoded; by the same model it is skipped', async () => {
  const encoder = new FakeEncoder();
  const sink = new FakeSink();
  const fetchBytes = async () => { throw new Error('text records are not fetched'); };
  const deps = { encoder, sink, dims: DIMS, storedVersions: sink.versions, fetchBytes, fetchSlots: 1 };
  const rec = textRecord('m', 'green scarf');
  assert.equal((await new ItemProcessor({ ...deps, model: 'old/clip@v1' }).process(rec)).status, 'indexed');
  assert.equal(sink.points.get(pointId(rec.sourceUri))?.payload.model, 'old/clip@v1');
  const next = new ItemProcessor({ ...deps, model: 'new/clip@v2' });
  assert.equal((await next.process(rec)).status, 'indexed', 'same content, new model: re-encode');
  assert.equal(sink.points.get(pointId(rec.sourceUri))?.payload.model, 'new/clip@v2');
  assert.equal((await next.process(rec)).status, 'skipped');
  assert.equal(encoder.texts.length, 2);
});

test('an object changed between listing and fetch is stored with the version that was fetched', async () => {
  const encoder = new FakeEncoder();
  const sink = new FakeSink();
  const processor = new ItemProcessor({
    encoder,
    sink,
    model: encoder.model.modelId,
    dims: DIMS,
    storedVersions: sink.versions,
    fetchBytes: async () => ({ bytes: new Uint8Array([9, 9, 9]), version: 'etag-after-change' }),
    fetchSlots: 1,
  });
  const listed = imageObject('moved.jpg', new Uint8Array([1, 2, 3]), { version: 'etag-when-listed' });
  assert.equal((await processor.process(listed)).status, 'indexed');
  assert.equal(sink.points.get(pointId(listed.sourceUri))?.payload.content_hash, 'etag-after-change');
  // Listed again with the new ETag, it is now unchanged.
  assert.equal((await processor.process({ ...listed, version: 'etag-after-change' })).status, 'skipped');
});
