// The encoder facade on the generated test model: shapes, norms, query prefix, batching
// equivalence, cross-lingual retrieval, and per-item failure isolation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openEncoder, type ClipEncoder, type MatryoshkaVectors } from '../../shared/encoder/index.ts';
import { conceptPhrase, COLOURS, type Language } from '../../scripts/test-model/concepts.ts';
import { drawProductImage } from '../../scripts/test-model/draw.ts';
import { imageCorpus } from '../support/image-corpus.ts';

let encoder: ClipEncoder;
const config = loadConfig({ MODEL_DIR: path.resolve('models/test-tiny'), BATCH_MAX_WAIT_MS: '5' });
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (v: Float32Array) => Math.sqrt(dot(v, v));

before(async () => {
  encoder = await openEncoder(config);
});
after(async () => {
  await encoder.close();
});

function assertUnitSlices(v: MatryoshkaVectors) {
  for (const d of [64, 256, 1024]) {
    assert.equal(v[d]!.length, d);
    assert.ok(Math.abs(norm(v[d]!) - 1) < 1e-4, `mrl_${d} norm ${norm(v[d]!)}`);
  }
}

test('texts and images give unit 64/256/1024 vectors, each the truncated-then-normalised full vector', async () => {
  const t = await encoder.encodeText({ text: 'red shoes' });
  const i = await encoder.encodeImage({ bytes: await drawProductImage({ colour: 'red', category: 'shoe', seed: 1 }) });
  for (const v of [t, i]) {
    assertUnitSlices(v);
    // Worked out here, not by the function under test: the first 64 of the 1024, over their norm.
    const head = Array.from(v[1024]!.subarray(0, 64));
    const n = Math.hypot(...head);
    for (let k = 0; k < 64; k++) assert.ok(Math.abs(head[k]! / n - v[64]![k]!) < 1e-5);
  }
  assert.equal(encoder.model.isTestModel, true);
});

test('the query prefix is applied only to queries', async () => {
  const doc = await encoder.encodeText({ text: 'blue bag' });
  const query = await encoder.encodeText({ text: 'blue bag', query: true });
  const docAgain = await encoder.encodeText({ text: 'blue bag', query: false });
  assert.deepEqual(Array.from(doc[1024]!), Array.from(docAgain[1024]!));
  assert.ok(dot(doc[1024]!, query[1024]!) < 0.99999, 'query and document encodings differ');
});

test('batched results equal single-item results', async () => {
  const texts = ['red shoes', 'grüne Tasche', '青い帽子', 'a much longer product description of a yellow cup for coffee and tea', '红色鞋子'];
  const singles: MatryoshkaVectors[] = [];
  for (const text of texts) singles.push(await encoder.encodeText({ text }));
  const batched = await Promise.all(texts.map((text) => encoder.encodeText({ text })));
  batched.forEach((v, i) => {
    for (let k = 0; k < 1024; k++) assert.ok(Math.abs(v[1024]![k]! - singles[i]![1024]![k]!) < 1e-5, `text ${i} dim ${k}`);
  });
  const images = await Promise.all([1, 2, 3].map((seed) => drawProductImage({ colour: COLOURS[seed]!.id, category: 'hat', seed })));
  const single: MatryoshkaVectors[] = [];
  for (const bytes of images) single.push(await encoder.encodeImage({ bytes }));
  const together = await Promise.all(images.map((bytes) => encoder.encodeImage({ bytes })));
  together.forEach((v, i) => {
    for (let k = 0; k < 1024; k++) assert.ok(Math.abs(v[1024]![k]! - single[i]![1024]![k]!) < 1e-5);
  });
  assert.ok(Object.keys(encoder.stats().text.batchSizes).some((size) => Number(size) > 1), 'concurrent texts were batched together');
});

test('cross-lingual: colour phrases in six languages retrieve the image of that colour, at 64 and 1024 dims', async () => {
  const colours = ['red', 'green', 'blue', 'yellow', 'black', 'white'];
  const images = await Promise.all(colours.map((colour, i) => drawProductImage({ colour, category: 'bag', seed: 10 + i }).then((bytes) => encoder.encodeImage({ bytes }))));
  for (const lang of ['en', 'de', 'fr', 'es', 'ja', 'zh'] as Language[]) {
    for (const [ci, colour] of colours.entries()) {
      const q = await encoder.encodeText({ text: conceptPhrase(colour, 'bag', lang), query: true });
      for (const dim of [64, 1024]) {
        const scores = images.map((img) => dot(q[dim]!, img[dim]!));
        const best = scores.indexOf(Math.max(...scores));
        assert.equal(colours[best], colour, `${lang} "${conceptPhrase(colour, 'bag', lang)}" at ${dim}d → ${colours[best]}`);
        assert.equal(best, ci);
      }
    }
  }
});

test('bad items fail alone with a clear error naming them; their batch-mates succeed', async () => {
  const corpus = await imageCorpus();
  const strict = loadConfig({ MODEL_DIR: path.resolve('models/test-tiny'), IMAGE_MAX_PIXELS: '40000000', BATCH_MAX_WAIT_MS: '20' });
  assert.equal(strict.encoder.imageMaxPixels, config.encoder.imageMaxPixels);
  const good = await drawProductImage({ colour: 'pink', category: 'cup', seed: 3 });
  const bad = corpus.filter((c) => c.expect !== 'ok').slice(0, 6);
  assert.ok(bad.length >= 4);
  const imageResults = await encoder.encodeImages([
    { bytes: good, item: 'good-1.png' },
    ...bad.map((c) => ({ bytes: c.bytes, item: `bad/${c.name}` })),
    { bytes: good, item: 'good-2.png' },
  ]);
  assert.ok(!(imageResults[0] instanceof ClipstreamError));
  assert.ok(!(imageResults.at(-1) instanceof ClipstreamError));
  bad.forEach((c, i) => {
    const r = imageResults[i + 1];
    assert.ok(r instanceof ClipstreamError, `${c.name} should fail`);
    assert.equal(r.code, c.expect, `${c.name}: ${r.message}`);
    assert.match(r.message, new RegExp(`bad/${c.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  const textResults = await encoder.encodeTexts([
    { text: 'red shoes', item: 'rec-1' },
    { text: '   ', item: 'rec-empty' },
    { text: 'x'.repeat(1024 * 1024), item: 'rec-1mb' },
    { text: new Uint8Array([0x66, 0xff, 0xfe, 0x6f]), item: 'rec-utf8' },
    { text: 'rote Schuhe', item: 'rec-2' },
  ]);
  const codes = textResults.map((r) => (r instanceof ClipstreamError ? r.code : 'ok'));
  assert.deepEqual(codes, ['ok', 'TEXT_EMPTY', 'TEXT_TOO_LONG', 'TEXT_INVALID_UTF8', 'ok']);
  for (const [i, name] of ['rec-empty', 'rec-1mb', 'rec-utf8'].entries()) {
    assert.match((textResults[i + 1] as ClipstreamError).message, new RegExp(name));
  }
});

test('a 100-megapixel image is refused before decoding, naming the item', async () => {
  const sharp = (await import('sharp')).default;
  const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
  await assert.rejects(encoder.encodeImage({ bytes: bomb, item: 's3://shop/bomb.png' }), (err: unknown) =>
    err instanceof ClipstreamError && err.code === 'IMAGE_TOO_LARGE' && err.message.includes('s3://shop/bomb.png'));
});
