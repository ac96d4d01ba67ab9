import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { isClipstreamError } from '../../shared/errors.ts';
import type { CataloguePoint } from '../../shared/store/points.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { BatchUpserter, type UpsertRequestEvent } from '../../shared/store/upserter.ts';
import { MatryoshkaData, syntheticPoint } from '../../bench/store/synthetic.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { freePort, startProxy } from './proxy.ts';

const DIMS = [64, 256, 1024];
const data = new MatryoshkaData({ clusters: 5, sigma: 0.5, tau: 0.25, seed: 3 });
const fastRetry = { maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 200 };
let store: TestStore;
let n = 0;

before(async () => {
  store = await startTestStore();
});
after(async () => {
  await store.close();
});

async function collection(): Promise<string> {
  const alias = store.name(`up_${++n}`);
  await ensureCollection(store.client, { alias, dims: DIMS, model: 'synthetic-matryoshka' });
  return alias;
}
const points = (from: number, count: number, dataset = 'up'): CataloguePoint[] =>
  Array.from({ length: count }, (_, i) => syntheticPoint(data, from + i, { dataset }));
const countOf = async (c: string) => (await store.client.count(c, { exact: true })).count;
const client = (url: string) => new QdrantClient({ url, checkCompatibility: false, timeout: 10_000 });

test('points are sent in batches of batchSize, a partial batch after the linger time, each add resolving once stored', async () => {
  const c = await collection();
  const events: UpsertRequestEvent[] = [];
  const up = new BatchUpserter(store.client, { collection: c, storeUrl: store.url, batchSize: 4, concurrency: 2, lingerMs: 10, onRequest: (e) => events.push(e) });
  await Promise.all(points(0, 10).map((p) => up.add(p)));
  assert.deepEqual(events.map((e) => e.points).sort(), [2, 4, 4]);
  assert.ok(events.every((e) => e.ok && e.attempt === 1));
  assert.equal(await countOf(c), 10);
  assert.deepEqual(up.stats, { requests: 3, retries: 0, storedPoints: 10, failedPoints: 0 });
  await up.close();
  await assert.rejects(up.add(points(10, 1)[0]!), (e: unknown) => isClipstreamError(e, 'STORE_REQUEST_FAILED') && /closed/.test(e.message));
});

test('an add is acknowledged only after the store answered a wait=true upsert', async () => {
  const c = await collection();
  const proxy = await startProxy(store.url);
  try {
    proxy.hold = true;
    const up = new BatchUpserter(client(proxy.url), { collection: c, storeUrl: proxy.url, batchSize: 2, lingerMs: 0 });
    let acked = false;
    const [p] = points(100, 1);
    const done = up.add(p!).then(() => (acked = true));
    const req = await proxy.seen((r) => r.method === 'PUT' && r.url.includes('/points'));
    assert.match(req.url, /[?&]wait=true/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(acked, false, 'acknowledged before the store answered');
    proxy.release();
    await done;
    const [got] = await store.client.retrieve(c, { ids: [p!.id] });
    assert.equal(got?.payload?.source, p!.payload.source);
  } finally {
    proxy.release();
    await proxy.close();
  }
});

test('transient failures are retried: a store that answers 503 for a while', async () => {
  const c = await collection();
  const proxy = await startProxy(store.url);
  try {
    proxy.fail503 = 2;
    const up = new BatchUpserter(client(proxy.url), { collection: c, storeUrl: proxy.url, batchSize: 8, retry: fastRetry });
    await Promise.all(points(200, 8).map((p) => up.add(p)));
    assert.equal(up.stats.retries, 2);
    assert.equal(up.stats.requests, 3);
    assert.equal(await countOf(c), 8);
  } finally {
    await proxy.close();
  }
});

test('transient failures are retried: a store that is unreachable, then comes up', async () => {
  const c = await collection();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const up = new BatchUpserter(client(url), { collection: c, storeUrl: url, batchSize: 4, retry: fastRetry });
  const stored = Promise.all(points(300, 4).map((p) => up.add(p)));
  // The store comes up once the upserter has met it down at least once.
  while (up.stats.retries < 1) await new Promise((r) => setTimeout(r, 5));
  const proxy = await startProxy(store.url, port);
  try {
    await stored;
    assert.ok(up.stats.retries >= 1, `retries: ${up.stats.retries}`);
    assert.equal(await countOf(c), 4);
  } finally {
    await proxy.close();
  }
});

test('when retries are exhausted every point fails with STORE_UNAVAILABLE naming the store URL, the attempts and the item', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const up = new BatchUpserter(client(url), { collection: 'nowhere', storeUrl: url, batchSize: 2, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
  const ps = points(400, 2);
  const results = await Promise.allSettled(ps.map((p) => up.add(p)));
  results.forEach((r, i) => {
    assert.equal(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason;
    assert.ok(isClipstreamError(err, 'STORE_UNAVAILABLE'), String(err));
    assert.equal(err.item, ps[i]!.payload.source);
    assert.ok(err.message.includes(url), err.message);
    assert.match(err.message, /3 times/);
    assert.match(err.message, /ECONNREFUSED/);
  });
  assert.equal(up.stats.requests, 3);
});

test('one wrong-size vector fails alone, with the store\'s reason; the rest of its batch is stored', async () => {
  const c = await collection();
  const ps = points(500, 8);
  const bad = ps[5]!;
  bad.vector.mrl_64 = bad.vector.mrl_64!.slice(0, 63);
  const up = new BatchUpserter(store.client, { collection: c, storeUrl: store.url, batchSize: 8, retry: fastRetry });
  const results = await Promise.allSettled(ps.map((p) => up.add(p)));
  results.forEach((r, i) => assert.equal(r.status, i === 5 ? 'rejected' : 'fulfilled', `point ${i}`));
  const err = (results[5] as PromiseRejectedResult).reason;
  assert.ok(isClipstreamError(err, 'STORE_REQUEST_FAILED'), String(err));
  assert.equal(err.item, bad.payload.source);
  assert.match(err.message, /400/);
  assert.match(err.message, /dim/i);
  assert.equal(await countOf(c), 7);
  assert.deepEqual({ stored: up.stats.storedPoints, failed: up.stats.failedPoints, retries: up.stats.retries }, { stored: 7, failed: 1, retries: 0 });
  assert.ok(up.stats.requests <= 1 + 2 * Math.ceil(Math.log2(8)), `requests: ${up.stats.requests}`);
});

test('a missing collection fails the whole batch at once (no splitting, no retries), as COLLECTION_NOT_FOUND', async () => {
  const up = new BatchUpserter(store.client, { collection: store.name('missing_collection'), storeUrl: store.url, batchSize: 4, retry: fastRetry });
  const results = await Promise.allSettled(points(600, 4).map((p) => up.add(p)));
  assert.equal(results.length, 4);
  // Not STORE_REQUEST_FAILED (retried by workers): a job for a dropped collection can never succeed.
  assert.ok(results.every((r) => r.status === 'rejected' && isClipstreamError(r.reason, 'COLLECTION_NOT_FOUND') && /404/.test(r.reason.message)));
  assert.equal(up.stats.requests, 1);
});
