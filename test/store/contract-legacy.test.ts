/**
 * Contract suite, the endpoints Qdrant 1.19 serves beyond the universal query (runs against a
 * real Qdrant too with QDRANT_URL): legacy search/recommend/discover (shapes from the 1.18
 * OpenAPI document), distance matrix, facet, named-vector create/delete and the service
 * endpoints. Expected scores follow Qdrant's documented objectives.
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

const close = (actual: number, expected: number, what = 'score') => assert.ok(Math.abs(actual - expected) < 1e-4, `${what}: expected ${expected}, got ${actual}`);
const ids = (points: Array<{ id: string | number }>) => points.map((p) => p.id);
const sv = (pairs: Record<number, number>) => ({ indices: Object.keys(pairs).map(Number), values: Object.values(pairs) });
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const headers = () => (process.env.QDRANT_API_KEY ? { 'api-key': process.env.QDRANT_API_KEY } : {}) as Record<string, string>;

const DOCS: Array<[number, Record<number, number>, number[], Record<string, unknown>]> = [
  [1, { 1: 1, 2: 1 }, [1, 0], { shop: 'a', boost: 2 }],
  [2, { 1: 2 }, [0.2, 1], { shop: 'b' }],
  [3, { 3: 1 }, [0.9, 0.1], { shop: 'a' }],
  [4, { 1: 0.5, 3: 0.5 }, [0.5, 0.5], { shop: 'b' }],
];

describe('legacy search, recommend and discover endpoints', () => {
  const name = () => n('legacy');
  before(async () => {
    await client.createCollection(name(), { vectors: { d: { size: 2, distance: 'Dot' } }, sparse_vectors: { text: {} } });
    await client.upsert(name(), { wait: true, points: DOCS.map(([id, text, d, payload]) => ({ id, vector: { d, text: sv(text) }, payload })) });
  });

  it('search: named dense and sparse vectors, filter, payload and score_threshold', async () => {
    const res = await client.search(name(), { vector: { name: 'd', vector: [1, 0] }, limit: 3, with_payload: false });
    assert.deepEqual(ids(res), [1, 3, 4]);
    [1, 0.9, 0.5].forEach((s, i) => close(res[i]!.score, s));
    assert.equal(res[0]!.payload ?? undefined, undefined, 'no payload when with_payload is false');
    const raw = await fetch(`${ts.url}/collections/${name()}/points/search`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify({ vector: { name: 'd', vector: [1, 0] }, limit: 1 }) });
    const body = (await raw.json()) as { result: Array<{ id: number; payload?: unknown }> };
    assert.equal(body.result[0]!.id, 1);
    assert.equal(body.result[0]!.payload ?? undefined, undefined, 'the endpoint itself sends no payload by default');
    const sparse = await client.search(name(), { vector: { name: 'text', vector: sv({ 1: 1, 3: 2.5 }) }, limit: 10 });
    assert.deepEqual(ids(sparse), [3, 2, 4, 1]);
    close(sparse[2]!.score, 0.5 + 1.25);
    const filtered = await client.search(name(), { vector: { name: 'd', vector: [1, 0] }, limit: 3, filter: { must: [{ key: 'shop', match: { value: 'b' } }] }, with_payload: true, score_threshold: 0.3 });
    assert.deepEqual(ids(filtered), [4]);
    assert.deepEqual(filtered[0]!.payload, { shop: 'b' });
  });

  it('search on the unnamed vector, and search/batch in order', async () => {
    const plain = n('legacy_plain');
    await client.createCollection(plain, { vectors: { size: 2, distance: 'Dot' } });
    await client.upsert(plain, { wait: true, points: DOCS.map(([id, , d]) => ({ id, vector: d })) });
    const res = await client.search(plain, { vector: [0, 1], limit: 2, with_vector: true });
    assert.deepEqual(ids(res), [2, 4]);
    assert.deepEqual(res[0]!.vector, [0.2, 1]);
    const batch = await client.searchBatch(name(), {
      searches: [
        { vector: { name: 'd', vector: [0, 1] }, limit: 1 },
        { vector: { name: 'text', vector: sv({ 2: 1 }) }, limit: 5 },
      ],
    });
    assert.deepEqual(batch.map((r) => ids(r)), [[2], [1]]);
  });

  it('search/groups groups the hits by a payload field', async () => {
    const res = await client.searchPointGroups(name(), { vector: { name: 'd', vector: [1, 0] }, group_by: 'shop', group_size: 1, limit: 2 });
    assert.deepEqual(res.groups.map((g) => g.id), ['a', 'b']);
    assert.deepEqual(res.groups.map((g) => ids(g.hits)), [[1], [4]]);
  });

  it('recommend: average_vector (2·avg(positive) − avg(negative)), excluding the examples', async () => {
    const res = await client.recommend(name(), { positive: [1], negative: [2], using: 'd', limit: 5 });
    assert.deepEqual(ids(res), [3, 4]);
    close(res[0]!.score, dot([1.8, -1], [0.9, 0.1]));
    close(res[1]!.score, dot([1.8, -1], [0.5, 0.5]));
  });

  it('recommend strategies best_score and sum_scores', async () => {
    const best = await client.recommend(name(), { positive: [1], negative: [2], using: 'd', strategy: 'best_score', limit: 5 });
    assert.deepEqual(ids(best), [3, 4]);
    close(best[0]!.score, 0.9, 'closer to the positive: its similarity');
    close(best[1]!.score, -(0.6 * 0.6), 'closer to the negative: minus its similarity squared');
    const sum = await client.recommend(name(), { positive: [1], negative: [2], using: 'd', strategy: 'sum_scores', limit: 5 });
    assert.deepEqual(ids(sum), [3, 4]);
    close(sum[0]!.score, 0.9 - 0.28);
    close(sum[1]!.score, 0.5 - 0.6);
  });

  it('recommend/batch and recommend/groups', async () => {
    const batch = await client.recommendBatch(name(), { searches: [{ positive: [1], using: 'd', limit: 1 }, { positive: [2], using: 'd', limit: 1 }] });
    assert.deepEqual(batch.map((r) => ids(r)), [[3], [4]]);
    const groups = await client.recommendPointGroups(name(), { positive: [1], using: 'd', group_by: 'shop', group_size: 2, limit: 2 });
    assert.deepEqual(groups.groups.map((g) => [g.id, ids(g.hits)]), [['a', [3]], ['b', [4, 2]]]);
  });

  it('discover with a target and context, and discover/batch', async () => {
    const ex = n('legacy_explore');
    const points: Array<[number, number[]]> = [[1, [1, 0]], [2, [0, 1]], [3, [0.8, 0.3]], [4, [0.3, 0.8]], [5, [0.6, 0.5]], [6, [-1, 0]]];
    await client.createCollection(ex, { vectors: { v: { size: 2, distance: 'Dot' } } });
    await client.upsert(ex, { wait: true, points: points.map(([id, v]) => ({ id, vector: { v } })) });
    const target = [1, 0.2];
    const expected = points
      .map(([id, v]) => {
        const rank = dot(v, [1, 0]) > dot(v, [0, 1]) ? 1 : -1;
        const t = dot(v, target);
        return [id, rank + 0.5 * (t / (1 + Math.abs(t)) + 1)] as const;
      })
      .sort((a, b) => b[1] - a[1]);
    const res = await client.discoverPoints(ex, { target, context: [{ positive: [1, 0], negative: [0, 1] }], using: 'v', limit: 6 });
    assert.deepEqual(ids(res), expected.map(([id]) => id));
    res.forEach((p, i) => close(p.score, expected[i]![1], `score of ${p.id}`));
    const batch = await client.discoverBatchPoints(ex, { searches: [{ target: 2, context: [{ positive: 4, negative: 3 }], using: 'v', limit: 2 }] });
    assert.equal(batch.length, 1);
    assert.ok(!ids(batch[0]!).some((id) => [2, 3, 4].includes(id as number)), 'examples given by id are excluded');
  });
});

describe('distance matrix and facets', () => {
  const name = () => n('explore');
  before(async () => {
    await client.createCollection(name(), { vectors: { d: { size: 2, distance: 'Dot' } } });
    await client.upsert(name(), { wait: true, points: DOCS.map(([id, , d, payload]) => ({ id, vector: { d }, payload })) });
    await client.createPayloadIndex(name(), { wait: true, field_name: 'shop', field_schema: 'keyword' });
  });

  it('search/matrix/pairs: each sampled point with its nearest among the sample', async () => {
    const res = await client.searchMatrixPairs(name(), { sample: 4, limit: 2, using: 'd' });
    assert.equal(res.pairs.length, 8);
    const vec = new Map(DOCS.map(([id, , d]) => [id, d]));
    for (const p of res.pairs) {
      assert.notEqual(p.a, p.b);
      close(p.score, dot(vec.get(p.a as number)!, vec.get(p.b as number)!), `${p.a}-${p.b}`);
    }
    // 1's two nearest among the others by dot product: 3 (0.9) and 4 (0.5).
    assert.deepEqual(res.pairs.filter((p) => p.a === 1).map((p) => p.b), [3, 4]);
  });

  it('search/matrix/offsets: the same matrix as offsets into the sampled ids', async () => {
    const res = await client.searchMatrixOffsets(name(), { sample: 3, limit: 1, using: 'd', filter: { must_not: [{ has_id: [2] }] } });
    assert.deepEqual([...res.ids].sort(), [1, 3, 4]);
    assert.equal(res.offsets_row.length, 3);
    assert.equal(res.offsets_col.length, 3);
    assert.equal(res.scores.length, 3);
    const of1 = res.offsets_row.findIndex((r) => res.ids[r] === 1);
    assert.equal(res.ids[res.offsets_col[of1]!], 3);
  });

  it('facet counts the values of an indexed field among the filtered points', async () => {
    const res = await client.facet(name(), { key: 'shop', filter: { must_not: [{ has_id: [3] }] }, exact: true });
    assert.deepEqual(res.hits, [{ value: 'b', count: 2 }, { value: 'a', count: 1 }]);
    const limited = await client.facet(name(), { key: 'shop', limit: 1, exact: true });
    assert.equal(limited.hits.length, 1);
    assert.equal(limited.hits[0]!.count, 2);
  });
});

describe('named vectors and service endpoints', () => {
  it('creates and deletes a named vector on an existing collection (1.19)', async () => {
    const name = n('vector_names');
    await client.createCollection(name, { vectors: { a: { size: 2, distance: 'Cosine' } } });
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: { a: [1, 0] } }] });
    await client.createVectorName(name, 'extra', { dense: { size: 3, distance: 'Dot' } }, { wait: true });
    await client.createVectorName(name, 'words', { sparse: { modifier: 'idf' } }, { wait: true });
    let info = await client.getCollection(name);
    assert.equal((info.config.params.vectors as Record<string, { size: number }>).extra?.size, 3);
    assert.ok('words' in (info.config.params.sparse_vectors ?? {}));
    await client.updateVectors(name, { wait: true, points: [{ id: 1, vector: { extra: [1, 2, 3], words: sv({ 7: 1 }) } }] });
    const [p] = await client.retrieve(name, { ids: [1], with_vector: true });
    assert.deepEqual((p!.vector as Record<string, number[]>).extra, [1, 2, 3]);
    await client.deleteVectorName(name, 'extra', { wait: true });
    info = await client.getCollection(name);
    assert.equal((info.config.params.vectors as Record<string, unknown>).extra, undefined);
    const [after] = await client.retrieve(name, { ids: [1], with_vector: true });
    assert.deepEqual(Object.keys(after!.vector as object).sort(), ['a', 'words']);
  });

  it('answers the root with a 40-hex commit, and telemetry, metrics, livez', async () => {
    const info = await client.versionInfo();
    assert.equal(info.title, 'qdrant - vector search engine');
    assert.match(info.version, /^1\.\d+\.\d+/);
    assert.match(info.commit ?? '', /^[0-9a-f]{40}$/);
    const telemetry = await fetch(`${ts.url}/telemetry`, { headers: headers() });
    assert.equal(telemetry.status, 200);
    const t = (await telemetry.json()) as { result: { id: string; collections: { number_of_collections: number } } };
    assert.equal(typeof t.result.id, 'string');
    assert.ok(t.result.collections.number_of_collections >= 1);
    const metrics = await fetch(`${ts.url}/metrics`, { headers: headers() });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^app_info\{.*\} 1$/m);
    const livez = await fetch(`${ts.url}/livez`);
    assert.equal(livez.status, 200);
    await livez.text();
  });
});
