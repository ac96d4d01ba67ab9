/**
 * Contract suite, sparse vectors and hybrid fusion (runs against a real Qdrant too with
 * QDRANT_URL). Expected scores are computed here from Qdrant's documented formulas:
 * sparse score = Σ over shared indices of query·stored; with `modifier: idf` each query weight
 * is multiplied by ln((N − df + 0.5) / (df + 0.5) + 1); RRF = Σ 1 / ((rank + 1) / weight + k − 1)
 * (k = 2); DBSF = Σ of each list's scores mapped from [μ − 3σ, μ + 3σ] to [0, 1].
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
const idf = (n: number, df: number) => Math.log((n - df + 0.5) / (df + 0.5) + 1);
const sv = (pairs: Record<number, number>) => ({ indices: Object.keys(pairs).map(Number), values: Object.values(pairs) });

async function rejects(promise: Promise<unknown>, statuses: number[], pattern?: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } };
    assert.ok(statuses.includes(e.status ?? 0), `status ${e.status} (error: ${JSON.stringify(e.data)})`);
    if (pattern) assert.match(e.data?.status?.error ?? '', pattern);
    return;
  }
  assert.fail(`expected HTTP ${statuses.join(' or ')}`);
}

/** Points: sparse `text` (idf) and `raw` (no modifier), dense `d` (Dot). */
const DOCS: Array<[number, Record<number, number>, number[], Record<string, unknown>]> = [
  [1, { 1: 1, 2: 1 }, [1, 0], { shop: 'a' }],
  [2, { 1: 2 }, [0.2, 1], { shop: 'b' }],
  [3, { 3: 1 }, [0.9, 0.1], { shop: 'a' }],
  [4, { 1: 0.5, 3: 0.5 }, [0.5, 0.5], { shop: 'b' }],
];

describe('sparse vectors', () => {
  const name = () => n('sparse');
  before(async () => {
    await client.createCollection(name(), {
      vectors: { d: { size: 2, distance: 'Dot' } },
      sparse_vectors: { text: { modifier: 'idf', index: { full_scan_threshold: 1000 } }, raw: {} },
    });
    await client.upsert(name(), {
      wait: true,
      points: DOCS.slice(0, 2).map(([id, text, d, payload]) => ({ id, vector: { d, text: sv(text), raw: sv(text) }, payload })),
    });
    // The batch form: one list per vector name.
    const rest = DOCS.slice(2);
    await client.upsert(name(), {
      wait: true,
      batch: { ids: rest.map((r) => r[0]), vectors: { d: rest.map((r) => r[2]), text: rest.map((r) => sv(r[1])), raw: rest.map((r) => sv(r[1])) }, payloads: rest.map((r) => r[3]) },
    });
  });

  it('echoes the sparse configuration in collection info', async () => {
    const info = await client.getCollection(name());
    const sparse = info.config.params.sparse_vectors as Record<string, { modifier?: string; index?: { full_scan_threshold?: number } }>;
    assert.equal(sparse.text?.modifier, 'idf');
    assert.equal(sparse.text?.index?.full_scan_threshold, 1000);
    assert.ok('raw' in sparse);
    assert.equal(info.points_count, 4);
  });

  it('returns sparse vectors with retrieve and scroll (with_vector)', async () => {
    const [p] = await client.retrieve(name(), { ids: [4], with_vector: ['text'] });
    const text = (p!.vector as Record<string, { indices: number[]; values: number[] }>).text!;
    const pairs = text.indices.map((i, k) => [i, text.values[k]]).sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(pairs, [[1, 0.5], [3, 0.5]]);
    const page = await client.scroll(name(), { limit: 10, with_vector: true, with_payload: false });
    assert.deepEqual(ids(page.points), [1, 2, 3, 4]);
    const v2 = page.points[1]!.vector as Record<string, unknown>;
    assert.deepEqual(Object.keys(v2).sort(), ['d', 'raw', 'text']);
  });

  it('scores by dot product over shared indices, without a modifier', async () => {
    const res = await client.query(name(), { query: sv({ 1: 1, 3: 4 }), using: 'raw', with_payload: false });
    assert.deepEqual(ids(res.points), [3, 4, 2, 1]);
    [4, 2.5, 2, 1].forEach((s, i) => close(res.points[i]!.score, s, `score of ${res.points[i]!.id}`));
  });

  it('applies IDF from the current document frequencies (modifier: idf)', async () => {
    const res = await client.query(name(), { query: { nearest: sv({ 1: 1, 2: 1 }) }, using: 'text' });
    // N = 4; df(1) = 3, df(2) = 1. Point 3 shares no index with the query: not a result.
    assert.deepEqual(ids(res.points), [1, 2, 4]);
    close(res.points[0]!.score, idf(4, 3) + idf(4, 1));
    close(res.points[1]!.score, 2 * idf(4, 3));
    close(res.points[2]!.score, 0.5 * idf(4, 3));
  });

  it('queries by point id (using its sparse vector, excluding it) and with a filter', async () => {
    const byId = await client.query(name(), { query: 1, using: 'text' });
    assert.deepEqual(ids(byId.points), [2, 4]);
    close(byId.points[0]!.score, 2 * idf(4, 3));
    const filtered = await client.query(name(), { query: sv({ 1: 1, 2: 1 }), using: 'text', filter: { must: [{ key: 'shop', match: { value: 'b' } }] } });
    assert.deepEqual(ids(filtered.points), [2, 4]);
  });

  it('serves sparse queries inside prefetches at any depth', async () => {
    const res = await client.query(name(), {
      prefetch: { prefetch: { query: sv({ 1: 1, 3: 3 }), using: 'raw', limit: 3 }, query: sv({ 1: 1, 2: 1 }), using: 'text', limit: 2 },
      query: [0, 1],
      using: 'd',
    });
    // raw: 3→3, 2→2, 4→2, 1→1 keeps {2, 3, 4}; text re-scores them: 2 (2·idf), 4 (0.5·idf), 3 (nothing shared);
    // d re-ranks [2, 4] by their second component.
    assert.deepEqual(ids(res.points), [2, 4]);
    close(res.points[0]!.score, 1);
    close(res.points[1]!.score, 0.5);
  });

  it('updates and deletes a named sparse vector; IDF follows the new frequencies', async () => {
    await client.updateVectors(name(), { wait: true, points: [{ id: 3, vector: { text: sv({ 2: 1 }) } }] });
    // Now df(1) = 3, df(2) = 2 (points 1 and 3), df(3) = 1.
    let res = await client.query(name(), { query: sv({ 2: 1 }), using: 'text' });
    assert.deepEqual(ids(res.points).sort(), [1, 3]);
    close(res.points[0]!.score, idf(4, 2));
    await client.deleteVectors(name(), { wait: true, points: [3], vector: ['text'] });
    // Point 3 has no text vector now: N = 3, df(2) = 1.
    res = await client.query(name(), { query: sv({ 2: 1 }), using: 'text' });
    assert.deepEqual(ids(res.points), [1]);
    close(res.points[0]!.score, idf(3, 1));
    const [p3] = await client.retrieve(name(), { ids: [3], with_vector: true });
    assert.deepEqual(Object.keys(p3!.vector as object).sort(), ['d', 'raw']);
    await client.updateVectors(name(), { wait: true, points: [{ id: 3, vector: { text: sv({ 3: 1 }) } }] });
  });

  it('IDF counts only live points after a delete', async () => {
    const other = n('sparse_delete');
    await client.createCollection(other, { sparse_vectors: { text: { modifier: 'idf' } } });
    await client.upsert(other, { wait: true, points: DOCS.map(([id, text]) => ({ id, vector: { text: sv(text) } })) });
    await client.delete(other, { wait: true, points: [2] });
    const res = await client.query(other, { query: sv({ 1: 1, 2: 1 }), using: 'text' });
    // N = 3; df(1) = 2, df(2) = 1.
    assert.deepEqual(ids(res.points), [1, 4]);
    close(res.points[0]!.score, idf(3, 2) + idf(3, 1));
    close(res.points[1]!.score, 0.5 * idf(3, 2));
  });

  it('refuses malformed sparse vectors with the field named', async () => {
    await rejects(client.upsert(name(), { wait: true, points: [{ id: 9, vector: { text: { indices: [1, 2], values: [1] } } }] }), [400, 422]);
    await rejects(client.upsert(name(), { wait: true, points: [{ id: 9, vector: { text: { indices: [1, 1], values: [1, 2] } } }] }), [400, 422], /unique/i);
    await rejects(client.upsert(name(), { wait: true, points: [{ id: 9, vector: { d: sv({ 1: 1 }) } }] }), [400, 422]);
    await rejects(client.query(name(), { query: [1, 0], using: 'text' }), [400, 422]);
  });
});

describe('hybrid fusion over dense and sparse prefetches', () => {
  const name = () => n('hybrid');
  before(async () => {
    await client.createCollection(name(), { vectors: { d: { size: 2, distance: 'Dot' } }, sparse_vectors: { text: { modifier: 'idf' } } });
    await client.upsert(name(), { wait: true, points: DOCS.map(([id, text, d, payload]) => ({ id, vector: { d, text: sv(text) }, payload })) });
  });
  const prefetch = () => [
    { query: [1, 0], using: 'd', limit: 3 },
    { query: sv({ 1: 1, 2: 1 }), using: 'text', limit: 3 },
  ];

  it('RRF with the default k = 2: 1/(rank + 2) per list', async () => {
    const res = await client.query(name(), { prefetch: prefetch(), query: { fusion: 'rrf' }, limit: 4 });
    // d: [1, 3, 4]; text: [1, 2, 4].
    assert.deepEqual(ids(res.points).slice(0, 2), [1, 4]);
    close(res.points[0]!.score, 1 / 2 + 1 / 2);
    close(res.points[1]!.score, 1 / 4 + 1 / 4);
    assert.deepEqual(ids(res.points).slice(2).sort(), [2, 3]);
    close(res.points[2]!.score, 1 / 3);
  });

  it('RRF with k and per-prefetch weights (the rrf parameter form)', async () => {
    const res = await client.query(name(), { prefetch: prefetch(), query: { rrf: { k: 1, weights: [3, 1] } }, limit: 4 });
    const rrf = (rank: number, w: number, k: number) => 1 / ((rank + 1) / w + k - 1);
    const expected = new Map<number, number>([
      [1, rrf(0, 3, 1) + rrf(0, 1, 1)],
      [3, rrf(1, 3, 1)],
      [4, rrf(2, 3, 1) + rrf(2, 1, 1)],
      [2, rrf(1, 1, 1)],
    ]);
    const order = [...expected].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    assert.deepEqual(ids(res.points), order);
    for (const p of res.points) close(p.score, expected.get(p.id as number)!, `score of ${p.id}`);
  });

  it('refuses RRF weights that do not match the prefetches', async () => {
    await rejects(client.query(name(), { prefetch: prefetch(), query: { rrf: { weights: [1, 2, 3] } } }), [400, 422], /weights/i);
  });

  it('DBSF: each list normalised by mean ± 3 sample standard deviations, then summed', async () => {
    const lists = await Promise.all(prefetch().map((p) => client.query(name(), p)));
    const expected = new Map<number, number>();
    for (const l of lists) {
      const s = l.points.map((p) => p.score);
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (s.length - 1));
      l.points.forEach((p) => expected.set(p.id as number, (expected.get(p.id as number) ?? 0) + (p.score - (mean - 3 * sd)) / (6 * sd)));
    }
    const res = await client.query(name(), { prefetch: prefetch(), query: { fusion: 'dbsf' }, limit: 4 });
    assert.deepEqual(ids(res.points), [...expected].sort((a, b) => b[1] - a[1]).map(([id]) => id));
    for (const p of res.points) close(p.score, expected.get(p.id as number)!, `score of ${p.id}`);
  });

  it('applies the top-level filter to both branches of a hybrid query', async () => {
    const res = await client.query(name(), { prefetch: prefetch(), query: { fusion: 'rrf' }, filter: { must: [{ key: 'shop', match: { value: 'b' } }] } });
    assert.deepEqual(ids(res.points).sort(), [2, 4]);
  });
});
