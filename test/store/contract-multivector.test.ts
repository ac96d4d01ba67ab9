/**
 * Multivectors (`multivector_config: {comparator: "max_sim"}`) through @qdrant/js-client-rest:
 * config echoed, upsert of lists of vectors (named and unnamed, mixed with a plain dense
 * vector), read back, query by a multivector and by a point id scored by MaxSim (Σ over query
 * vectors of the best dot product with any of the point's vectors; Cosine normalises each
 * vector), updates surviving a restart of the store, dimension errors. Expected scores are
 * computed in this test. Runs against a real Qdrant too with QDRANT_URL.
 */
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';
import { QdrantClient as Client } from '@qdrant/js-client-rest';

let ts: TestStore;
let client: QdrantClient;
let name: string;

// Values exactly representable in float32, so read-back and Dot scores compare exactly.
const DOCS: Record<number, number[][]> = {
  1: [[1, 0, 0], [0, 1, 0]],
  2: [[0.5, 0.5, 0], [0, 0, 1], [0.25, 0, 0.75]],
  3: [[0, 0, 2]],
  4: [[1, 1, 1], [-1, 0, 0]],
};
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const maxSim = (q: number[][], d: number[][]) => q.reduce((s, qv) => s + Math.max(...d.map((dv) => dot(qv, dv))), 0);
const unit = (v: number[]) => { const l = Math.hypot(...v); return v.map((x) => x / l); };

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  name = ts.name('multi');
  await client.createCollection(name, {
    vectors: {
      colbert: { size: 3, distance: 'Dot', multivector_config: { comparator: 'max_sim' } },
      cos: { size: 3, distance: 'Cosine', multivector_config: { comparator: 'max_sim' } },
      plain: { size: 3, distance: 'Dot' },
    },
  });
  await client.upsert(name, {
    wait: true,
    points: Object.entries(DOCS).map(([id, d]) => ({ id: Number(id), vector: { colbert: d, cos: d, plain: d[0]! }, payload: { n: Number(id) } })),
  });
});
after(async () => {
  await ts.close();
});

describe('multivectors (max_sim)', () => {
  it('echoes multivector_config and reads the vectors back', async () => {
    const info = await client.getCollection(name);
    const vectors = info.config.params.vectors as Record<string, { multivector_config?: { comparator: string } }>;
    assert.deepEqual(vectors.colbert?.multivector_config, { comparator: 'max_sim' });
    assert.equal(vectors.plain?.multivector_config, undefined);
    const [p] = await client.retrieve(name, { ids: [2], with_vector: ['colbert', 'plain'] });
    assert.deepEqual((p!.vector as Record<string, unknown>).colbert, DOCS[2]);
    assert.deepEqual((p!.vector as Record<string, unknown>).plain, DOCS[2]![0]);
  });

  it('ranks by MaxSim for a query multivector (Dot and Cosine)', async () => {
    const q = [[1, 0, 0.5], [0, 0.5, 1]];
    const want = Object.entries(DOCS).map(([id, d]) => [Number(id), maxSim(q, d)] as const).sort((a, b) => b[1] - a[1]);
    const got = (await client.query(name, { query: q, using: 'colbert', limit: 4 })).points;
    assert.deepEqual(got.map((p) => p.id), want.map(([id]) => id));
    got.forEach((p, i) => assert.ok(Math.abs(p.score - want[i]![1]) < 1e-5, `${p.id}: ${p.score} vs ${want[i]![1]}`));

    const qn = q.map(unit);
    const wantCos = Object.entries(DOCS).map(([id, d]) => [Number(id), maxSim(qn, d.map(unit))] as const).sort((a, b) => b[1] - a[1]);
    const gotCos = (await client.query(name, { query: q, using: 'cos', limit: 2 })).points;
    assert.deepEqual(gotCos.map((p) => p.id), wantCos.slice(0, 2).map(([id]) => id));
    gotCos.forEach((p, i) => assert.ok(Math.abs(p.score - wantCos[i]![1]) < 1e-5));
  });

  it('queries by a point id (its multivector, the point itself excluded) and with a filter', async () => {
    const got = (await client.query(name, { query: 1, using: 'colbert', limit: 3 })).points;
    const want = [2, 3, 4].map((id) => [id, maxSim(DOCS[1]!, DOCS[id]!)] as const).sort((a, b) => b[1] - a[1]);
    assert.deepEqual(got.map((p) => p.id), want.map(([id]) => id));
    const filtered = (await client.query(name, { query: [[0, 0, 1]], using: 'colbert', filter: { must: [{ key: 'n', range: { lt: 3 } }] }, limit: 5 })).points;
    assert.deepEqual(filtered.map((p) => [p.id, p.score]), [[2, 1], [1, 0]]);
  });

  it('refuses malformed multivectors with the messages Qdrant gives', async () => {
    const upsert = (v: unknown) =>
      client.upsert(name, { wait: true, points: [{ id: 9, vector: { colbert: v as number[][] } }] }).then(
        () => ({ status: 200, error: '' }),
        (e: { status: number; data?: { status?: { error?: string } } }) => ({ status: e.status, error: e.data?.status?.error ?? '' }),
      );
    assert.deepEqual(await upsert([1, 2, 3]), { status: 400, error: 'Wrong input: Conversion between multi and regular vectors failed' });
    assert.deepEqual(await upsert([]), { status: 400, error: 'Wrong input: Vector inserting error: expected dim: 3, got 0' });
    assert.deepEqual(await upsert([[1, 2, 3], []]), { status: 422, error: 'Validation error in JSON body: [points[0].vector.?.data: all vectors must be non-empty]' });
    assert.deepEqual(await upsert([[1, 2, 3], [1, 2]]), { status: 422, error: 'Validation error in JSON body: [points[0].vector.?.data: all vectors must have the same dimension, found vector with dimension 2]' });
    assert.deepEqual(await upsert([[1, 2]]), { status: 400, error: 'Wrong input: Vector dimension error: expected dim: 3, got 2' });
    assert.equal((await client.count(name, { exact: true })).count, 4, 'nothing was written');
  });

  it('a query with one dense vector is a multivector of one', async () => {
    const got = (await client.query(name, { query: [0, 0, 1], using: 'colbert', limit: 4 })).points;
    const want = Object.entries(DOCS).map(([id, d]) => [Number(id), maxSim([[0, 0, 1]], d)] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    assert.deepEqual(got.map((p) => p.score), want.map(([, s]) => s));
  });
});

describe('recommend over multivectors (unnamed, as in Qdrant\'s own suite)', () => {
  let rec: string;
  before(async () => {
    rec = ts.name('multi_rec');
    await client.createCollection(rec, { vectors: { size: 2, distance: 'Dot', multivector_config: { comparator: 'max_sim' } } });
    await client.upsert(rec, {
      wait: true,
      points: [
        { id: 1, vector: [[-1, 1], [-2, 2], [-3, 3]] },
        { id: 2, vector: [[-1.5, 1.5], [-2.5, 2.5], [-3.5, 3.5]] },
        { id: 3, vector: [[-1.7, 1.7], [-2.7, 2.7], [-3.7, 3.7]] },
      ],
    });
  });

  it('average_vector is the default and scores MaxSim against 2·mean(positive) − mean(negative)', async () => {
    const body = { positive: [[1, 2]], negative: [[3, 4]], limit: 10 };
    const byDefault = await client.recommend(rec, body);
    const average = await client.recommend(rec, { ...body, strategy: 'average_vector' });
    assert.deepEqual(byDefault, average);
    // Query vector 2·(1, 2) − (3, 4) = (−1, 0): the best inner dot product is 3.7, 3.5, 3 (ids 3, 2, 1).
    assert.deepEqual(average.map((p) => [p.id, Math.round(p.score * 1e4) / 1e4]), [[3, 3.7], [2, 3.5], [1, 3]]);
  });

  it('best_score works with negatives only (all scores negative), and needs an example', async () => {
    const got = await client.recommend(rec, { negative: [[1, 2]], strategy: 'best_score', limit: 5 });
    assert.equal(got.length, 3);
    for (const p of got) assert.ok(p.score < 0, `score ${p.score}`);
    await assert.rejects(client.recommend(rec, { positive: [], strategy: 'best_score', limit: 2 }), (e: { status: number }) => e.status === 400);
    await assert.rejects(client.recommend(rec, { positive: [[]], limit: 2 }), (e: { status: number }) => e.status === 400 || e.status === 422);
  });

  it('point ids as examples use their multivectors', async () => {
    const got = await client.query(rec, { query: { recommend: { positive: [1], negative: [3], strategy: 'sum_scores' } }, limit: 1 });
    assert.deepEqual(got.points.map((p) => p.id), [2]);
  });
});

describe('the unnamed multivector (Qdrant\'s legacy forms)', () => {
  it('takes a single dense vector as a multivector of one, and multivec_config as the setting\'s other name', async () => {
    const un = ts.name('multi_unnamed');
    await client.createCollection(un, { vectors: { size: 4, distance: 'Dot', multivec_config: { comparator: 'max_sim' } } as never });
    const search = (vector: number[]) => client.search(un, { vector, limit: 3 });
    await assert.rejects(search([0.05, 0.61, 0.76]), (e: { data?: { status?: { error?: string } } }) => /Vector dimension error: expected dim: 4, got 3/.test(e.data?.status?.error ?? ''));
    assert.deepEqual(await search([0.05, 0.61, 0.76, 0.74]), [], 'empty collection');
    await client.upsert(un, { wait: true, points: [{ id: 1, vector: [[0.5, 0, 0, 0], [0, 0.5, 0, 0]] }, { id: 2, vector: [0.25, 0.25, 0, 0] }] });
    assert.deepEqual((await client.retrieve(un, { ids: [2], with_vector: true }))[0]!.vector, [[0.25, 0.25, 0, 0]]);
    assert.deepEqual((await search([1, 0.5, 0, 0])).map((p) => [p.id, p.score]), [[1, 0.5], [2, 0.375]]);
  });
});

describe('multivectors persist (always the embedded store, in its own directory)', () => {
  it('survive a restart: the log holds them, the configuration splits them', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-multi-'));
    let store = await startEmbeddedStore({ dataDir, port: 0 });
    let c = new Client({ url: store.url, checkCompatibility: false });
    await c.createCollection('m', { vectors: { size: 2, distance: 'Dot', multivector_config: { comparator: 'max_sim' } } });
    await c.upsert('m', { wait: true, points: [{ id: 1, vector: [[1, 0], [0, 1], [0.5, 0.5]] }, { id: 2, vector: [[2, 2]] }] });
    await c.updateVectors('m', { wait: true, points: [{ id: 2, vector: [[3, 0], [0, 3]] }] });
    await store.close();
    store = await startEmbeddedStore({ dataDir, port: 0 });
    c = new Client({ url: store.url, checkCompatibility: false });
    const points = await c.retrieve('m', { ids: [1, 2], with_vector: true });
    assert.deepEqual(points.map((p) => p.vector), [[[1, 0], [0, 1], [0.5, 0.5]], [[3, 0], [0, 3]]]);
    assert.deepEqual((await c.query('m', { query: [[1, 0]], limit: 2 })).points.map((p) => [p.id, p.score]), [[2, 3], [1, 1]]);
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});
