import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { MODEL_DIR, productImage } from '../pipeline/harness.ts';

const config = loadConfig({ MODEL_DIR, BATCH_MAX_WAIT_MS: '5' });
let direct: ClipEncoder;
let thread: EncoderThread;

before(async () => {
  [direct, thread] = await Promise.all([openEncoder(config), EncoderThread.open(config)]);
});
after(async () => {
  await Promise.all([direct?.close(), thread?.close()]);
});

test('the thread encodes texts and images to the same vectors as the encoder on this thread', async () => {
  assert.equal(thread.model.modelId, direct.model.modelId);
  assert.deepEqual(thread.dims, direct.dims);
  const image = await productImage([200, 40, 40], 3);
  const [a, b] = await Promise.all([thread.encodeImage({ bytes: image }), direct.encodeImage({ bytes: image })]);
  const [c, d] = await Promise.all([thread.encodeText({ text: 'rote Schuhe' }), direct.encodeText({ text: 'rote Schuhe' })]);
  for (const dim of direct.dims) {
    assert.ok(a[dim] instanceof Float32Array && a[dim].length === dim);
    assert.deepEqual(Array.from(a[dim]), Array.from(b[dim]!));
    assert.deepEqual(Array.from(c[dim]!), Array.from(d[dim]!));
  }
});

test('concurrent requests share batches and the stats come back', async () => {
  const before = thread.stats().text.items;
  await Promise.all(Array.from({ length: 40 }, (_, i) => thread.encodeText({ text: `item ${i} blue shirt` })));
  const stats = thread.stats();
  assert.equal(stats.text.items - before, 40);
  assert.ok(Object.keys(stats.text.batchSizes).some((s) => Number(s) > 1), JSON.stringify(stats.text.batchSizes));
});

test('an item error crosses the thread with its code and item', async () => {
  await assert.rejects(thread.encodeImage({ bytes: new Uint8Array([1, 2, 3, 4]), item: 's3://b/broken.jpg' }), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'IMAGE_DECODE_FAILED'), String(err));
    assert.equal(err.item, 's3://b/broken.jpg');
    assert.match(err.message, /^s3:\/\/b\/broken\.jpg: /);
    assert.doesNotMatch(err.message, /broken\.jpg: s3:/, 'the item is not named twice');
    return true;
  });
  await assert.rejects(thread.encodeText({ text: '', item: 'record:d/1' }), (err: unknown) => isClipstreamError(err, 'TEXT_EMPTY') && err.item === 'record:d/1');
});

test('after close, requests fail with ENCODER_CLOSED (an infrastructure error, not the item\'s)', async () => {
  const other = await EncoderThread.open(config);
  const inFlight = other.encodeText({ text: 'finishes before the thread stops' });
  await other.close();
  assert.ok((await inFlight)[64]);
  await assert.rejects(other.encodeText({ text: 'too late' }), (err: unknown) => isClipstreamError(err, 'ENCODER_CLOSED'));
});
