/**
 * `on_disk: true` dense vectors (engine/disk-vectors.ts): the originals live in a file read with
 * positional reads, not in the heap; searches, re-ranking, retrieval and reopening answer as
 * for the same vectors in memory.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../services/store/engine/store.ts';
import { VectorColumn } from '../../services/store/engine/vectors.ts';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function open(dir: string): Store {
  const s = Store.open(dir);
  stores.push(s);
  return s;
}

const DIM = 16;
/** Exactly representable in float32, so read-back compares exactly. */
const vectorOf = (id: number) => Array.from({ length: DIM }, (_, i) => (((id * 13 + i * 7) % 29) - 14) / 8);
const WAIT = { wait: true };

describe('on-disk vectors', () => {
  it('keeps the originals in a file and answers as the in-memory twin does, before and after reopening', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-ondisk-'));
    dirs.push(dir);
    let store = open(dir);
    store.createCollection('c', { vectors: { disk: { size: DIM, distance: 'Euclid', on_disk: true }, ram: { size: DIM, distance: 'Euclid' }, coarse: { size: 4, distance: 'Euclid' } } });
    // 5000 points: more than one 4096-slot chunk, so a full scan reads two blocks.
    const n = 5000;
    for (let from = 1; from <= n; from += 1000) {
      const points = Array.from({ length: 1000 }, (_, i) => {
        const v = vectorOf(from + i);
        return { id: from + i, vector: { disk: v, ram: v, coarse: v.slice(0, 4) }, payload: { odd: (from + i) % 2 === 1 } };
      });
      await store.upsert('c', { points }, WAIT);
    }
    await store.deletePoints('c', { points: [2, 4, 6] }, WAIT);
    await store.updateVectors('c', { points: [{ id: 1, vector: { disk: vectorOf(9999), ram: vectorOf(9999) } }] }, WAIT);

    const check = (s: Store) => {
      const col = s.resolve('c').column('disk');
      assert.ok(col.file, 'the vector has a file');
      assert.equal(col.chunks.length, 0, 'no vector memory for it');
      assert.ok(fs.statSync(col.file.file).size >= n * DIM * 4);
      assert.ok(s.resolve('c').column('ram') instanceof VectorColumn && s.resolve('c').column('ram').file === null);
      for (const q of [vectorOf(77), vectorOf(9999), vectorOf(31)]) {
        const body = (using: string, extra: Record<string, unknown> = {}) => ({ query: q, using, limit: 10, ...extra });
        const twin = (using: string, extra: Record<string, unknown> = {}) => s.query('c', body(using, extra));
        assert.deepEqual(twin('disk'), twin('ram'));
        const filter = { filter: { must: [{ key: 'odd', match: { value: true } }] } };
        assert.deepEqual(twin('disk', filter), twin('ram', filter));
        // Re-ranking prefetched candidates reads only those.
        const prefetch = { prefetch: { query: q.slice(0, 4), using: 'coarse', limit: 200 } };
        assert.deepEqual(twin('disk', prefetch), twin('ram', prefetch));
      }
      const [p1] = s.retrieve('c', { ids: [1, 3], with_vector: true }) as Array<{ id: number; vector: Record<string, number[]> }>;
      assert.deepEqual(p1!.vector.disk, vectorOf(9999));
      assert.deepEqual(p1!.vector.disk, p1!.vector.ram);
      assert.equal(s.count('c', {}).count, n - 3);
    };
    check(store);
    await store.close();
    store = open(dir);
    check(store);
    await store.deleteVectorName('c', 'disk', WAIT);
    const vdir = path.join(dir, 'collections', fs.readdirSync(path.join(dir, 'collections'))[0]!, 'vectors');
    assert.deepEqual(fs.readdirSync(vdir), []);
  });
});
