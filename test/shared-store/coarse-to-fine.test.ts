import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import {
  coarseToFineGroups,
  coarseToFineSearch,
  exactSearch,
  excludeIds,
  searchByPoint,
  type SearchTarget,
} from '../../shared/store/coarse-to-fine.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { MatryoshkaData, syntheticPoint } from '../../bench/store/synthetic.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { startProxy, type StoreProxy } from './proxy.ts';

const DIMS = [64, 256, 1024];
const N = 1500;
const data = new MatryoshkaData({ clusters: 15, sigma: 0.5, tau: 0.25, seed: 11 });
const queries = Array.from({ length: 20 }, (_, q) => data.query((q * 577) % N, q));
let store: TestStore;
let collection: string;
let target: SearchTarget;

before(async () => {
  store = await startTestStore();
  collection = store.name('c2f');
  await ensureCollection(store.client, { alias: collection, dims: DIMS, model: 'synthetic-matryoshka' });
  const up = new BatchUpserter(store.client, { collection, storeUrl: store.url, batchSize: 250, concurrency: 2 });
  await Promise.all(Array.from({ length: N }, (_, i) => up.add(syntheticPoint(data, i))));
  target = { client: store.client, collection, dims: DIMS };
});
after(async () => {
  await store.close();
});

const ids = (hits: Array<{ id: string }>) => hits.map((h) => h.id);

test('coarse-to-fine returns the exact 1024-d top-k on clustered Matryoshka data', async () => {
  for (const vector of queries) {
    const exact = await exactSearch(target, { vector, limit: 10 });
    const c2f = await coarseToFineSearch(target, { vector, limit: 10, stageLimits: [400, 100] });
    assert.deepEqual(ids(c2f), ids(exact));
    c2f.forEach((h, i) => assert.ok(Math.abs(h.score - exact[i]!.score) < 1e-4));
    assert.equal(typeof c2f[0]!.payload?.source, 'string');
  }
});

test('offset pages through the same ranking', async () => {
  const vector = queries[0]!;
  const all = await coarseToFineSearch(target, { vector, limit: 15, stageLimits: [400, 100] });
  const page = await coarseToFineSearch(target, { vector, limit: 5, offset: 10, stageLimits: [400, 100] });
  assert.deepEqual(ids(page), ids(all).slice(10));
});

test('the filter applies at every stage: a selective filter still fills the page from small stage limits', async () => {
  // Two of 40 products: 5% of the points. 30 unfiltered 64-d candidates would hold one or two
  // matching points, not ten: the coarse stages must only consider points that pass the filter.
  const filter = { must: [{ key: 'product_id', match: { any: ['p3', 'p17'] } }] };
  for (const vector of queries.slice(0, 5)) {
    const exact = await exactSearch(target, { vector, limit: 10, filter });
    const c2f = await coarseToFineSearch(target, { vector, limit: 10, filter, stageLimits: [30, 15] });
    assert.equal(c2f.length, 10);
    assert.ok(c2f.every((h) => ['p3', 'p17'].includes(h.payload?.product_id as string)));
    assert.ok(ids(c2f).filter((id) => ids(exact).includes(id)).length >= 9);
  }
});

test('the filter is sent to every stage of the one query', async () => {
  let proxy: StoreProxy | undefined;
  try {
    proxy = await startProxy(store.url);
    const { QdrantClient } = await import('@qdrant/js-client-rest');
    const via: SearchTarget = { ...target, client: new QdrantClient({ url: proxy.url, checkCompatibility: false }) };
    const filter = { must: [{ key: 'modality', match: { value: 'text' } }] };
    const hits = await coarseToFineSearch(via, { vector: queries[1]!, limit: 5, filter, stageLimits: [100, 20] });
    assert.ok(hits.length > 0, 'the filter leaves texts to find');
    assert.ok(hits.every((h) => h.payload?.modality === 'text'));
    const queryRequests = proxy.requests.filter((r) => r.url.includes('/points/query'));
    assert.equal(queryRequests.length, 1);
    const body = JSON.parse(queryRequests[0]!.body);
    assert.deepEqual([body.filter, body.prefetch.filter, body.prefetch.prefetch.filter], [filter, filter, filter]);
    assert.deepEqual([body.using, body.prefetch.using, body.prefetch.prefetch.using], ['mrl_1024', 'mrl_256', 'mrl_64']);
  } finally {
    await proxy?.close();
  }
});

test('stage limits below limit + offset are refused before any request', async () => {
  await assert.rejects(
    coarseToFineSearch(target, { vector: queries[0]!, limit: 10, offset: 5, stageLimits: [100, 12] }),
    (e: unknown) => isClipstreamError(e, 'BAD_REQUEST') && /at least 15/.test(e.message),
  );
  await assert.rejects(coarseToFineSearch(target, { vector: queries[0]!.slice(0, 512), limit: 10 }), (e: unknown) => isClipstreamError(e, 'VECTOR_INVALID'));
});

test('"more like this" runs the cascade from a stored point and never returns the point itself', async () => {
  const source = syntheticPoint(data, 42);
  const hits = await searchByPoint(target, source.id, { limit: 10, stageLimits: [400, 100] });
  assert.equal(hits.length, 10);
  assert.ok(!ids(hits).includes(source.id));
  const exact = await exactSearch(target, { vector: source.vector.mrl_1024!, limit: 10, filter: excludeIds(undefined, [source.id]) });
  assert.deepEqual(ids(hits), ids(exact));
  await assert.rejects(searchByPoint(target, '00000000-0000-5000-8000-000000000000', { limit: 5 }), (e: unknown) => isClipstreamError(e, 'NOT_FOUND'));
});

test('groups by product: best products first, at most group_size hits each, all of that product', async () => {
  const groups = await coarseToFineGroups(target, { vector: queries[2]!, limit: 4, groupSize: 2, stageLimits: [400, 100] });
  assert.equal(groups.length, 4);
  assert.equal(new Set(groups.map((g) => g.id)).size, 4);
  for (const g of groups) {
    assert.ok(g.hits.length >= 1 && g.hits.length <= 2);
    assert.ok(g.hits.every((h) => h.payload?.product_id === g.id));
  }
  const best = groups.map((g) => g.hits[0]!.score);
  assert.deepEqual(best, [...best].sort((a, b) => b - a));
  // The top group holds the overall best hit.
  const top = await coarseToFineSearch(target, { vector: queries[2]!, limit: 1, stageLimits: [400, 100] });
  assert.equal(groups[0]!.hits[0]!.id, top[0]!.id);
});
