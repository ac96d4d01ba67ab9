import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import { pointId } from '../../shared/store/ids.ts';
import {
  createCollectionVersion,
  CORE_PAYLOAD_INDEXES,
  ensureCollection,
  resolveAlias,
  SCHEMA_VERSION,
  switchAlias,
  type CollectionSpec,
} from '../../shared/store/schema.ts';
import { storedVersions } from '../../shared/store/versions.ts';
import { startTestStore, type TestStore } from '../support/store.ts';

let store: TestStore;
before(async () => {
  store = await startTestStore();
});
after(async () => {
  await store.close();
});

const spec = (over: Partial<CollectionSpec> = {}): CollectionSpec => ({
  alias: 'catalogue',
  dims: [64, 256, 1024],
  model: 'jinaai/jina-clip-v2@fp16',
  payloadIndexes: [{ field: 'fields.price', type: 'float' }],
  ...over,
});

test('ensureCollection creates a versioned collection behind the alias, with metadata and payload indexes; twice is a no-op', async () => {
  const a = store.name('cat_a');
  const first = await ensureCollection(store.client, spec({ alias: a }));
  assert.deepEqual(first, { alias: a, collection: `${a}_v1`, created: true });
  assert.equal(await resolveAlias(store.client, a), `${a}_v1`);

  const info = await store.client.getCollection(a);
  const vectors = info.config.params.vectors as Record<string, { size: number; distance: string }>;
  assert.deepEqual(Object.fromEntries(Object.entries(vectors).map(([k, v]) => [k, [v.size, v.distance]])), {
    mrl_64: [64, 'Cosine'],
    mrl_256: [256, 'Cosine'],
    mrl_1024: [1024, 'Cosine'],
  });
  const meta = info.config.metadata as Record<string, unknown>;
  assert.equal(meta.model, 'jinaai/jina-clip-v2@fp16');
  assert.equal(meta.schema_version, SCHEMA_VERSION);
  for (const { field, type } of CORE_PAYLOAD_INDEXES) assert.equal(info.payload_schema[field]?.data_type, type, field);
  assert.equal(info.payload_schema['lex_terms']?.data_type, 'integer', 'the lexical branch filters on term ids');
  assert.deepEqual(info.config.params.sparse_vectors, { lex: { modifier: 'idf' } });
  assert.equal(info.payload_schema['fields.price']?.data_type, 'float');

  const again = await ensureCollection(store.client, spec({ alias: a }));
  assert.deepEqual(again, { alias: a, collection: `${a}_v1`, created: false });
  const { collections } = await store.client.getCollections();
  assert.deepEqual(collections.map((c) => c.name).filter((n) => n.startsWith(a)), [`${a}_v1`]);
});

test('concurrent ensureCollection calls agree on one collection', async () => {
  const race = store.name('cat_race');
  const results = await Promise.all([1, 2, 3].map(() => ensureCollection(store.client, spec({ alias: race }))));
  assert.deepEqual(new Set(results.map((r) => r.collection)), new Set([`${race}_v1`]));
  assert.equal(results.filter((r) => r.created).length, 1);
});

test('a stored collection with other dims or another model is a STORE_SCHEMA_MISMATCH saying what differs and what to do', async () => {
  const b = store.name('cat_b');
  await ensureCollection(store.client, spec({ alias: b }));
  await assert.rejects(ensureCollection(store.client, spec({ alias: b, model: 'other/model@fp32' })), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'STORE_SCHEMA_MISMATCH'));
    assert.equal(err.item, `${b}_v1`);
    assert.match(err.message, /"jinaai\/jina-clip-v2@fp16", configured "other\/model@fp32"/);
    assert.ok(err.message.includes(`"${b}_v2"`), err.message);
    assert.ok(err.message.includes(`switch the alias "${b}"`), err.message);
    return true;
  });
  await assert.rejects(ensureCollection(store.client, spec({ alias: b, dims: [64, 512, 1024] })), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'STORE_SCHEMA_MISMATCH'));
    assert.match(err.message, /mrl_512 is missing/);
    assert.match(err.message, /unexpected vector mrl_256/);
    return true;
  });
});

test('a plain collection under the application name is used when its vectors match, refused when they do not', async () => {
  const plain = store.name('plain');
  await store.client.createCollection(plain, {
    vectors: { mrl_64: { size: 64, distance: 'Cosine' }, mrl_1024: { size: 1024, distance: 'Cosine' } },
    sparse_vectors: { lex: { modifier: 'idf' } },
  });
  assert.deepEqual(await ensureCollection(store.client, spec({ alias: plain, dims: [64, 1024] })), { alias: plain, collection: plain, created: false });
  await assert.rejects(ensureCollection(store.client, spec({ alias: plain })), (err: unknown) => isClipstreamError(err, 'STORE_SCHEMA_MISMATCH'));
  // A collection from before hybrid search (no `lex` sparse vector) needs a rebuild, like a model change.
  const old = store.name('old');
  await store.client.createCollection(old, { vectors: { mrl_64: { size: 64, distance: 'Cosine' }, mrl_1024: { size: 1024, distance: 'Cosine' } } });
  await assert.rejects(ensureCollection(store.client, spec({ alias: old, dims: [64, 1024] })), (err: unknown) =>
    isClipstreamError(err, 'STORE_SCHEMA_MISMATCH') && /sparse vector lex is missing/.test((err as Error).message));
});

test('re-index: a new collection version, then one atomic alias switch', async () => {
  const c = store.name('cat_c');
  await ensureCollection(store.client, spec({ alias: c }));
  assert.equal(await createCollectionVersion(store.client, spec({ alias: c, model: 'new/model' }), `${c}_v2`), true);
  assert.equal(await createCollectionVersion(store.client, spec({ alias: c, model: 'new/model' }), `${c}_v2`), false);
  assert.equal(await resolveAlias(store.client, c), `${c}_v1`);
  await switchAlias(store.client, c, `${c}_v2`);
  assert.equal(await resolveAlias(store.client, c), `${c}_v2`);
  assert.deepEqual(await ensureCollection(store.client, spec({ alias: c, model: 'new/model' })), { alias: c, collection: `${c}_v2`, created: false });
});

test('storedVersions returns the content hash, model and source root of the ids that exist', async () => {
  const coll = store.name('cat_v');
  await ensureCollection(store.client, spec({ alias: coll, dims: [64, 1024] }));
  const v = (seed: number, d: number) => Array.from({ length: d }, (_, i) => Math.cos(seed + i));
  const ids = ['record:d/1', 'record:d/2', 'record:d/3'].map(pointId);
  await store.client.upsert(coll, {
    wait: true,
    points: ids.slice(0, 2).map((id, i) => ({
      id,
      vector: { mrl_64: v(i, 64), mrl_1024: v(i, 1024) },
      payload: { content_hash: `hash-${i}`, modality: 'text', ...(i === 0 ? { model: 'm@fp16', source_root: 'file:///cat/' } : {}) },
    })),
  });
  const got = await storedVersions(store.client, coll, ids, { chunkSize: 2 });
  assert.deepEqual(
    [...got.entries()].sort(),
    [
      [ids[0], { contentHash: 'hash-0', model: 'm@fp16', sourceRoot: 'file:///cat/' }],
      [ids[1], { contentHash: 'hash-1' }],
    ].sort(),
  );
});
