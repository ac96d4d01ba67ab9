/**
 * The ANN index of dense vectors (services/store/engine/ann): the appendable part folded into a
 * usearch index by the optimiser thread (status yellow, then green), searches that agree with
 * the exact scan, tombstones for updates and deletes, the filter planner on both sides of
 * full_scan_threshold, quantised indexes, and the index files across reopen, damage and SIGKILL.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { Store } from '../../services/store/engine/store.ts';
import { killAll, startStoreProcess } from '../support/store-process.ts';
import { mulberry32 } from '../../scripts/test-model/prng.ts';

const dirs: string[] = [];
const stores: Store[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-ann-'));
  dirs.push(d);
  return d;
}
function open(dir: string): Store {
  const s = Store.open(dir);
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const WAIT = { wait: true };
const DIM = 8;

/** Deterministic pseudo-random vectors. */
const rng = mulberry32;
const vectorOf = (id: number, salt = 0) => {
  const r = rng(id * 7919 + salt);
  return Array.from({ length: DIM }, () => r() - 0.5);
};
const points = (from: number, n: number, salt = 0) =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, vector: { v: vectorOf(from + i, salt) }, payload: { tag: (from + i) % 100 === 0 ? 'rare' : (from + i) % 2 === 0 ? 'even' : 'odd' } }));

/** indexing_threshold 1 KB: 32 points of 8 floats start a fold. */
function createIndexed(store: Store, extra: Record<string, unknown> = {}, vector: Record<string, unknown> = {}): void {
  store.createCollection('c', { vectors: { v: { size: DIM, distance: 'Cosine', ...vector } }, optimizers_config: { indexing_threshold: 1 }, ...extra });
}

async function green(store: Store, name = 'c'): Promise<number> {
  let polls = 0;
  while (store.info(name).status !== 'green') {
    polls++;
    await new Promise((r) => setTimeout(r, 20));
  }
  return polls;
}

type Hit = { id: string | number; score: number };
const ids = (r: unknown) => ((r as { points: Hit[] }).points).map((p) => p.id);
const hits = (r: unknown) => (r as { points: Hit[] }).points;

function recall(store: Store, queries: number[][], body: Record<string, unknown> = {}): number {
  let found = 0;
  let total = 0;
  for (const q of queries) {
    const truth = ids(store.query('c', { query: q, using: 'v', limit: 10, params: { exact: true }, ...body }));
    const got = new Set(ids(store.query('c', { query: q, using: 'v', limit: 10, ...body })));
    total += truth.length;
    found += truth.filter((id) => got.has(id)).length;
  }
  return found / total;
}

const queries = Array.from({ length: 20 }, (_, i) => vectorOf(100_000 + i));

describe('ANN index', () => {
  it('folds the appendable part into the index (yellow, then green) and answers as the exact scan does', async () => {
    const store = open(tempDir());
    createIndexed(store);
    assert.equal(store.info('c').status, 'green');
    await store.upsert('c', { points: points(1, 2000) }, WAIT);
    assert.equal(store.info('c').status, 'yellow', 'a fold is due once 1 KB of vectors waits');
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 2000);
    assert.ok(store.resolve('c').ann.get('v')!.pending.size === 0);
    assert.ok(recall(store, queries) >= 0.98);
    // Scores are the exact ones (candidates re-scored with the original vectors).
    for (const q of queries.slice(0, 5)) {
      const exact = new Map(hits(store.query('c', { query: q, using: 'v', limit: 10, params: { exact: true } })).map((h) => [h.id, h.score]));
      for (const h of hits(store.query('c', { query: q, using: 'v', limit: 10 }))) if (exact.has(h.id)) assert.equal(h.score, exact.get(h.id));
    }
  });

  it('below indexing_threshold points stay in the plain part and the collection is green', async () => {
    const store = open(tempDir());
    store.createCollection('c', { vectors: { v: { size: DIM, distance: 'Cosine' } } });
    await store.upsert('c', { points: points(1, 300) }, WAIT);
    assert.equal(store.info('c').status, 'green');
    assert.equal(store.info('c').indexed_vectors_count, 0);
    assert.equal(recall(store, queries), 1);
  });

  it('m: 0 gives the vector no index', async () => {
    const store = open(tempDir());
    createIndexed(store, {}, { hnsw_config: { m: 0 } });
    await store.upsert('c', { points: points(1, 500) }, WAIT);
    assert.equal(store.info('c').status, 'green');
    assert.equal(store.resolve('c').ann.get('v'), undefined);
    assert.equal(recall(store, queries), 1);
  });

  it('never returns deleted points and finds rewritten ones at their new vectors (tombstones)', async () => {
    const store = open(tempDir());
    createIndexed(store);
    await store.upsert('c', { points: points(1, 1000) }, WAIT);
    await green(store);
    await store.deletePoints('c', { points: Array.from({ length: 500 }, (_, i) => i * 2 + 2) }, WAIT);
    await store.upsert('c', { points: points(1, 20, 1).filter((p) => p.id % 2 === 1) }, WAIT);
    for (const q of queries) for (const id of ids(store.query('c', { query: q, using: 'v', limit: 50 }))) assert.equal((id as number) % 2, 1, `deleted point ${id} returned`);
    for (let id = 1; id <= 20; id += 2) {
      const [top] = hits(store.query('c', { query: vectorOf(id, 1), using: 'v', limit: 1 }));
      assert.equal(top!.id, id);
      assert.ok(Math.abs(top!.score - 1) < 1e-5);
    }
    // Once folded again (the vacuum removes the tombstones), the answers stay the same.
    await store.upsert('c', { points: points(5000, 200) }, WAIT);
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 700);
    assert.equal(store.resolve('c').ann.get('v')!.pending.size, 0);
    assert.ok(recall(store, queries) >= 0.98);
  });

  it('plans filtered searches on both sides of full_scan_threshold', async () => {
    const store = open(tempDir());
    // 10 KB: a filter reaching fewer than 320 points of 8 floats is scanned exactly.
    createIndexed(store, { hnsw_config: { full_scan_threshold: 10 } });
    await store.createIndex('c', { field_name: 'tag', field_schema: 'keyword' }, WAIT);
    await store.upsert('c', { points: points(1, 3000) }, WAIT);
    await green(store);
    const idx = store.resolve('c').ann.get('v')!;
    const search = idx.search.bind(idx);
    let indexSearches = 0;
    idx.search = (q, s) => {
      indexSearches++;
      return search(q, s);
    };
    const rare = { filter: { must: [{ key: 'tag', match: { value: 'rare' } }] } };
    assert.equal(recall(store, queries, rare), 1);
    assert.equal(indexSearches, 0, '30 rare points: scanned exactly');
    const even = { filter: { must: [{ key: 'tag', match: { value: 'even' } }] } };
    assert.ok(recall(store, queries, even) >= 0.98);
    assert.equal(indexSearches, queries.length, '1500 even points: the index, filtered');
    for (const q of queries) for (const h of hits(store.query('c', { query: q, using: 'v', limit: 10, ...even }))) assert.equal((h.id as number) % 2, 0);
    // A filter on an unindexed field: its reach is estimated from samples.
    const byId = { filter: { must: [{ key: 'tag', match: { any: ['odd', 'even'] } }], must_not: [{ has_id: [1, 2, 3] }] } };
    assert.ok(recall(store, queries, byId) >= 0.98);
    assert.equal(indexSearches, 3 * queries.length);
  });

  it('exact: true and hnsw_ef reach the search', async () => {
    const store = open(tempDir());
    createIndexed(store);
    await store.upsert('c', { points: points(1, 1500) }, WAIT);
    await green(store);
    const idx = store.resolve('c').ann.get('v')!;
    const seen: Array<number | null> = [];
    const search = idx.search.bind(idx);
    idx.search = (q, s) => {
      seen.push(s.ef);
      return search(q, s);
    };
    store.query('c', { query: queries[0]!, using: 'v', limit: 5, params: { exact: true } });
    store.query('c', { query: queries[0]!, using: 'v', limit: 5, params: { hnsw_ef: 256 } });
    assert.deepEqual(seen, [256]);
  });

  it('scalar int8 and binary quantisation: rescored results agree with the exact scan', async () => {
    for (const quantization_config of [{ scalar: { type: 'int8', always_ram: true } }, { binary: { always_ram: true } }]) {
      const store = open(tempDir());
      createIndexed(store, {}, { quantization_config });
      await store.upsert('c', { points: points(1, 1500) }, WAIT);
      await green(store);
      const body = { params: { quantization: { rescore: true, oversampling: 4 } } };
      assert.ok(recall(store, queries, body) >= 0.9, JSON.stringify(quantization_config));
      const q = queries[0]!;
      const exact = new Map(hits(store.query('c', { query: q, using: 'v', limit: 10, params: { exact: true } })).map((h) => [h.id, h.score]));
      for (const h of hits(store.query('c', { query: q, using: 'v', limit: 10, ...body }))) if (exact.has(h.id)) assert.equal(h.score, exact.get(h.id));
      // Without rescoring the scores are the quantised estimates.
      const rough = hits(store.query('c', { query: q, using: 'v', limit: 10, params: { quantization: { rescore: false } } }));
      assert.ok(rough.some((h) => exact.has(h.id) && h.score !== exact.get(h.id)));
      await store.close();
    }
  });

  it('reopens from its files without re-indexing, and rebuilds an index whose file is damaged or missing', async () => {
    const dir = tempDir();
    let store = open(dir);
    createIndexed(store);
    await store.upsert('c', { points: points(1, 1200) }, WAIT);
    await green(store);
    const before = queries.map((q) => ids(store.query('c', { query: q, using: 'v', limit: 10 })));
    await store.close();
    store = open(dir);
    assert.equal(store.info('c').status, 'green', 'no fold needed after reopening');
    assert.equal(store.info('c').indexed_vectors_count, 1200);
    assert.deepEqual(queries.map((q) => ids(store.query('c', { query: q, using: 'v', limit: 10 }))), before);
    await store.close();

    const cdir = path.join(dir, 'collections', fs.readdirSync(path.join(dir, 'collections'))[0]!, 'ann');
    const file = fs.readdirSync(cdir).find((f) => f.endsWith('.usearch'))!;
    fs.truncateSync(path.join(cdir, file), 1000);
    store = open(dir);
    assert.equal(store.info('c').indexed_vectors_count, 0, 'a torn file is not used');
    assert.equal(store.info('c').status, 'yellow');
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 1200);
    assert.ok(recall(store, queries) >= 0.98);
    await store.close();

    for (const f of fs.readdirSync(cdir)) fs.rmSync(path.join(cdir, f));
    store = open(dir);
    assert.equal(store.info('c').status, 'yellow');
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 1200);
  });

  it('reports a fold that fails in the collection warnings and retries it later', async () => {
    const dir = tempDir();
    const store = open(dir);
    createIndexed(store);
    const cdir = path.join(dir, 'collections', fs.readdirSync(path.join(dir, 'collections'))[0]!);
    // A file where the index directory belongs: every fold fails until it goes.
    fs.writeFileSync(path.join(cdir, 'ann'), 'in the way');
    await store.upsert('c', { points: points(1, 300) }, WAIT);
    let info = store.info('c');
    while (!info.warnings) {
      await new Promise((r) => setTimeout(r, 20));
      info = store.info('c');
    }
    assert.match((info.warnings as Array<{ message: string }>)[0]!.message, /indexing vector "v" failed: EEXIST/);
    assert.equal(info.status, 'yellow');
    assert.equal(recall(store, queries), 1, 'searches go on, exactly');
    fs.rmSync(path.join(cdir, 'ann'));
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 300);
    assert.equal(store.info('c').warnings, undefined);
  });

  it('rebuilds when the index settings change, and forgets a dropped vector', async () => {
    const dir = tempDir();
    const store = open(dir);
    createIndexed(store);
    await store.upsert('c', { points: points(1, 600) }, WAIT);
    await green(store);
    store.updateCollection('c', { vectors: { v: { hnsw_config: { m: 8 } } } });
    assert.equal(store.info('c').indexed_vectors_count, 0);
    await green(store);
    assert.equal(store.info('c').indexed_vectors_count, 600);
    assert.equal((store.resolve('c').ann.get('v')!.params.m), 8);
    store.updateCollection('c', { vectors: { v: { hnsw_config: { m: 0 } } } });
    assert.equal(store.resolve('c').ann.get('v'), undefined);
    const cdir = path.join(dir, 'collections', fs.readdirSync(path.join(dir, 'collections'))[0]!, 'ann');
    assert.deepEqual(fs.readdirSync(cdir), []);
    assert.equal(recall(store, queries), 1);
  });
});

describe('ANN index across SIGKILL', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-ann-kill-'));
  const children: ChildProcess[] = [];
  after(() => {
    killAll(children);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  async function startServer(): Promise<{ child: ChildProcess; client: QdrantClient }> {
    return startStoreProcess(dataDir, { track: children });
  }
  const waitGreen = async (client: QdrantClient) => {
    while ((await client.getCollection('k')).status !== 'green') await new Promise((r) => setTimeout(r, 50));
  };

  it('is whole or rebuilt after a kill at any point of a fold', async () => {
    let { child, client } = await startServer();
    await client.createCollection('k', { vectors: { v: { size: DIM, distance: 'Cosine' } }, optimizers_config: { indexing_threshold: 1 } });
    let next = 1;
    // Kill while folds run: after the first fold, and again in the middle of later ones.
    for (let round = 0; round < 3; round++) {
      for (let b = 0; b < 4; b++) {
        await client.upsert('k', { wait: true, points: points(next, 500) });
        next += 500;
      }
      if (round === 0) await waitGreen(client);
      assert.equal((await client.getCollection('k')).status, round === 0 ? 'green' : 'yellow');
      child.kill('SIGKILL');
      await once(child, 'exit');
      ({ child, client } = await startServer());
      assert.equal((await client.count('k', { exact: true })).count, next - 1);
    }
    await waitGreen(client);
    assert.equal((await client.getCollection('k')).indexed_vectors_count, next - 1);
    let found = 0;
    for (const q of queries) {
      const truth = (await client.query('k', { query: q, using: 'v', limit: 10, params: { exact: true } })).points.map((p) => p.id);
      const got = new Set((await client.query('k', { query: q, using: 'v', limit: 10 })).points.map((p) => p.id));
      found += truth.filter((id) => got.has(id)).length;
    }
    assert.ok(found / (10 * queries.length) >= 0.98);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
