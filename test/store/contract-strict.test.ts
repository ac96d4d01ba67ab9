/**
 * Strict mode through @qdrant/js-client-rest: `strict_mode_config` accepted at creation and by
 * update, echoed in collection info, and enforced with Qdrant's messages — unindexed filtering
 * on reads and on filtered writes (naming the key and the index types that would serve it),
 * max_query_limit (prefetch limits too), max_timeout, search_allow_exact, search_max_hnsw_ef,
 * upsert_max_batchsize, filter_max_conditions; nothing is enforced while `enabled` is false.
 * Runs against a real Qdrant too with QDRANT_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let name: string;

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  name = ts.name('strict');
  await client.createCollection(name, {
    vectors: { size: 2, distance: 'Dot' },
    strict_mode_config: { enabled: true, unindexed_filtering_retrieve: false, unindexed_filtering_update: false, max_query_limit: 10, max_timeout: 5, search_allow_exact: false, search_max_hnsw_ef: 64, upsert_max_batchsize: 3, filter_max_conditions: 3 },
  });
  await client.createPayloadIndex(name, { field_name: 'brand', field_schema: 'keyword', wait: true });
  await client.createPayloadIndex(name, { field_name: 'price', field_schema: 'float', wait: true });
  await client.upsert(name, { wait: true, points: [1, 2, 3].map((id) => ({ id, vector: [id, 1], payload: { brand: `b${id % 2}`, price: id, colour: 'red' } })) });
});
after(async () => {
  await ts.close();
});

/** The error a call is refused with (status and Qdrant's message). */
async function refusal(call: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } };
    return { status: e.status ?? 0, error: e.data?.status?.error ?? String(err) };
  }
  assert.fail('expected the call to be refused');
}

const unindexed = (key: string, kinds: string) => ({
  status: 400,
  error: `Bad request: Index required but not found for "${key}" of one of the following types: [${kinds}]. Help: Create an index for this key or use a different filter.`,
});

describe('strict mode', () => {
  it('is echoed in collection info, and updated by PATCH', async () => {
    const info = await client.getCollection(name);
    assert.equal(info.config.strict_mode_config?.enabled, true);
    assert.equal(info.config.strict_mode_config?.max_query_limit, 10);
    assert.equal(info.config.strict_mode_config?.unindexed_filtering_retrieve, false);
  });

  it('refuses reads filtering on unindexed keys, naming the key and the index types', async () => {
    const colour = { must: [{ key: 'colour', match: { value: 'red' } }] };
    assert.deepEqual(await refusal(client.scroll(name, { filter: colour })), unindexed('colour', 'keyword, uuid'));
    assert.deepEqual(await refusal(client.query(name, { query: [1, 0], filter: colour })), unindexed('colour', 'keyword, uuid'));
    assert.deepEqual(await refusal(client.search(name, { vector: [1, 0], filter: { must: [{ key: 'size', range: { gte: 1 } }] } })), unindexed('size', 'float, integer'));
    // A keyword index does not serve a range.
    assert.deepEqual(await refusal(client.count(name, { exact: false, filter: { must: [{ key: 'brand', range: { gte: 1 } }] } })), unindexed('brand', 'float, integer'));
    // In a prefetch too.
    assert.deepEqual(await refusal(client.query(name, { prefetch: [{ query: [1, 0], filter: colour }], query: { fusion: 'rrf' } })), unindexed('colour', 'keyword, uuid'));
    // Indexed keys pass.
    const ok = await client.scroll(name, { filter: { must: [{ key: 'brand', match: { value: 'b1' } }, { key: 'price', range: { gte: 2 } }] } });
    assert.deepEqual(ok.points.map((p) => p.id), [3]);
  });

  it('refuses filtered writes on unindexed keys', async () => {
    assert.deepEqual(await refusal(client.delete(name, { wait: true, filter: { must: [{ key: 'colour', match: { value: 'red' } }] } })), unindexed('colour', 'keyword, uuid'));
    assert.deepEqual(await refusal(client.setPayload(name, { wait: true, payload: { x: 1 }, filter: { must: [{ key: 'colour', match: { value: 'red' } }] } })), unindexed('colour', 'keyword, uuid'));
    assert.equal((await client.count(name, { exact: false })).count, 3, 'nothing was deleted');
  });

  it('enforces the limits with the parameter named', async () => {
    assert.deepEqual(await refusal(client.query(name, { query: [1, 0], limit: 11 })), {
      status: 400,
      error: 'Bad request: Limit exceeded 11 > 10 for "limit". Help: Reduce the "limit" parameter to or below 10.',
    });
    assert.deepEqual(await refusal(client.query(name, { prefetch: [{ query: [1, 0], limit: 50 }], query: [1, 0], limit: 5 })), {
      status: 400,
      error: 'Bad request: Limit exceeded 50 > 10 for "limit". Help: Reduce the "limit" parameter to or below 10.',
    });
    assert.deepEqual(await refusal(client.query(name, { query: [1, 0], params: { hnsw_ef: 128 } })), {
      status: 400,
      error: 'Bad request: Limit exceeded 128 > 64 for "hnsw_ef". Help: Reduce the "hnsw_ef" parameter to or below 64.',
    });
    assert.deepEqual(await refusal(client.search(name, { vector: [1, 0], params: { exact: true } })), { status: 400, error: 'Bad request: Exact search disabled!. Help: Set exact=false.' });
    assert.deepEqual(await refusal(client.query(name, { query: [1, 0], timeout: 30 })), {
      status: 400,
      error: 'Bad request: Limit exceeded 30 > 5 for "timeout". Help: Reduce the "timeout" parameter to or below 5.',
    });
    const four = [1, 2, 3, 4].map((id) => ({ id, vector: [1, 1] }));
    assert.deepEqual(await refusal(client.upsert(name, { wait: true, points: four })), {
      status: 400,
      error: 'Bad request: Limit exceeded 4 > 3 for "upsert limit". Help: Reduce the "upsert limit" parameter to or below 3.',
    });
    const conditions = [0, 1, 2, 3].map((i) => ({ key: 'price', range: { gte: i } }));
    assert.deepEqual(await refusal(client.scroll(name, { filter: { must: conditions } })), {
      status: 400,
      error: 'Bad request: Filter condition limit reached (4 > 3). Help: Reduce the amount of conditions of your filter.',
    });
    // Within the limits all of these run.
    assert.equal((await client.query(name, { query: [1, 0], limit: 10, timeout: 5, params: { hnsw_ef: 64 } })).points.length, 3);
  });

  it('nothing is enforced once disabled', async () => {
    await client.updateCollection(name, { strict_mode_config: { enabled: false } });
    const info = await client.getCollection(name);
    assert.equal(info.config.strict_mode_config?.enabled, false);
    assert.equal(info.config.strict_mode_config?.max_query_limit, 10, 'the other settings are kept');
    const { points } = await client.scroll(name, { filter: { must: [{ key: 'colour', match: { value: 'red' } }] }, limit: 50 });
    assert.equal(points.length, 3);
    await client.updateCollection(name, { strict_mode_config: { enabled: true } });
    assert.equal((await refusal(client.scroll(name, { filter: { must: [{ key: 'colour', match: { value: 'red' } }] } }))).status, 400);
  });
});

describe('strict mode: sizes, conditions and formulas (the cases of Qdrant\'s own suite)', () => {
  let col: string;
  before(async () => {
    col = ts.name('strict_sizes');
    await client.createCollection(col, {
      vectors: { d: { size: 4, distance: 'Dot' }, multi: { size: 2, distance: 'Dot', multivector_config: { comparator: 'max_sim' } } },
      sparse_vectors: { s: {} },
    });
  });
  const strict = (cfg: Record<string, unknown>) => client.updateCollection(col, { strict_mode_config: cfg as never });
  const upsert = (ids: number[]) => client.upsert(col, { wait: true, points: ids.map((id) => ({ id, vector: { d: [1, 2, 3, 5] } })) });

  it('update_vectors is limited by upsert_max_batchsize as "update limit"', async () => {
    await upsert([1, 2, 3, 4]);
    await strict({ enabled: true, upsert_max_batchsize: 3 });
    const points = [1, 2, 3, 4].map((id) => ({ id, vector: { d: [1, 1, 1, 1] } }));
    const r = await refusal(client.updateVectors(col, { wait: true, points }));
    assert.equal(r.error, 'Bad request: Limit exceeded 4 > 3 for "update limit". Help: Reduce the "update limit" parameter to or below 3.');
    await client.updateVectors(col, { wait: true, points: points.slice(0, 3) });
    await strict({ upsert_max_batchsize: 100 });
  });

  it('max_points_count and max_collection_vector_size_bytes refuse writes once reached', async () => {
    await strict({ enabled: true, max_points_count: 5 });
    await upsert([5]); // 4 points before: allowed, now 5
    assert.deepEqual(await refusal(upsert([6])), { status: 400, error: 'Bad request: Max points count limit of 5 reached!' });
    await strict({ max_points_count: 1000, max_collection_vector_size_bytes: 80 }); // 5 points × 16 bytes
    assert.deepEqual(await refusal(upsert([6])), { status: 400, error: 'Bad request: Max vector storage size limit of 80 bytes reached!' });
    await strict({ max_collection_vector_size_bytes: 1_000_000 });
    await upsert([6]);
  });

  it('sparse_config.max_length and multivector_config.max_vectors', async () => {
    await strict({ enabled: true, sparse_config: { s: { max_length: 4 } }, multivector_config: { multi: { max_vectors: 2 } } });
    await client.upsert(col, { wait: true, points: [{ id: 7, vector: { s: { indices: [1, 2, 3, 4], values: [1, 1, 1, 1] }, multi: [[1, 0], [0, 1]] } }] });
    assert.deepEqual(await refusal(client.upsert(col, { wait: true, points: [{ id: 8, vector: { s: { indices: [1, 2, 3, 4, 5, 6], values: [1, 1, 1, 1, 1, 1] } } }] })), {
      status: 400,
      error: "Bad request: Sparse vector 's' has a limit of 4 indices, but 6 were provided!",
    });
    assert.deepEqual(await refusal(client.upsert(col, { wait: true, batch: { ids: [8], vectors: { multi: [[[1, 0], [0, 1], [1, 1]]] } } })), {
      status: 400,
      error: "Bad request: Multivector 'multi' has a limit of 2 vectors, but 3 were provided!",
    });
  });

  it('condition_max_size and filter_max_conditions count inside nested conditions', async () => {
    await strict({ enabled: true, condition_max_size: 2 });
    const nested = (n: number) => ({ must: [{ nested: { key: 'city', filter: { must: [{ key: 'key', match: { any: Array.from({ length: n }, (_, i) => i) } }, { key: 'key2', match: { any: [1] } }] } } }] });
    await client.scroll(col, { filter: nested(2) });
    assert.deepEqual(await refusal(client.scroll(col, { filter: nested(3) })), { status: 400, error: 'Bad request: Condition size limit reached (3 > 2). Help: Reduce the size of your condition.' });
    await strict({ condition_max_size: 1_000_000, filter_max_conditions: 1 });
    assert.deepEqual(await refusal(client.scroll(col, { filter: nested(1) })), {
      status: 400,
      error: 'Bad request: Filter condition limit reached (2 > 1). Help: Reduce the amount of conditions of your filter.',
    });
    await strict({ filter_max_conditions: 100 });
  });

  it('max_payload_index_count', async () => {
    await strict({ enabled: true, max_payload_index_count: 1 });
    await client.createPayloadIndex(col, { field_name: 'first', field_schema: 'keyword', wait: true });
    assert.deepEqual(await refusal(client.createPayloadIndex(col, { field_name: 'second', field_schema: 'keyword', wait: true })), {
      status: 400,
      error: 'Bad request: Collection already has the maximum number of payload indices (1). Help: Please delete an existing index before creating a new one.',
    });
    await client.deletePayloadIndex(col, 'first', { wait: true });
    await strict({ max_payload_index_count: 100 });
  });

  it('payload keys a formula reads need an index too', async () => {
    const formula = { prefetch: { query: [0.1, 0.2, 0.3, 0.4], using: 'd' }, query: { formula: { sum: ['discount_price', '$score'] }, defaults: { discount_price: 0 } } };
    await client.query(col, formula);
    await strict({ enabled: true, unindexed_filtering_retrieve: false });
    assert.deepEqual(await refusal(client.query(col, formula)), {
      status: 400,
      error: 'Bad request: Index required but not found for "discount_price" of one of the following types: [float, integer]. Help: Create an index for this key or use a different formula expression.',
    });
    await client.createPayloadIndex(col, { field_name: 'discount_price', field_schema: 'float', wait: true });
    await client.query(col, formula);
  });
});

describe('strict mode: rate limits and result counts', () => {
  let col: string;
  before(async () => {
    col = ts.name('strict_rates');
    await client.createCollection(col, { vectors: { size: 4, distance: 'Dot' } });
    await client.createPayloadIndex(col, { field_name: 'docId', field_schema: 'keyword', wait: true });
    await client.upsert(col, { wait: true, points: Array.from({ length: 10 }, (_, i) => ({ id: i + 1, vector: [1, 0, 0, i], payload: { docId: `d${i % 3}`, price: i } })) });
  });
  const strict = (cfg: Record<string, unknown>) => client.updateCollection(col, { strict_mode_config: cfg as never });
  const raw = async (method: string, p: string, body: unknown) => {
    const res = await fetch(`${ts.url}/collections/${col}${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: ((await res.json()) as { status: { error?: string } | string }).status };
  };

  it('write_rate_limit: tokens per point, 429 with Retry-After', async () => {
    await strict({ enabled: true, write_rate_limit: 10 });
    const points = (n: number) => ({ points: Array.from({ length: n }, (_, i) => ({ id: i + 1, vector: [1, 0, 0, i] })) });
    const big = await raw('PUT', '/points?wait=true', points(11));
    assert.equal(big.status, 429);
    assert.deepEqual(big.error, { error: 'Rate limiting exceeded: Write rate limit exceeded, request larger than rate limiter capacity, please try to split your request' });
    assert.equal((await raw('PUT', '/points?wait=true', points(10))).status, 200);
    const again = await raw('PUT', '/points?wait=true', points(10));
    assert.equal(again.status, 429);
    // Tokens come back at 10 a minute: a slow machine may see a tenth of one by now.
    assert.match(JSON.stringify(again.error), /^\{"error":"Rate limiting exceeded: Write rate limit exceeded: Operation requires 10 tokens but only 0\.\d were available\. Retry after (5\d|60)s"\}$/);
    assert.ok(Number(again.retryAfter) > 55 && Number(again.retryAfter) <= 60, `Retry-After ${again.retryAfter}`);
    await strict({ enabled: false });
    assert.equal((await raw('PUT', '/points?wait=true', points(10))).status, 200, 'disabled: no limit');
  });

  it('a filtered write costs half the collection (10 points: 5 tokens)', async () => {
    await strict({ enabled: true, write_rate_limit: 7 });
    const setPayload = (value: string) => raw('PUT', '/points/payload', { payload: { City: `Not ${value}` }, filter: { must: [{ key: 'City', match: { value } }] } });
    assert.equal((await setPayload('Berlin')).status, 200);
    const second = await setPayload('London');
    assert.equal(second.status, 429);
    assert.match(JSON.stringify(second.error), /Write rate limit exceeded: Operation requires 5 tokens but only 2\.\d were available/);
    await strict({ enabled: false });
  });

  it('read_rate_limit: a retrieve costs one token per id, a scroll one plus one per condition', async () => {
    await strict({ enabled: true, read_rate_limit: 4 });
    assert.equal((await raw('POST', '/points', { ids: [1, 2, 3, 4, 5] })).status, 429);
    assert.equal((await raw('POST', '/points', { ids: [1, 2, 3, 4] })).status, 200);
    const spent = await raw('POST', '/points', { ids: [1, 2, 3, 4] });
    assert.equal(spent.status, 429);
    assert.match(JSON.stringify(spent.error), /Read rate limit exceeded: Operation requires 4 tokens but only 0\.\d were available/);
    await strict({ read_rate_limit: 10 });
    const conditions = (n: number) => ({ filter: { must: Array.from({ length: n }, (_, i) => ({ key: 'docId', match: { value: `d${i}` } })) } });
    assert.equal((await raw('POST', '/points/scroll', conditions(11))).status, 429);
    assert.equal((await raw('POST', '/points/scroll', conditions(6))).status, 200);
    assert.match(JSON.stringify((await raw('POST', '/points/scroll', conditions(6))).error), /Operation requires 7 tokens/);
    await strict({ enabled: false });
  });

  it('groups count limit × group_size, a distance matrix sample × limit', async () => {
    await strict({ enabled: true, max_query_limit: 15, read_rate_limit: 1000 });
    const groups = await raw('POST', '/points/query/groups', { query: [1, 0, 0, 0], limit: 10, group_by: 'docId', group_size: 3 });
    assert.deepEqual(groups, { status: 400, retryAfter: null, error: { error: 'Bad request: Limit exceeded 30 > 15 for "limit". Help: Reduce the "limit" parameter to or below 15.' } });
    const matrix = await raw('POST', '/points/search/matrix/pairs', { sample: 10, limit: 2 });
    assert.equal(matrix.status, 400);
    assert.match(JSON.stringify(matrix.error), /Limit exceeded 20 > 15 for \\"limit\\"/);
    assert.equal((await raw('POST', '/points/query/groups', { query: [1, 0, 0, 0], limit: 5, group_by: 'docId', group_size: 3 })).status, 200);
    await strict({ enabled: false });
  });
});
