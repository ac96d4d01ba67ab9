/**
 * Requests Qdrant refuses are refused with Qdrant's status codes and a message that names the
 * problem (runs against a real Qdrant too when QDRANT_URL is set).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let coll: string;

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  coll = ts.name('bad');
  await client.createCollection(coll, { vectors: { mrl_64: { size: 64, distance: 'Cosine' }, mrl_256: { size: 256, distance: 'Cosine' } } });
  await client.upsert(coll, { wait: true, points: [{ id: 1, vector: { mrl_64: new Array(64).fill(0.5) } }] });
});
after(async () => {
  await ts.close();
});

async function refused(promise: Promise<unknown>, status: number, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } };
    assert.equal(e.status, status, `status (error: ${JSON.stringify(e.data)})`);
    assert.match(e.data?.status?.error ?? '', pattern);
    return;
  }
  assert.fail(`expected HTTP ${status}`);
}

/** Sends a raw request (for bodies the typed client would not produce). */
async function raw(method: string, path: string, body: unknown): Promise<{ status: number; error: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (process.env.QDRANT_API_KEY) headers['api-key'] = process.env.QDRANT_API_KEY;
  const res = await fetch(`${ts.url}${path}`, { method, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const json = (await res.json()) as { status: { error?: string } | string };
  return { status: res.status, error: typeof json.status === 'object' ? (json.status.error ?? '') : '' };
}

describe('bad input', () => {
  it('wrong vector size: 400 naming expected and actual dimensions', async () => {
    await refused(client.upsert(coll, { wait: true, points: [{ id: 2, vector: { mrl_64: new Array(32).fill(1) } }] }), 400, /Vector dimension error: expected dim: 64, got 32/);
    await refused(client.query(coll, { query: new Array(32).fill(1), using: 'mrl_64' }), 400, /expected dim: 64, got 32/);
  });

  it('unknown named vector: 400 naming the vector', async () => {
    await refused(client.upsert(coll, { wait: true, points: [{ id: 2, vector: { mrl_12: new Array(12).fill(1) } }] }), 400, /Not existing vector name error: mrl_12/);
    await refused(client.query(coll, { query: new Array(12).fill(1), using: 'mrl_12' }), 400, /mrl_12/);
  });

  it('bad point ids: 400 for a negative integer and for a string that is not a UUID', async () => {
    await refused(client.upsert(coll, { wait: true, points: [{ id: -1, vector: { mrl_64: new Array(64).fill(1) } }] }), 400, /Format error in JSON body/);
    await refused(client.upsert(coll, { wait: true, points: [{ id: 'not-a-uuid', vector: { mrl_64: new Array(64).fill(1) } }] }), 400, /not-a-uuid|UUID|untagged enum/i);
    await refused(client.retrieve(coll, { ids: [1.5] }), 400, /Format error in JSON body/);
  });

  it('malformed filters: 400', async () => {
    const res = await raw('POST', `/collections/${coll}/points/count`, { filter: { must: [{ key: 'a', match: { value: { nested: 'object' } } }] } });
    assert.equal(res.status, 400);
    assert.match(res.error, /Format error in JSON body/);
    const unknownClause = await raw('POST', `/collections/${coll}/points/count`, { filter: { mustt: [] } });
    assert.equal(unknownClause.status, 400);
    assert.match(unknownClause.error, /mustt/);
  });

  it('malformed JSON: 400', async () => {
    const res = await raw('PUT', `/collections/${coll}/points?wait=true`, '{"points": [');
    assert.equal(res.status, 400);
    assert.match(res.error, /Format error in JSON body/);
  });

  it('values out of range: 422 naming the field', async () => {
    await refused(client.query(coll, { query: new Array(64).fill(1), using: 'mrl_64', limit: 0 }), 422, /limit/);
  });

  it('unknown collection: 404 naming it', async () => {
    await refused(client.getCollection(ts.name('nope')), 404, /Collection `.*nope` doesn't exist!/);
    await refused(client.upsert(ts.name('nope'), { wait: true, points: [{ id: 1, vector: [1] }] }), 404, /nope/);
    await refused(client.query(ts.name('nope'), { query: [1] }), 404, /nope/);
  });

  it('creating an existing collection: 409', async () => {
    await refused(client.createCollection(coll, { vectors: { size: 4, distance: 'Dot' } }), 409, /already exists/);
  });

  it('prefetch without a query: 400', async () => {
    await refused(client.query(coll, { prefetch: { query: new Array(64).fill(1), using: 'mrl_64' } }), 400, /query is needed/);
  });

  it('writing payload of a missing point: 404 naming the point', async () => {
    await refused(client.setPayload(coll, { wait: true, points: [777], payload: { a: 1 } }), 404, /777/);
  });

  it('leaves the collection unchanged after refused writes', async () => {
    // Its own refused writes, so the check does not depend on the tests above having run.
    await refused(client.upsert(coll, { wait: true, points: [{ id: 2, vector: { mrl_64: new Array(63).fill(0.5) } }] }), 400, /64/);
    await refused(client.upsert(coll, { wait: true, points: [{ id: 3, vector: { nope: new Array(64).fill(0.5) } }] }), 400, /nope/);
    await refused(client.setPayload(coll, { wait: true, points: [778], payload: { a: 1 } }), 404, /778/);
    assert.equal((await client.count(coll, {})).count, 1);
    const [p] = await client.retrieve(coll, { ids: [1], with_payload: true });
    assert.deepEqual(p?.payload ?? {}, {});
  });
});
