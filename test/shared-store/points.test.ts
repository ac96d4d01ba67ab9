import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageObject, TextRecord } from '../../shared/catalogue/types.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { pointId } from '../../shared/store/ids.ts';
import { buildPoint } from '../../shared/store/points.ts';
import { SCHEMA_VERSION } from '../../shared/store/schema.ts';

const dims = [64, 256, 1024];
const unit = (d: number, seed = 1) => {
  const v = Float32Array.from({ length: d }, (_, i) => Math.sin(seed * (i + 1)));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const vectors = () => ({ 64: unit(64), 256: unit(256), 1024: unit(1024) });
const opts = { model: 'jinaai/jina-clip-v2@fp16', dims, indexedAt: new Date('2025-01-02T03:04:05.000Z') };

const image: ImageObject = {
  kind: 'image',
  sourceUri: 's3://shop/products/p-1/front%20view.jpg',
  version: '9b2cf535f27731c974343645a3985328',
  bytes: 12345,
  contentType: 'image/jpeg',
  productId: 'p-1',
};
const text: TextRecord = {
  kind: 'text',
  sourceUri: 'record:products/p-1',
  version: 'sha256:abc',
  recordId: 'p-1',
  text: 'Rote Jacke, wasserdicht',
  lang: 'de',
  productId: 'p-1',
  fields: { title: 'Rote Jacke', price: 79.5, modality: 'not ours' },
};

test('an image point: id from the source URI, named vectors, display and filter payload', () => {
  const p = buildPoint(image, vectors(), opts);
  assert.equal(p.id, pointId(image.sourceUri));
  assert.deepEqual(Object.keys(p.vector).sort(), ['lex', 'mrl_1024', 'mrl_256', 'mrl_64']);
  assert.equal(p.vector.mrl_256!.length, 256);
  assert.ok(Array.isArray(p.vector.mrl_64));
  assert.deepEqual(p.payload, {
    modality: 'image',
    source: image.sourceUri,
    content_hash: image.version,
    model: opts.model,
    schema_version: SCHEMA_VERSION,
    indexed_at: '2025-01-02T03:04:05.000Z',
    product_id: 'p-1',
    title: 'front view.jpg',
    etag: image.version,
    bytes: 12345,
    content_type: 'image/jpeg',
    lex_terms: [],
  });
  const lex = { indices: [3, 9], values: [1.1, 0.7] };
  const withLex = buildPoint(image, vectors(), { ...opts, lex });
  assert.deepEqual(withLex.vector.lex, lex);
  assert.deepEqual(withLex.payload.lex_terms, [3, 9], 'the term ids are payload too, for the lexical branch\'s min_should filter');
});

test("a text point keeps the record's own fields namespaced under `fields`", () => {
  const p = buildPoint(text, vectors(), opts);
  assert.equal(p.payload.modality, 'text');
  assert.equal(p.payload.lang, 'de');
  assert.equal(p.payload.text, text.text);
  assert.equal(p.payload.title, 'Rote Jacke');
  assert.equal(p.payload.bytes, Buffer.byteLength(text.text));
  assert.deepEqual(p.payload.fields, text.fields);
  assert.equal(p.payload.etag, undefined);
});

test('wrong, missing, non-finite or zero vectors are refused with VECTOR_INVALID naming the item', () => {
  const cases: Array<[string, Record<number, Float32Array>]> = [
    ['wrong size', { ...vectors(), 256: unit(255) }],
    ['missing dim', { 64: unit(64), 1024: unit(1024) }],
    ['NaN', { ...vectors(), 64: Float32Array.from(unit(64), (x, i) => (i === 3 ? NaN : x)) }],
    ['zero', { ...vectors(), 1024: new Float32Array(1024) }],
  ];
  for (const [why, v] of cases) {
    assert.throws(
      () => buildPoint(text, v, opts),
      (err: unknown) => isClipstreamError(err, 'VECTOR_INVALID') && err.item === text.sourceUri,
      why,
    );
  }
});

test('vector components are sent rounded to 1e-7: within 5e-8 of the float32 value, at most 7 decimals in JSON', () => {
  const v = vectors();
  const p = buildPoint(image, v, opts);
  for (const dim of dims) {
    const sent = p.vector[`mrl_${dim}`]!;
    const want = v[dim as 64]!;
    for (let i = 0; i < dim; i++) {
      assert.ok(Math.abs(sent[i]! - want[i]!) <= 5.000001e-8, `mrl_${dim}[${i}]: ${sent[i]} vs ${want[i]}`);
      assert.match(JSON.stringify(sent[i]), /^-?(\d(\.\d{1,7})?|\de-7)$/, `mrl_${dim}[${i}] prints compactly`);
    }
  }
  const full = JSON.stringify(Object.fromEntries(dims.map((d) => [d, Array.from(v[d as 64]!)])));
  assert.ok(JSON.stringify(p.vector).length < full.length * 0.6, 'about half the JSON of unrounded float32 values');
});
