import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Schemas } from '@qdrant/js-client-rest';
import { payloadIndexes, schemaDifferences, SCHEMA_VERSION, sparseVectorsConfig, vectorsConfig, type CollectionSpec } from '../../shared/store/schema.ts';

test('only the smallest vector gets HNSW and int8 quantisation; the others are re-rank only, the largest on disk', () => {
  const v = vectorsConfig([1024, 64, 256]);
  assert.deepEqual(Object.keys(v), ['mrl_64', 'mrl_256', 'mrl_1024']);
  assert.deepEqual(v.mrl_64, { size: 64, distance: 'Cosine', quantization_config: { scalar: { type: 'int8', always_ram: true } } });
  assert.deepEqual(v.mrl_256, { size: 256, distance: 'Cosine', hnsw_config: { m: 0 } });
  assert.deepEqual(v.mrl_1024, { size: 1024, distance: 'Cosine', hnsw_config: { m: 0 }, on_disk: true });
});

test('user payload indexes add to the core ones and may retype a field only explicitly', () => {
  const spec: CollectionSpec = { alias: 'c', dims: [64, 1024], model: 'm', payloadIndexes: [{ field: 'fields.price', type: 'float' }] };
  const fields = payloadIndexes(spec).map((i) => `${i.field}:${i.type}`);
  assert.deepEqual(fields, ['modality:keyword', 'product_id:keyword', 'lang:keyword', 'source:keyword', 'source_root:keyword', 'content_hash:keyword', 'lex_terms:integer', 'fields.price:float']);
});

function info(vectors: unknown, metadata?: Record<string, unknown>): Schemas['CollectionInfo'] {
  return {
    status: 'green',
    optimizer_status: 'ok',
    segments_count: 1,
    payload_schema: { lang: { data_type: 'integer', points: 0 } },
    config: { params: { vectors }, metadata } as unknown as Schemas['CollectionConfig'],
  } as Schemas['CollectionInfo'];
}

test('schemaDifferences names every incompatible difference', () => {
  const spec: CollectionSpec = { alias: 'catalogue', dims: [64, 256, 1024], model: 'jinaai/jina-clip-v2@fp16' };
  const problems = schemaDifferences(
    spec,
    info(
      { mrl_64: { size: 64, distance: 'Dot' }, mrl_256: { size: 128, distance: 'Cosine' }, mrl_512: { size: 512, distance: 'Cosine' } },
      { model: 'other-model', schema_version: 99 },
    ),
  );
  assert.ok(problems.some((p) => p.includes('mrl_64') && p.includes('Dot')));
  assert.ok(problems.some((p) => p.includes('mrl_256') && p.includes('128')));
  assert.ok(problems.some((p) => p.includes('mrl_1024 is missing')));
  assert.ok(problems.some((p) => p.includes('unexpected vector mrl_512')));
  assert.ok(problems.some((p) => p.includes('other-model')));
  assert.ok(problems.some((p) => p.includes('schema version is 99')));
  assert.ok(problems.some((p) => p.includes('lang') && p.includes('integer')));
  assert.ok(problems.some((p) => p.includes('sparse vector lex is missing')));
});

test('a matching collection has no differences, with or without stored metadata', () => {
  const spec: CollectionSpec = { alias: 'catalogue', dims: [64, 256, 1024], model: 'm' };
  const good = info(vectorsConfig(spec.dims), { model: 'm', schema_version: SCHEMA_VERSION });
  good.config.params.sparse_vectors = sparseVectorsConfig();
  good.payload_schema = {};
  assert.deepEqual(schemaDifferences(spec, good), []);
  const noMeta = info(vectorsConfig(spec.dims));
  noMeta.config.params.sparse_vectors = sparseVectorsConfig();
  noMeta.payload_schema = {};
  assert.deepEqual(schemaDifferences(spec, noMeta), []);
});

test('lex vectors made with other analyser settings need a rebuild; without recorded settings nothing is assumed', () => {
  const signature = { analyser_version: 1, k1: 1.2, b: 0.75, avg_length: 256, fold_accents: false, default_lang: 'en', fields: [] };
  const spec: CollectionSpec = { alias: 'catalogue', dims: [64, 256, 1024], model: 'm', lexical: { ...signature, k1: 0.9, fields: ['title'] } };
  const stored = info(vectorsConfig(spec.dims), { model: 'm', schema_version: SCHEMA_VERSION, lexical: signature });
  stored.config.params.sparse_vectors = sparseVectorsConfig();
  stored.payload_schema = {};
  assert.deepEqual(schemaDifferences(spec, stored), [
    'its lexical vectors were made with k1 1.2, configured 0.9',
    'its lexical vectors were made with fields [], configured ["title"]',
  ]);
  const unrecorded = info(vectorsConfig(spec.dims), { model: 'm', schema_version: SCHEMA_VERSION });
  unrecorded.config.params.sparse_vectors = sparseVectorsConfig();
  unrecorded.payload_schema = {};
  assert.deepEqual(schemaDifferences(spec, unrecorded), []);
});
