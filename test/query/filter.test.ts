import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { isClipstreamError } from '../../shared/errors.ts';
import { searchFilterSchema, toQdrantFilter } from '../../services/query/filter.ts';

test('no filter and any modality translate to no Qdrant filter', () => {
  assert.equal(toQdrantFilter(undefined), undefined);
  assert.equal(toQdrantFilter({}, { modality: 'any' }), undefined);
});

test('modality, language and product become keyword matches', () => {
  assert.deepEqual(toQdrantFilter({ lang: 'de', product_id: ['p1', 'p2'] }, { modality: 'image' }), {
    must: [
      { key: 'modality', match: { value: 'image' } },
      { key: 'lang', match: { value: 'de' } },
      { key: 'product_id', match: { any: ['p1', 'p2'] } },
    ],
  });
});

test('record fields: exact values, keyword sets, ranges and exclusions address payload fields.*', () => {
  const f = toQdrantFilter({
    fields: {
      brand: 'acme',
      in_stock: true,
      colour: ['red', 'blue'],
      size: { except: ['XS'] },
      price: { gte: 10, lt: 50 },
      rating: 4.5,
    },
  });
  assert.deepEqual(f, {
    must: [
      { key: 'fields.brand', match: { value: 'acme' } },
      { key: 'fields.in_stock', match: { value: true } },
      { key: 'fields.colour', match: { any: ['red', 'blue'] } },
      { key: 'fields.price', range: { gte: 10, lt: 50 } },
      { key: 'fields.rating', range: { gte: 4.5, lte: 4.5 } },
    ],
    must_not: [{ key: 'fields.size', match: { any: ['XS'] } }],
  });
});

test('`not` excludes each of its conditions, and excluded ids become has_id', () => {
  const f = toQdrantFilter({ not: { lang: ['ja'], fields: { brand: 'acme' } } }, { excludeIds: ['a3dba129-e620-5810-b2b1-bea98c7ae47a'] });
  assert.deepEqual(f, {
    must_not: [
      { key: 'lang', match: { any: ['ja'] } },
      { key: 'fields.brand', match: { value: 'acme' } },
      { has_id: ['a3dba129-e620-5810-b2b1-bea98c7ae47a'] },
    ],
  });
});

test('field names that could escape fields.* and mixed keyword sets are refused', () => {
  assert.throws(() => toQdrantFilter({ fields: { '../modality': 'x' } }), (e) => isClipstreamError(e, 'BAD_REQUEST') && /field names/.test(e.message));
  assert.throws(() => toQdrantFilter({ fields: { tag: ['a', 1] } }), (e) => isClipstreamError(e, 'BAD_REQUEST') && /only strings or only integers/.test(e.message));
});

test('the JSON schema accepts the documented forms and rejects unknown keys and bad shapes', () => {
  const validate = new Ajv({ allowUnionTypes: true, strict: false }).compile(searchFilterSchema);
  assert.ok(validate({ lang: ['de'], fields: { price: { gte: 1 }, colour: ['red'], size: { except: ['S'] }, ok: true }, not: { product_id: 'p' } }));
  assert.equal(validate({ language: 'de' }), false);
  assert.equal(validate({ fields: { price: { between: [1, 2] } } }), false);
  assert.equal(validate({ fields: { 'a b': 'x' } }), false);
  assert.equal(validate({ lang: [] }), false);
  assert.equal(validate({ fields: { price: {} } }), false);
});
