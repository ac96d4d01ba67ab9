/**
 * What the embedded store does not do (yet) is refused with 400 and a message naming the
 * feature, never a 404, a 500 or a silently wrong answer. Embedded only: a real Qdrant has these.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedStore, type EmbeddedStore } from '../../services/store/index.ts';

let store: EmbeddedStore;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-refusals-'));
  store = await startEmbeddedStore({ dataDir: dir, port: 0 });
  await call('PUT', '/collections/c', { vectors: { v: { size: 2, distance: 'Cosine' } } });
  await call('PUT', '/collections/c/points?wait=true', { points: [{ id: 1, vector: { v: [1, 0] }, payload: { at: { lat: 1, lon: 2 } } }] });
});
after(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; error: string }> {
  const res = await fetch(`${store.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });
  const json = (await res.json()) as { status?: { error?: string } | string };
  return { status: res.status, error: typeof json.status === 'object' ? (json.status.error ?? '') : '' };
}

const cases: Array<[string, string, string, unknown, RegExp]> = [
  ['non-float32 vector storage', 'PUT', '/collections/m', { vectors: { v: { size: 2, distance: 'Cosine', datatype: 'uint8' } } }, /datatype/i],
  ['relevance feedback', 'POST', '/collections/c/points/query', { query: { relevance_feedback: { target: [1, 0], feedback: [], strategy: { naive: { a: 1, b: 1, c: 1 } } } }, using: 'v' }, /relevance_feedback/],
  ['inference (documents)', 'POST', '/collections/c/points/query', { query: { text: 'red bag', model: 'some/model' }, using: 'v' }, /inference/],
  ['shard keys', 'PUT', '/collections/c/shards', { shard_key: 'x' }, /shard/],
  ['custom sharding', 'PUT', '/collections/s', { vectors: { size: 2, distance: 'Dot' }, sharding_method: 'custom' }, /custom sharding/],
  ['cluster', 'GET', '/cluster', undefined, /cluster/],
];

describe('refused features', () => {
  for (const [label, method, url, body, pattern] of cases) {
    it(`${label}: 400 naming it`, async () => {
      const r = await call(method, url, body);
      assert.equal(r.status, 400, `${method} ${url}: ${r.error}`);
      assert.match(r.error, pattern);
    });
  }
});
