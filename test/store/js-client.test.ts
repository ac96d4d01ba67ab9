/**
 * A user's session with @qdrant/js-client-rest against the store: a hybrid collection (dense +
 * sparse BM25-like), the client methods people reach for — upsert, search, searchBatch,
 * recommend, query (nearest, fusion, formula), queryBatch, queryGroups, scroll, count, facet,
 * discover — each answer checked against a brute-force computation in this test. Runs against a
 * real Qdrant too with QDRANT_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let name: string;

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

interface Item {
  id: number;
  dense: number[];
  sparse: Map<number, number>;
  brand: string;
  price: number;
}

const rand = rng(7);
const ITEMS: Item[] = Array.from({ length: 60 }, (_, i) => {
  const sparse = new Map<number, number>();
  while (sparse.size < 4) sparse.set(Math.floor(rand() ** 2 * 40), Math.round(rand() * 100) / 50 + 0.1);
  return { id: i + 1, dense: Array.from({ length: 8 }, () => rand() * 2 - 1), sparse, brand: ['acme', 'globex', 'initech'][i % 3]!, price: 5 + (i % 10) };
});
const toSparse = (m: Map<number, number>) => ({ indices: [...m.keys()], values: [...m.values()] });
const unit = (v: number[]) => { const l = Math.hypot(...v); return v.map((x) => x / l); };
const cos = (a: number[], b: number[]) => unit(a).reduce((s, x, i) => s + x * unit(b)[i]!, 0);
const idf = (df: number) => Math.log((ITEMS.length - df + 0.5) / (df + 0.5) + 1);
const df = (term: number) => ITEMS.filter((it) => it.sparse.has(term)).length;
const sparseScore = (it: Item, q: Map<number, number>) => {
  let s = 0;
  let shared = false;
  for (const [t, w] of q) if (it.sparse.has(t)) { s += w * idf(df(t)) * it.sparse.get(t)!; shared = true; }
  return shared ? s : undefined;
};
const topDense = (q: number[], k: number, keep: (it: Item) => boolean = () => true) =>
  ITEMS.filter(keep).map((it) => [it.id, cos(it.dense, q)] as const).sort((a, b) => b[1] - a[1]).slice(0, k);
const topSparse = (q: Map<number, number>, k: number) =>
  ITEMS.flatMap((it) => { const s = sparseScore(it, q); return s === undefined ? [] : [[it.id, s] as const]; }).sort((a, b) => b[1] - a[1]).slice(0, k);
const near = (a: number, b: number) => Math.abs(a - b) < 1e-4;
const sameRanking = (got: Array<{ id: unknown; score: number }>, want: ReadonlyArray<readonly [number, number]>) => {
  assert.equal(got.length, want.length, 'count');
  got.forEach((p, i) => assert.ok(near(p.score, want[i]![1]), `rank ${i}: score ${p.score}, expected ${want[i]![1]}`));
  // Ids agree except where scores tie.
  got.forEach((p, i) => { if (i === 0 || !near(want[i]![1], want[i - 1]![1])) assert.ok(p.id === want[i]![0] || near(want.find(([id]) => id === p.id)?.[1] ?? NaN, p.score), `rank ${i}: id ${p.id}, expected ${want[i]![0]}`); });
};

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  name = ts.name('js_client');
  await client.createCollection(name, { vectors: { dense: { size: 8, distance: 'Cosine' } }, sparse_vectors: { bm25: { modifier: 'idf' } } });
  for (let i = 0; i < ITEMS.length; i += 25) {
    await client.upsert(name, {
      wait: true,
      points: ITEMS.slice(i, i + 25).map((it) => ({ id: it.id, vector: { dense: it.dense, bm25: toSparse(it.sparse) }, payload: { brand: it.brand, price: it.price } })),
    });
  }
  await client.createPayloadIndex(name, { field_name: 'brand', field_schema: 'keyword', wait: true });
});
after(async () => {
  await ts.close();
});

describe('@qdrant/js-client-rest against the store', () => {
  const q = ITEMS[10]!.dense.map((x, i) => x + (i % 2 ? 0.1 : -0.1));
  const qs = new Map([[ITEMS[3]!.sparse.keys().next().value!, 1], [1, 0.5], [2, 1]]);

  it('search, searchBatch and query agree with brute force', async () => {
    const want = topDense(q, 5);
    sameRanking(await client.search(name, { vector: { name: 'dense', vector: q }, limit: 5 }), want);
    sameRanking((await client.query(name, { query: q, using: 'dense', limit: 5 })).points, want);
    const [a, b] = await client.searchBatch(name, { searches: [{ vector: { name: 'dense', vector: q }, limit: 3 }, { vector: { name: 'bm25', vector: toSparse(qs) }, limit: 4 }] });
    sameRanking(a!, topDense(q, 3));
    sameRanking(b!, topSparse(qs, 4));
  });

  it('filters by an indexed keyword in search and query', async () => {
    const want = topDense(q, 4, (it) => it.brand === 'globex');
    sameRanking(await client.search(name, { vector: { name: 'dense', vector: q }, limit: 4, filter: { must: [{ key: 'brand', match: { value: 'globex' } }] } }), want);
    const count = await client.count(name, { filter: { must: [{ key: 'brand', match: { value: 'globex' } }] }, exact: true });
    assert.equal(count.count, ITEMS.filter((it) => it.brand === 'globex').length);
  });

  it('recommend and recommendBatch (average vector of the examples)', async () => {
    const pos = ITEMS[0]!.dense.map((x, i) => (unit(ITEMS[0]!.dense)[i]! + unit(ITEMS[1]!.dense)[i]!) / 2);
    const target = pos.map((x, i) => 2 * x - unit(ITEMS[2]!.dense)[i]!);
    const want = topDense(target, 3, (it) => ![1, 2, 3].includes(it.id));
    sameRanking(await client.recommend(name, { positive: [1, 2], negative: [3], using: 'dense', limit: 3 }), want);
    const [r] = await client.recommendBatch(name, { searches: [{ positive: [1, 2], negative: [3], using: 'dense', limit: 3 }] });
    sameRanking(r!, want);
  });

  it('query with RRF fusion of a dense and a sparse prefetch', async () => {
    const dense = topDense(q, 10);
    const sparse = topSparse(qs, 10);
    const fused = new Map<number, number>();
    for (const list of [dense, sparse]) list.forEach(([id], rank) => fused.set(id, (fused.get(id) ?? 0) + 1 / (rank + 2)));
    const want = [...fused].sort((x, y) => y[1] - x[1]).slice(0, 5);
    const res = await client.query(name, { prefetch: [{ query: q, using: 'dense', limit: 10 }, { query: toSparse(qs), using: 'bm25', limit: 10 }], query: { fusion: 'rrf' }, limit: 5 });
    sameRanking(res.points, want);
  });

  it('query with a formula boosting by price, and queryBatch', async () => {
    const dense = topDense(q, 10);
    const price = new Map(ITEMS.map((it) => [it.id, it.price]));
    const want = dense.map(([id, s]) => [id, s + 0.01 * price.get(id)!] as const).sort((x, y) => y[1] - x[1]).slice(0, 4);
    const body = { prefetch: { query: q, using: 'dense', limit: 10 }, query: { formula: { sum: ['$score', { mult: [0.01, 'price'] }] } }, limit: 4 };
    sameRanking((await client.query(name, body)).points, want);
    const [x, y] = await client.queryBatch(name, { searches: [body, { query: toSparse(qs), using: 'bm25', limit: 2 }] });
    sameRanking(x!.points, want);
    sameRanking(y!.points, topSparse(qs, 2));
  });

  it('queryGroups by brand, scroll pages and facet counts', async () => {
    const groups = await client.queryGroups(name, { query: q, using: 'dense', group_by: 'brand', group_size: 2, limit: 3 });
    assert.equal(groups.groups.length, 3);
    for (const g of groups.groups) {
      const want = topDense(q, 2, (it) => it.brand === g.id);
      sameRanking(g.hits, want);
    }
    const page = await client.scroll(name, { limit: 7, offset: 50, with_payload: ['brand'] });
    assert.deepEqual(page.points.map((p) => p.id), [50, 51, 52, 53, 54, 55, 56]);
    assert.equal(page.next_page_offset, 57);
    const facet = await client.facet(name, { key: 'brand', exact: true });
    assert.deepEqual(facet.hits.map((h) => h.count), [20, 20, 20]);
  });

  it('discoverPoints ranks by the context pairs first', async () => {
    const res = await client.discoverPoints(name, { target: q, context: [{ positive: 5, negative: 6 }], using: 'dense', limit: 10 });
    const sim = (it: Item, id: number) => cos(it.dense, ITEMS[id - 1]!.dense);
    for (const p of res) {
      const it = ITEMS[(p.id as number) - 1]!;
      const rank = sim(it, 5) > sim(it, 6) ? 1 : -1;
      assert.equal(Math.floor(p.score), rank === 1 ? 1 : -1, `point ${p.id}`);
    }
  });
});
