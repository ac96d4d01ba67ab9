/**
 * Large write bodies are parsed on a parse thread (http/parse-pool.ts): what lands in the store,
 * what is refused and how, must be the same as when the main thread parses them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedStore, type EmbeddedStore } from '../../services/store/index.ts';
import { ParsePool } from '../../services/store/http/parse-pool.ts';

const DIM = 512;
/** ~300 KB of JSON: above the size that goes to a parse thread. */
const POINTS = 56;

const vectorOf = (id: number) => Array.from({ length: DIM }, (_, j) => Math.round(Math.sin(id * 7 + j) * 1e7) / 1e7);
const body = (first: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    points: Array.from({ length: POINTS }, (_, k) => ({ id: first + k, vector: { v: vectorOf(first + k) }, payload: { n: first + k, tag: 'é"\\', ...extra } })),
  });

async function send(store: EmbeddedStore, method: string, url: string, text?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${store.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: text ?? null });
  return { status: res.status, json: await res.json() };
}

for (const parseThreads of [1, 0]) {
  describe(`write bodies parsed with parseThreads: ${parseThreads}`, () => {
    let dataDir: string;
    let store: EmbeddedStore;
    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-parse-'));
      store = await startEmbeddedStore({ dataDir, parseThreads });
      assert.equal((await send(store, 'PUT', '/collections/c', JSON.stringify({ vectors: { v: { size: DIM, distance: 'Dot' } } }))).status, 200);
    });
    after(async () => {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('stores every point of concurrent large upserts with its float32 vector and payload', async () => {
      const bodies = [0, 100, 200, 300].map((first) => body(first));
      assert.ok(bodies[0]!.length > 256 * 1024, `a body of ${bodies[0]!.length} bytes is large enough`);
      const results = await Promise.all(bodies.map((b) => send(store, 'PUT', '/collections/c/points?wait=true', b)));
      for (const r of results) assert.deepEqual([r.status, r.json.result?.status], [200, 'completed']);
      const got = await send(store, 'POST', '/collections/c/points', JSON.stringify({ ids: [0, 147, 301], with_vector: true, with_payload: true }));
      assert.equal(got.status, 200);
      for (const p of got.json.result as Array<{ id: number; vector: { v: number[] }; payload: Record<string, unknown> }>) {
        assert.deepEqual(p.payload, { n: p.id, tag: 'é"\\' });
        assert.deepEqual(p.vector.v.map(Math.fround), vectorOf(p.id).map(Math.fround), `point ${p.id}'s vector`);
      }
      const count = await send(store, 'POST', '/collections/c/points/count', JSON.stringify({ exact: true }));
      assert.equal(count.json.result.count, 4 * POINTS);
    });

    it('refuses a malformed large body with 400 saying where, and a wrong dimension with 400', async () => {
      const broken = body(1000).replace('"payload"', '"payload" 1');
      const r = await send(store, 'PUT', '/collections/c/points?wait=true', broken);
      assert.equal(r.status, 400);
      assert.match(r.json.status.error, /Format error in JSON body: .* at line 1 column \d+/);
      const short = body(2000).replace(/\[(-?[\d.]+),/, '[');
      const d = await send(store, 'PUT', '/collections/c/points?wait=true', short);
      assert.equal(d.status, 400);
      assert.match(d.json.status.error, /Vector dimension error: expected dim: 512, got 511/);
      const count = await send(store, 'POST', '/collections/c/points/count', JSON.stringify({ exact: true }));
      assert.equal(count.json.result.count, 4 * POINTS, 'nothing of the refused bodies was stored');
    });

    it('keeps a "__proto__" payload key an own property', async () => {
      const r = await send(store, 'PUT', '/collections/c/points?wait=true', body(3000).replace('"payload":{', '"payload":{"__proto__":{"polluted":true},'));
      assert.equal(r.status, 200);
      const got = await send(store, 'GET', '/collections/c/points/3000');
      const payload = got.json.result.payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(payload), ['__proto__', 'n', 'tag']);
      assert.deepEqual(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value, { polluted: true });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
}

it('lets its threads and slots go when idle, and starts them again for the next body', async () => {
  const pool = new ParsePool(2, 8, 40);
  const parse = async (text: string) => {
    const slot = await pool.acquire(text.length);
    try {
      const n = slot.bytes.write(text);
      return (await pool.parse(slot, n)) as { points: Array<{ vector: { v: Float32Array } }> };
    } finally {
      pool.release(slot);
    }
  };
  try {
    const first = await parse(body(0));
    assert.ok(first.points[3]!.vector.v instanceof Float32Array);
    assert.deepEqual(pool.held, { threads: 1, slots: 1 });
    for (let i = 0; i < 250 && pool.held.threads > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(pool.held, { threads: 0, slots: 0 });
    const again = await parse(body(500));
    assert.deepEqual(Array.from(again.points[0]!.vector.v.subarray(0, 3)), vectorOf(500).slice(0, 3).map(Math.fround));
  } finally {
    await pool.close();
  }
});
