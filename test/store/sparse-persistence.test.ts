/**
 * Sparse vectors and named-vector changes are durable: the log carries them, replay and
 * compaction rebuild the same inverted index (same IDF scores), a deleted vector name leaves
 * nothing behind for a later vector of the same name, and logs written before sparse vectors
 * still open.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../services/store/engine/store.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-sparse-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const WAIT = { wait: true };
/** Deterministic sparse vectors: term ids up to 2^32 − 1 (they must not lose precision). */
function sparseOf(i: number): { indices: number[]; values: number[] } {
  const indices = [i % 7, 1000 + (i % 3), 4_294_967_295 - (i % 2)];
  return { indices, values: indices.map((_, k) => (k + 1) * 0.25 + (i % 5) * 0.125) };
}

async function seeded(dir: string, count: number): Promise<Store> {
  const store = Store.open(dir);
  store.createCollection('c', { vectors: { d: { size: 2, distance: 'Cosine' } }, sparse_vectors: { s: { modifier: 'idf' } } });
  await store.upsert('c', { points: Array.from({ length: count }, (_, i) => ({ id: i + 1, vector: { d: [1, i], s: sparseOf(i) }, payload: { i } })) }, WAIT);
  return store;
}

const q = { query: { indices: [3, 1001, 4_294_967_295], values: [1, 1, 1] }, using: 's', limit: 50 };

describe('sparse vectors on disk', () => {
  it('replays and compacts into the same index and scores', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 40);
    await store.updateVectors('c', { points: [{ id: 5, vector: { s: { indices: [3], values: [9] } } }] }, WAIT);
    await store.deletePoints('c', { points: [6, 7] }, WAIT);
    await store.deleteVectors('c', { points: [8], vector: ['s'] }, WAIT);
    const expected = store.query('c', q).points;
    const stored = store.retrieve('c', { ids: [1, 5], with_vector: true });
    assert.ok(expected.length > 10);
    await store.close();

    const replayed = Store.open(dir);
    assert.deepEqual(replayed.query('c', q).points, expected);
    assert.deepEqual(replayed.retrieve('c', { ids: [1, 5], with_vector: true }), stored);
    assert.deepEqual((replayed.retrieve('c', { ids: [1], with_vector: true })[0]!.vector as { s: { indices: number[] } }).s.indices, [0, 1000, 4_294_967_295], 'point 1 (i = 0): u32 term ids intact, sorted');
    replayed.resolve('c').compact();
    assert.deepEqual(replayed.query('c', q).points, expected);
    await replayed.close();

    const compacted = Store.open(dir);
    assert.deepEqual(compacted.query('c', q).points, expected);
    await compacted.close();
  });

  it('the index answers as a scan of every point does (params.exact)', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 60);
    for (const query of [q, { ...q, query: { indices: [0, 1, 2], values: [1, -0.5, 2] } }, { ...q, limit: 3 }]) {
      const indexed = store.query('c', query).points;
      const scanned = store.query('c', { ...query, params: { exact: true } }).points;
      assert.deepEqual(indexed.map((p) => p.score), scanned.map((p) => p.score));
    }
    await store.close();
  });

  it('creates and deletes named vectors durably; a re-created name starts empty', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 5);
    await store.createVectorName('c', 'extra', { dense: { size: 3, distance: 'Dot' } }, WAIT);
    await store.updateVectors('c', { points: [{ id: 1, vector: { extra: [1, 2, 3] } }] }, WAIT);
    await store.deleteVectorName('c', 's', WAIT);
    assert.throws(() => store.query('c', q), /Not existing vector name/);
    await store.close();

    const reopened = Store.open(dir);
    const [p1] = reopened.retrieve('c', { ids: [1], with_vector: true });
    assert.deepEqual(Object.keys(p1!.vector as object).sort(), ['d', 'extra']);
    await reopened.createVectorName('c', 's', { sparse: { modifier: 'idf' } }, WAIT);
    assert.deepEqual(reopened.query('c', q).points, [], 'the old values of `s` are gone');
    await reopened.close();
    const again = Store.open(dir);
    assert.deepEqual(again.query('c', q).points, []);
    const info = again.info('c') as { config: { params: { sparse_vectors?: Record<string, unknown>; vectors: Record<string, unknown> } } };
    assert.deepEqual(Object.keys(info.config.params.vectors).sort(), ['d', 'extra']);
    assert.deepEqual(info.config.params.sparse_vectors, { s: { modifier: 'idf' } });
    await again.close();
  });
});
