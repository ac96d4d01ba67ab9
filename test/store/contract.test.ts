/**
 * Contract suite: Qdrant's REST API exercised through the official JS client. It runs against a
 * fresh embedded store, or against a real Qdrant when QDRANT_URL is set — the assertions hold
 * for both, so they pin down the behaviour clipstream relies on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let n: (base: string) => string;

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  n = ts.name;
});
after(async () => {
  await ts.close();
});

const close = (actual: number, expected: number, what = 'score') =>
  assert.ok(Math.abs(actual - expected) < 1e-4, `${what}: expected ${expected}, got ${actual}`);
const ids = (points: Array<{ id: string | number }>) => points.map((p) => p.id);

async function rejects(promise: Promise<unknown>, status: number, pattern?: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } };
    assert.equal(e.status, status, `status (error: ${JSON.stringify(e.data)})`);
    if (pattern) assert.match(e.data?.status?.error ?? '', pattern);
    return;
  }
  assert.fail(`expected HTTP ${status}`);
}

describe('service endpoints', () => {
  it('answers the root with a title and version, and the health probes', async () => {
    const info = await client.versionInfo();
    assert.equal(info.title, 'qdrant - vector search engine');
    assert.match(info.version, /^\d+\.\d+\.\d+/);
    for (const probe of ['healthz', 'livez', 'readyz']) {
      const res = await fetch(`${ts.url}/${probe}`);
      assert.equal(res.status, 200, probe);
      await res.text();
    }
  });
});

describe('collections', () => {
  it('creates named vectors of different sizes and distances and echoes their parameters', async () => {
    const name = n('coll_named');
    assert.equal(await client.createCollection(name, {
      vectors: {
        mrl_64: { size: 64, distance: 'Cosine', hnsw_config: { m: 32, ef_construct: 200 }, quantization_config: { scalar: { type: 'int8', always_ram: true } } },
        mrl_256: { size: 256, distance: 'Dot', on_disk: true },
        e: { size: 3, distance: 'Euclid' },
        m: { size: 2, distance: 'Manhattan' },
      },
    }), true);
    assert.deepEqual(await client.collectionExists(name), { exists: true });
    assert.deepEqual(await client.collectionExists(n('coll_missing')), { exists: false });
    assert.ok((await client.getCollections()).collections.some((c) => c.name === name));

    const info = await client.getCollection(name);
    assert.ok(['green', 'yellow'].includes(info.status));
    assert.equal(info.points_count, 0);
    assert.equal(typeof info.segments_count, 'number');
    const vectors = info.config.params.vectors as Record<string, { size: number; distance: string; hnsw_config?: { m?: number }; quantization_config?: unknown; on_disk?: boolean }>;
    assert.equal(vectors.mrl_64!.size, 64);
    assert.equal(vectors.mrl_64!.distance, 'Cosine');
    assert.equal(vectors.mrl_64!.hnsw_config?.m, 32);
    assert.deepEqual(vectors.mrl_64!.quantization_config, { scalar: { type: 'int8', always_ram: true } });
    assert.equal(vectors.mrl_256!.distance, 'Dot');
    assert.equal(vectors.mrl_256!.on_disk, true);
    assert.equal(vectors.e!.distance, 'Euclid');
    assert.equal(vectors.m!.distance, 'Manhattan');
    assert.deepEqual(info.payload_schema, {});
  });

  it('creates the single unnamed vector form and updates, then deletes, a collection', async () => {
    const name = n('coll_single');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const params = (await client.getCollection(name)).config.params.vectors as { size: number; distance: string };
    assert.equal(params.size, 4);
    assert.equal(params.distance, 'Dot');

    assert.equal(await client.updateCollection(name, { optimizers_config: { indexing_threshold: 12345 } }), true);
    assert.equal((await client.getCollection(name)).config.optimizer_config.indexing_threshold, 12345);

    assert.equal(await client.deleteCollection(name), true);
    assert.deepEqual(await client.collectionExists(name), { exists: false });
    await rejects(client.getCollection(name), 404, /doesn't exist/);
  });

  it('updates per-vector HNSW and quantization parameters', async () => {
    const name = n('coll_patch');
    await client.createCollection(name, { vectors: { a: { size: 8, distance: 'Cosine' } } });
    await client.updateCollection(name, { vectors: { a: { hnsw_config: { m: 8 }, quantization_config: { scalar: { type: 'int8' } } } } });
    const a = ((await client.getCollection(name)).config.params.vectors as Record<string, { hnsw_config?: { m?: number }; quantization_config?: { scalar?: { type: string } } }>).a!;
    assert.equal(a.hnsw_config?.m, 8);
    assert.equal(a.quantization_config?.scalar?.type, 'int8');
  });
});

describe('points: writes and reads', () => {
  const name = () => n('points');
  before(async () => {
    await client.createCollection(name(), { vectors: { c: { size: 3, distance: 'Cosine' }, d: { size: 2, distance: 'Dot' } } });
  });

  it('upserts the list and batch forms and retrieves by id', async () => {
    const res = await client.upsert(name(), {
      wait: true,
      points: [
        { id: 1, vector: { c: [3, 0, 4], d: [0.5, 0.25] }, payload: { kind: 'list' } },
        { id: 'A1B2C3D4-0000-4000-8000-00000000000A', vector: { c: [0, 1, 0] }, payload: { kind: 'list' } },
      ],
    });
    assert.equal(res.status, 'completed');
    await client.upsert(name(), {
      wait: true,
      batch: { ids: [2, 3], vectors: { c: [[1, 0, 0], [0, 0, 1]], d: [[1, 1], [2, 2]] }, payloads: [{ kind: 'batch' }, { kind: 'batch', n: 3 }] },
    });
    assert.equal((await client.count(name(), { exact: true })).count, 4);

    const got = await client.retrieve(name(), { ids: [3, 1, 'a1b2c3d4-0000-4000-8000-00000000000a', 999], with_vector: true });
    const byId = new Map(got.map((p) => [p.id, p]));
    assert.equal(got.length, 3, 'a missing id is skipped');
    const one = byId.get(1)!;
    assert.deepEqual(one.payload, { kind: 'list' });
    const v = one.vector as Record<string, number[]>;
    // Cosine vectors are stored normalised; Dot vectors as given.
    close(v.c![0]!, 0.6, 'c[0]');
    close(v.c![2]!, 0.8, 'c[2]');
    assert.deepEqual(v.d, [0.5, 0.25]);
    assert.ok(byId.has('a1b2c3d4-0000-4000-8000-00000000000a'), 'UUIDs come back hyphenated lower case');
    assert.deepEqual(byId.get(3)!.payload, { kind: 'batch', n: 3 });

    const plain = await client.retrieve(name(), { ids: [2] });
    assert.equal(plain[0]!.vector ?? undefined, undefined, 'no vectors unless asked');
    const onlyD = await client.retrieve(name(), { ids: [2], with_vector: ['d'], with_payload: false });
    assert.deepEqual(Object.keys(onlyD[0]!.vector as object), ['d']);
    assert.equal(onlyD[0]!.payload ?? undefined, undefined);
  });

  it('accepts any UUID spelling for the same point', async () => {
    await client.upsert(name(), { wait: true, points: [{ id: '0f0e0d0c0b0a49088706050403020100', vector: { c: [1, 1, 1] } }] });
    const got = await client.retrieve(name(), { ids: ['0F0E0D0C-0B0A-4908-8706-050403020100'] });
    assert.deepEqual(ids(got), ['0f0e0d0c-0b0a-4908-8706-050403020100']);
    await client.delete(name(), { wait: true, points: ['0f0e0d0c-0b0a-4908-8706-050403020100'] });
  });

  it('GET /points/{id} returns one point with payload and vectors', async () => {
    const res = await fetch(`${ts.url}/collections/${name()}/points/1`, { headers: process.env.QDRANT_API_KEY ? { 'api-key': process.env.QDRANT_API_KEY } : {} });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { id: number; payload: unknown; vector: Record<string, number[]> }; status: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.result.id, 1);
    assert.deepEqual(body.result.payload, { kind: 'list' });
    assert.deepEqual(Object.keys(body.result.vector).sort(), ['c', 'd']);
    const missing = await fetch(`${ts.url}/collections/${name()}/points/424242`, { headers: process.env.QDRANT_API_KEY ? { 'api-key': process.env.QDRANT_API_KEY } : {} });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { status: { error: string } }).status.error, /424242/);
  });

  it('upsert replaces the whole point: payload and every vector', async () => {
    await client.upsert(name(), { wait: true, points: [{ id: 50, vector: { c: [1, 0, 0], d: [1, 2] }, payload: { a: 1, b: 2 } }] });
    await client.upsert(name(), { wait: true, points: [{ id: 50, vector: { c: [0, 1, 0] }, payload: { c: 3 } }] });
    const [p] = await client.retrieve(name(), { ids: [50], with_vector: true });
    assert.deepEqual(p!.payload, { c: 3 });
    assert.deepEqual(Object.keys(p!.vector as object), ['c'], 'the vector left out of the second upsert is gone');
  });

  it('updates and deletes named vectors without touching the others', async () => {
    await client.upsert(name(), { wait: true, points: [{ id: 60, vector: { c: [1, 0, 0], d: [1, 1] }, payload: { keep: true } }] });
    await client.updateVectors(name(), { wait: true, points: [{ id: 60, vector: { d: [7, 8] } }] });
    let [p] = await client.retrieve(name(), { ids: [60], with_vector: true });
    assert.deepEqual((p!.vector as Record<string, number[]>).d, [7, 8]);
    close((p!.vector as Record<string, number[]>).c![0]!, 1, 'c kept');
    assert.deepEqual(p!.payload, { keep: true });

    await client.deleteVectors(name(), { wait: true, points: [60], vector: ['d'] });
    [p] = await client.retrieve(name(), { ids: [60], with_vector: true });
    assert.deepEqual(Object.keys(p!.vector as object), ['c']);
    const withD = await client.count(name(), { filter: { must: [{ has_id: [60] }, { has_vector: 'd' }] } });
    assert.equal(withD.count, 0);
  });

  it('sets (also under a nested key), overwrites, deletes and clears payload by ids and by filter', async () => {
    await client.upsert(name(), {
      wait: true,
      points: [
        { id: 70, vector: { c: [1, 0, 0] }, payload: { group: 'g', a: 1, nested: { x: 1 } } },
        { id: 71, vector: { c: [0, 1, 0] }, payload: { group: 'g', a: 2 } },
        { id: 72, vector: { c: [0, 0, 1] }, payload: { group: 'h', a: 3 } },
      ],
    });
    await client.setPayload(name(), { wait: true, points: [70], payload: { b: 'new' } });
    await client.setPayload(name(), { wait: true, points: [70], payload: { y: 2 }, key: 'nested' });
    let [p] = await client.retrieve(name(), { ids: [70] });
    assert.deepEqual(p!.payload, { group: 'g', a: 1, nested: { x: 1, y: 2 }, b: 'new' });

    await client.setPayload(name(), { wait: true, filter: { must: [{ key: 'group', match: { value: 'g' } }] }, payload: { tagged: true } });
    assert.equal((await client.count(name(), { filter: { must: [{ key: 'tagged', match: { value: true } }] } })).count, 2);

    await client.overwritePayload(name(), { wait: true, points: [71], payload: { only: 'this' } });
    [p] = await client.retrieve(name(), { ids: [71] });
    assert.deepEqual(p!.payload, { only: 'this' });

    await client.deletePayload(name(), { wait: true, points: [70], keys: ['b', 'nested.x'] });
    [p] = await client.retrieve(name(), { ids: [70] });
    assert.deepEqual(p!.payload, { group: 'g', a: 1, nested: { y: 2 }, tagged: true });

    await client.clearPayload(name(), { wait: true, points: [70] });
    await client.clearPayload(name(), { wait: true, filter: { must: [{ key: 'group', match: { value: 'h' } }] } });
    const cleared = await client.retrieve(name(), { ids: [70, 72] });
    assert.deepEqual(cleared.map((c) => c.id).sort(), [70, 72], 'both points are still there, payloads cleared');
    for (const c of cleared) assert.deepEqual(c.payload, {}, `point ${c.id}`);
  });

  it('deletes points by ids and by filter', async () => {
    await client.upsert(name(), {
      wait: true,
      points: [80, 81, 82, 83].map((id) => ({ id, vector: { c: [1, 2, 3] }, payload: { doomed: id % 2 === 0 } })),
    });
    await client.delete(name(), { wait: true, points: [81, 12345] });
    await client.delete(name(), { wait: true, filter: { must: [{ key: 'doomed', match: { value: true } }] } });
    const left = await client.retrieve(name(), { ids: [80, 81, 82, 83] });
    assert.deepEqual(ids(left), [83]);
  });

  it('applies batch update operations in order', async () => {
    const res = await client.batchUpdate(name(), {
      wait: true,
      operations: [
        { upsert: { points: [{ id: 90, vector: { c: [1, 0, 0], d: [1, 1] }, payload: { step: 1 } }, { id: 91, vector: { c: [0, 1, 0] } }] } },
        { set_payload: { points: [90], payload: { step: 2 } } },
        { overwrite_payload: { points: [91], payload: { fresh: true } } },
        { update_vectors: { points: [{ id: 91, vector: { d: [3, 4] } }] } },
        { delete_vectors: { points: [90], vector: ['d'] } },
        { delete_payload: { points: [90], keys: ['missing'] } },
        { upsert: { points: [{ id: 92, vector: { c: [0, 0, 1] } }] } },
        { delete: { points: [92] } },
        { clear_payload: { points: [91] } },
      ],
    });
    assert.equal(res.length, 9);
    const got = new Map((await client.retrieve(name(), { ids: [90, 91, 92], with_vector: true })).map((p) => [p.id, p]));
    assert.deepEqual(got.get(90)!.payload, { step: 2 });
    assert.deepEqual(Object.keys(got.get(90)!.vector as object), ['c']);
    assert.deepEqual(got.get(91)!.payload, {});
    assert.deepEqual((got.get(91)!.vector as Record<string, number[]>).d, [3, 4]);
    assert.equal(got.has(92), false);
  });
});

describe('filters', () => {
  const name = () => n('filters');
  before(async () => {
    await client.createCollection(name(), { vectors: { v: { size: 2, distance: 'Cosine' }, w: { size: 2, distance: 'Dot' } } });
    const payloads: Array<Record<string, unknown>> = [
      { color: 'red', n: 1, tags: ['a', 'b'], city: { name: 'Paris', pop: 2 }, items: [{ k: 'x', v: 1 }, { k: 'y', v: 2 }], at: '2024-01-01T00:00:00Z', note: null, text: 'the quick brown fox' },
      { color: 'blue', n: 2, tags: ['b'], city: { name: 'Berlin', pop: 3 }, items: [{ k: 'x', v: 5 }], at: '2024-02-01T00:00:00Z', text: 'lazy dog' },
      { color: 'red', n: 3, tags: [], city: { name: 'Rome', pop: 4 }, items: [{ k: 'y', v: 1 }], at: '2024-03-01T00:00:00Z', note: 'hi' },
      { color: 'green', n: 4.5, tags: ['c'], at: '2024-04-01T00:00:00Z' },
      { color: 'blue', n: 5, tags: ['a', 'c', 'd'] },
      { n: 6 },
      { color: 'red', n: 7, note: null },
      {},
    ];
    await client.upsert(name(), {
      wait: true,
      points: payloads.map((payload, i) => ({ id: i + 1, vector: i % 2 === 0 ? { v: [1, i], w: [i, 1] } : { v: [1, i] }, payload })),
    });
  });

  const cases: Array<[string, Record<string, unknown>, number[]]> = [
    ['match value', { must: [{ key: 'color', match: { value: 'red' } }] }, [1, 3, 7]],
    ['match any', { must: [{ key: 'color', match: { any: ['red', 'green'] } }] }, [1, 3, 4, 7]],
    ['match except', { must: [{ key: 'color', match: { except: ['red'] } }], must_not: [{ is_empty: { key: 'color' } }] }, [2, 4, 5]],
    ['match on an array field', { must: [{ key: 'tags', match: { value: 'a' } }] }, [1, 5]],
    ['match text (substring without a text index)', { must: [{ key: 'text', match: { text: 'quick' } }] }, [1]],
    ['range', { must: [{ key: 'n', range: { gte: 2, lt: 5 } }] }, [2, 3, 4]],
    ['datetime range', { must: [{ key: 'at', range: { gte: '2024-02-01T00:00:00Z', lt: '2024-04-01T00:00:00Z' } }] }, [2, 3]],
    ['is_empty', { must: [{ is_empty: { key: 'tags' } }] }, [3, 6, 7, 8]],
    ['is_null', { must: [{ is_null: { key: 'note' } }] }, [1, 7]],
    ['has_id', { must: [{ has_id: [1, 2, 99] }] }, [1, 2]],
    ['has_vector', { must: [{ has_vector: 'w' }] }, [1, 3, 5, 7]],
    ['values_count', { must: [{ key: 'tags', values_count: { gte: 2 } }] }, [1, 5]],
    ['nested object key', { must: [{ key: 'city.name', match: { value: 'Rome' } }] }, [3]],
    ['nested object range', { must: [{ key: 'city.pop', range: { gt: 2 } }] }, [2, 3]],
    ['array of objects key', { must: [{ key: 'items[].k', match: { value: 'y' } }] }, [1, 3]],
    ['independent conditions on array elements', { must: [{ key: 'items[].k', match: { value: 'x' } }, { key: 'items[].v', range: { gte: 2 } }] }, [1, 2]],
    ['nested condition (same element)', { must: [{ nested: { key: 'items', filter: { must: [{ key: 'k', match: { value: 'x' } }, { key: 'v', range: { gte: 2 } }] } } }] }, [2]],
    ['should', { should: [{ key: 'color', match: { value: 'green' } }, { key: 'n', match: { value: 6 } }] }, [4, 6]],
    ['must_not', { must_not: [{ key: 'color', match: { value: 'red' } }] }, [2, 4, 5, 6, 8]],
    [
      'min_should',
      { min_should: { conditions: [{ key: 'color', match: { value: 'red' } }, { key: 'n', range: { gte: 3 } }, { key: 'tags', match: { value: 'a' } }], min_count: 2 } },
      [1, 3, 5, 7],
    ],
    ['filter as a condition', { must: [{ should: [{ key: 'color', match: { value: 'blue' } }, { key: 'color', match: { value: 'green' } }] }, { key: 'n', range: { gt: 4 } }] }, [4, 5]],
  ];

  for (const [label, filter, expected] of cases) {
    it(label, async () => {
      assert.equal((await client.count(name(), { filter, exact: true })).count, expected.length, 'count');
      const page = await client.scroll(name(), { filter, limit: 100, with_payload: false });
      assert.deepEqual(ids(page.points), expected, 'scroll');
    });
  }

  it('narrows vector queries too', async () => {
    const res = await client.query(name(), { query: [1, 0], using: 'v', filter: { must: [{ key: 'color', match: { value: 'blue' } }] }, limit: 10 });
    assert.deepEqual(ids(res.points).sort(), [2, 5]);
  });

  it('uses keyword and integer indexes with the same results', async () => {
    await client.createPayloadIndex(name(), { wait: true, field_name: 'color', field_schema: 'keyword' });
    await client.createPayloadIndex(name(), { wait: true, field_name: 'n', field_schema: 'float' });
    const info = await client.getCollection(name());
    assert.equal(info.payload_schema.color?.data_type, 'keyword');
    assert.equal(info.payload_schema.color?.points, 6);
    assert.equal(info.payload_schema.n?.points, 7);
    const filter = { must: [{ key: 'color', match: { any: ['red', 'blue'] } }], must_not: [{ key: 'n', range: { gt: 4 } }] };
    assert.equal((await client.count(name(), { filter })).count, 3);
    const q = await client.query(name(), { query: [0, 1], using: 'v', filter, limit: 10 });
    assert.deepEqual(ids(q.points).sort(), [1, 2, 3]);
    await client.deletePayloadIndex(name(), 'color', { wait: true });
    assert.equal((await client.getCollection(name())).payload_schema.color, undefined);
  });
});

describe('query', () => {
  const name = () => n('search');
  before(async () => {
    await client.createCollection(name(), {
      vectors: { v: { size: 4, distance: 'Cosine' }, d: { size: 3, distance: 'Dot' }, e: { size: 2, distance: 'Euclid' }, m: { size: 2, distance: 'Manhattan' } },
    });
    const rows: Array<[number, number[], number[], number[], number[], Record<string, unknown>]> = [
      [1, [1, 0, 0, 0], [1, 0, 0], [0, 0], [0, 0], { label: 'one', group: 'odd', extra: { a: 1, b: 2 } }],
      [2, [0, 1, 0, 0], [2, 0, 0], [1, 0], [1, 1], { label: 'two', group: 'even' }],
      [3, [1, 1, 0, 0], [0, 3, 0], [3, 4], [2, 1], { label: 'three', group: 'odd' }],
      [4, [0, 0, 1, 0], [0, 0, 4], [0, 2], [0, 4], { label: 'four', group: 'even' }],
      [5, [2, 0, 1, 0], [1, 1, 0.5], [-1, -1], [-1, 0], { label: 'five', group: 'odd' }],
    ];
    await client.upsert(name(), { wait: true, points: rows.map(([id, v, d, e, m, payload]) => ({ id, vector: { v, d, e, m }, payload })) });
  });

  it('ranks Cosine and Dot by similarity, Euclid and Manhattan by distance', async () => {
    const cos = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 3 });
    assert.deepEqual(ids(cos.points), [1, 5, 3]);
    close(cos.points[0]!.score, 1);
    close(cos.points[1]!.score, 2 / Math.sqrt(5));
    const dotRes = await client.query(name(), { query: [1, 1, 1], using: 'd' });
    assert.deepEqual(ids(dotRes.points), [4, 3, 5, 2, 1]);
    close(dotRes.points[2]!.score, 2.5);
    const euclid = await client.query(name(), { query: [0, 0], using: 'e' });
    assert.deepEqual(ids(euclid.points), [1, 2, 5, 4, 3]);
    close(euclid.points[2]!.score, Math.SQRT2, 'euclid distance');
    const manhattan = await client.query(name(), { query: { nearest: [0, 0] }, using: 'm' });
    assert.deepEqual(ids(manhattan.points), [1, 5, 2, 3, 4]);
    close(manhattan.points[3]!.score, 3, 'manhattan distance');
  });

  it('honours limit, offset and score_threshold', async () => {
    const page = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 2, offset: 1 });
    assert.deepEqual(ids(page.points), [5, 3]);
    const above = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', score_threshold: 0.8 });
    assert.deepEqual(ids(above.points), [1, 5]);
    const near = await client.query(name(), { query: [0, 0], using: 'e', score_threshold: 1.2 });
    assert.deepEqual(ids(near.points), [1, 2]);
  });

  it('selects payload and vectors in results', async () => {
    const all = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 1, with_payload: true });
    assert.deepEqual(all.points[0]!.payload, { label: 'one', group: 'odd', extra: { a: 1, b: 2 } });
    const none = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 1 });
    assert.equal(none.points[0]!.payload ?? undefined, undefined, 'no payload by default');
    const include = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 1, with_payload: ['label', 'extra.a'] });
    assert.deepEqual(include.points[0]!.payload, { label: 'one', extra: { a: 1 } });
    const exclude = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 1, with_payload: { exclude: ['group', 'extra'] } });
    assert.deepEqual(exclude.points[0]!.payload, { label: 'one' });
    const vec = await client.query(name(), { query: [1, 0, 0, 0], using: 'v', limit: 1, with_vector: ['e', 'd'] });
    assert.deepEqual(Object.keys(vec.points[0]!.vector as object).sort(), ['d', 'e']);
    assert.deepEqual((vec.points[0]!.vector as Record<string, number[]>).d, [1, 0, 0]);
  });

  it('queries by point id, excluding that point', async () => {
    const res = await client.query(name(), { query: 1, using: 'v', limit: 2 });
    assert.deepEqual(ids(res.points), [5, 3]);
    const viaNearest = await client.query(name(), { query: { nearest: 4 }, using: 'e', limit: 2 });
    assert.deepEqual(ids(viaNearest.points), [1, 2]);
  });

  it('re-scores prefetch candidates with the outer vector (coarse to fine)', async () => {
    // Euclid picks {1,2,5}; point 4 would win on v but is not a candidate.
    const res = await client.query(name(), { prefetch: { query: [0, 0], using: 'e', limit: 3 }, query: [0, 0, 1, 0], using: 'v', limit: 10 });
    assert.deepEqual(ids(res.points)[0], 5);
    assert.deepEqual(ids(res.points).sort(), [1, 2, 5]);
  });

  it('nests prefetches two levels deep', async () => {
    const res = await client.query(name(), {
      prefetch: { prefetch: { query: [0, 0], using: 'e', limit: 4 }, query: [0, 0, 1], using: 'd', limit: 2 },
      query: [1, 0, 0, 0],
      using: 'v',
      limit: 10,
      with_payload: ['label'],
    });
    assert.deepEqual(ids(res.points), [5, 4]);
    assert.deepEqual(res.points[0]!.payload, { label: 'five' });
  });

  it('applies the top-level filter inside prefetches', async () => {
    // The leaf keeps one candidate; the filter must act there, or nothing would survive.
    const res = await client.query(name(), {
      prefetch: { query: [0, 0], using: 'e', limit: 1 },
      query: [0, 1, 0, 0],
      using: 'v',
      filter: { must_not: [{ has_id: [1] }] },
    });
    assert.deepEqual(ids(res.points), [2]);
  });

  it('applies a prefetch filter to its own stage', async () => {
    const res = await client.query(name(), {
      prefetch: { query: [0, 0], using: 'e', limit: 2, filter: { must: [{ key: 'group', match: { value: 'odd' } }] } },
      query: [1, 0, 0, 0],
      using: 'v',
    });
    assert.deepEqual(ids(res.points), [1, 5]);
  });

  it('fuses prefetches with reciprocal rank fusion', async () => {
    const res = await client.query(name(), {
      prefetch: [
        { query: [1, 0, 0, 0], using: 'v', limit: 3 },
        { query: [0, 0], using: 'e', limit: 3 },
      ],
      query: { fusion: 'rrf' },
      limit: 3,
    });
    // 1 is first in both lists; 5 second in v and third in e; 2 second in e only.
    assert.equal(ids(res.points)[0], 1);
    assert.deepEqual(ids(res.points).sort(), [1, 2, 5]);
    assert.ok(res.points[0]!.score > res.points[1]!.score);
  });

  it('recommends from positive and negative examples (average vector), excluding them', async () => {
    const res = await client.query(name(), { query: { recommend: { positive: [1], negative: [2] } }, using: 'v', limit: 3 });
    assert.deepEqual(ids(res.points), [5, 3, 4]);
    close(res.points[0]!.score, 0.8);
  });

  it('fuses with distribution-based score fusion', async () => {
    const res = await client.query(name(), {
      prefetch: [
        { query: [1, 0, 0, 0], using: 'v', limit: 3 },
        { query: [1, 1, 1], using: 'd', limit: 3 },
      ],
      query: { fusion: 'dbsf' },
    });
    assert.deepEqual(ids(res.points).sort(), [1, 3, 4, 5]);
    for (let i = 1; i < res.points.length; i++) assert.ok(res.points[i - 1]!.score >= res.points[i]!.score);
  });

  it('looks up the query vector in another collection', async () => {
    const other = n('lookup_src');
    await client.createCollection(other, { vectors: { v: { size: 4, distance: 'Cosine' } } });
    await client.upsert(other, { wait: true, points: [{ id: 1, vector: { v: [0, 0, 1, 0] } }] });
    const res = await client.query(name(), { query: 1, using: 'v', lookup_from: { collection: other }, limit: 2 });
    assert.deepEqual(ids(res.points), [4, 5], 'point 1 of this collection is not excluded: the id refers to the other one');
  });

  it('answers a batch of queries in order', async () => {
    const res = await client.queryBatch(name(), {
      searches: [
        { query: [1, 0, 0, 0], using: 'v', limit: 1 },
        { query: [0, 0], using: 'e', limit: 2 },
      ],
    });
    assert.deepEqual(res.map((r) => ids(r.points)), [[1], [1, 2]]);
  });

  it('groups hits by a payload field', async () => {
    const g = n('groups');
    await client.createCollection(g, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    const rows: Array<[number, number[], string]> = [
      [1, [1, 0], 'p1'], [2, [0.9, 0.1], 'p1'], [3, [0.8, 0.2], 'p1'],
      [4, [0.95, 0.05], 'p2'], [5, [0, 1], 'p2'],
      [6, [0.7, 0.3], 'p3'],
    ];
    await client.upsert(g, { wait: true, points: rows.map(([id, v, product]) => ({ id, vector: { v }, payload: { product_id: product } })) });
    const res = await client.queryGroups(g, { query: [1, 0], using: 'v', group_by: 'product_id', group_size: 2, limit: 2 });
    assert.deepEqual(res.groups.map((x) => x.id), ['p1', 'p2']);
    assert.deepEqual(res.groups.map((x) => ids(x.hits)), [[1, 2], [4, 5]]);
  });
});

describe('groups with lookup', () => {
  it('attaches the record of each group id from another collection', async () => {
    const hits = n('group_hits');
    const products = n('group_products');
    await client.createCollection(hits, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await client.createCollection(products, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await client.upsert(products, { wait: true, points: [{ id: 100, vector: { v: [1, 0] }, payload: { name: 'lamp' } }, { id: 200, vector: { v: [0, 1] }, payload: { name: 'desk' } }] });
    await client.upsert(hits, {
      wait: true,
      points: [
        { id: 1, vector: { v: [1, 0] }, payload: { product: 200 } },
        { id: 2, vector: { v: [1, 0.5] }, payload: { product: 100 } },
        { id: 3, vector: { v: [0, 1] }, payload: { product: 200 } },
        { id: 4, vector: { v: [1, 1] } },
      ],
    });
    const res = await client.queryGroups(hits, { query: [1, 0], using: 'v', group_by: 'product', group_size: 1, limit: 5, with_lookup: { collection: products, with_payload: true } });
    assert.deepEqual(res.groups.map((g) => g.id), [200, 100], 'a point without the field belongs to no group');
    assert.deepEqual(res.groups.map((g) => (g.lookup as { payload?: { name?: string } } | null | undefined)?.payload?.name), ['desk', 'lamp']);
    assert.deepEqual(res.groups.map((g) => ids(g.hits)), [[1], [2]]);
  });
});

describe('scroll, order_by and count', () => {
  const name = () => n('scroll');
  before(async () => {
    await client.createCollection(name(), { vectors: { v: { size: 2, distance: 'Dot' } } });
    await client.upsert(name(), {
      wait: true,
      points: Array.from({ length: 25 }, (_, i) => ({ id: i + 1, vector: { v: [i, 1] }, payload: { rank: 26 - (i + 1), even: (i + 1) % 2 === 0 } })),
    });
  });

  it('pages by id with next_page_offset', async () => {
    const seen: Array<string | number> = [];
    let offset: string | number | undefined | null = undefined;
    const offsets: Array<string | number | null | undefined> = [];
    do {
      const page: { points: Array<{ id: string | number }>; next_page_offset?: string | number | null | Record<string, unknown> } = await client.scroll(name(), { limit: 10, ...(offset !== undefined && offset !== null ? { offset } : {}), with_payload: false });
      seen.push(...ids(page.points));
      offset = (page.next_page_offset ?? null) as string | number | null;
      offsets.push(offset);
    } while (offset !== null);
    assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i + 1));
    assert.deepEqual(offsets, [11, 21, null]);
  });

  it('orders by an indexed payload field, both directions, with start_from', async () => {
    await client.createPayloadIndex(name(), { wait: true, field_name: 'rank', field_schema: 'integer' });
    const asc = await client.scroll(name(), { limit: 3, order_by: 'rank' });
    assert.deepEqual(ids(asc.points), [25, 24, 23]);
    const desc = await client.scroll(name(), { limit: 3, order_by: { key: 'rank', direction: 'desc' } });
    assert.deepEqual(ids(desc.points), [1, 2, 3]);
    const from = await client.scroll(name(), { limit: 100, order_by: { key: 'rank', start_from: 20 } });
    assert.deepEqual(ids(from.points), [6, 5, 4, 3, 2, 1]);
  });

  it('orders and samples through the query API', async () => {
    const ordered = await client.query(name(), { query: { order_by: { key: 'rank', direction: 'desc' } }, limit: 3 });
    assert.deepEqual(ids(ordered.points), [1, 2, 3]);
    const sampled = await client.query(name(), { query: { sample: 'random' }, limit: 5 });
    const got = ids(sampled.points);
    assert.equal(new Set(got).size, 5);
    for (const id of got) assert.ok((id as number) >= 1 && (id as number) <= 25);
  });

  it('refuses order_by without a range index', async () => {
    await rejects(client.scroll(name(), { limit: 3, order_by: 'even' }), 400, /index/i);
  });

  it('counts exactly, with and without a filter', async () => {
    assert.equal((await client.count(name(), {})).count, 25);
    assert.equal((await client.count(name(), { filter: { must: [{ key: 'even', match: { value: true } }] }, exact: true })).count, 12);
  });
});

describe('aliases', () => {
  it('creates, lists, renames and deletes aliases, and resolves them like names', async () => {
    const a = n('alias_a');
    const b = n('alias_b');
    const alias = n('catalogue');
    await client.createCollection(a, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await client.createCollection(b, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await client.upsert(a, { wait: true, points: [{ id: 1, vector: { v: [1, 0] } }] });
    await client.upsert(b, { wait: true, points: [{ id: 2, vector: { v: [1, 0] } }, { id: 3, vector: { v: [0, 1] } }] });

    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: a, alias_name: alias } }] });
    assert.ok((await client.getAliases()).aliases.some((x) => x.alias_name === alias && x.collection_name === a));
    assert.deepEqual((await client.getCollectionAliases(a)).aliases, [{ alias_name: alias, collection_name: a }]);
    assert.equal((await client.count(alias, {})).count, 1);
    assert.deepEqual(ids((await client.query(alias, { query: [1, 0], using: 'v' })).points), [1]);

    // Switch atomically: delete and re-create in one request.
    await client.updateCollectionAliases({
      actions: [{ delete_alias: { alias_name: alias } }, { create_alias: { collection_name: b, alias_name: alias } }],
    });
    assert.equal((await client.count(alias, {})).count, 2);
    await client.upsert(alias, { wait: true, points: [{ id: 4, vector: { v: [1, 1] } }] });
    assert.equal((await client.count(b, {})).count, 3, 'writes through an alias reach the collection');
    assert.equal((await client.getCollection(alias)).points_count, 3);

    const renamed = n('catalogue_v2');
    await client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: alias, new_alias_name: renamed } }] });
    const names = (await client.getAliases()).aliases.map((x) => x.alias_name);
    assert.ok(names.includes(renamed) && !names.includes(alias));
    await rejects(client.count(alias, {}), 404);

    await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: renamed } }] });
    assert.deepEqual((await client.getCollectionAliases(b)).aliases, []);
  });

  it('applies alias actions all or nothing', async () => {
    const c = n('alias_c');
    const alias = n('atomic');
    await client.createCollection(c, { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await rejects(
      client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: c, alias_name: alias } }, { delete_alias: { alias_name: n('no_such_alias') } }] }),
      404,
    );
    assert.ok(!(await client.getAliases()).aliases.some((x) => x.alias_name === alias));
  });
});
