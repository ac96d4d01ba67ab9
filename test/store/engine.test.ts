/**
 * The engine without HTTP: log recovery after torn tails, compaction, versions,
 * aliases and collection lifecycle on disk.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../services/store/engine/store.ts';
import { walkLog } from '../../services/store/engine/log-scan.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-engine-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const WAIT = { wait: true };
const point = (id: number, tag = 'a') => ({ id, vector: { v: [id, 1, 0, 0] }, payload: { tag, id } });

async function seeded(dir: string, count: number): Promise<Store> {
  const store = Store.open(dir);
  store.createCollection('c', { vectors: { v: { size: 4, distance: 'Dot' } } });
  await store.upsert('c', { points: Array.from({ length: count }, (_, i) => point(i + 1)) }, WAIT);
  return store;
}

function logFile(dir: string): string {
  const root = path.join(dir, 'collections');
  const [cdir] = fs.readdirSync(root);
  const [log] = fs.readdirSync(path.join(root, cdir!)).filter((f) => f.endsWith('.log'));
  return path.join(root, cdir!, log!);
}

describe('store engine', () => {
  it('drops a torn tail after a crash and keeps everything before it', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 10);
    await store.upsert('c', { points: [point(11)] }, WAIT);
    await store.close();
    const file = logFile(dir);
    const intact = fs.statSync(file).size;
    // A crash mid-append: a header promising more bytes than were written.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(5000, 0);
    fs.appendFileSync(file, torn);

    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 11);
    assert.equal(fs.statSync(file).size, intact, 'the torn frame is truncated away');
    await reopened.upsert('c', { points: [point(12)] }, WAIT);
    await reopened.close();
    const again = Store.open(dir);
    assert.equal(again.count('c', {}).count, 12);
    await again.close();
  });

  it('drops a last frame whose checksum does not match (nothing intact after it: a torn write)', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 5);
    const sizeAfterFirst = fs.statSync(logFile(dir)).size;
    await store.upsert('c', { points: [point(6)] }, WAIT);
    await store.close();
    const file = logFile(dir);
    const bytes = fs.readFileSync(file);
    bytes[sizeAfterFirst + 20] = bytes[sizeAfterFirst + 20]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 5);
    await reopened.close();
  });

  it('compacts the log to the live points, keeping payloads, vectors and versions', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 20);
    for (let round = 0; round < 5; round++) await store.upsert('c', { points: Array.from({ length: 20 }, (_, i) => point(i + 1, `r${round}`)) }, WAIT);
    await store.deletePoints('c', { points: [1, 2] }, WAIT);
    const before = store.retrieve('c', { ids: [3, 20], with_vector: true });
    const versionBefore = store.query('c', { query: [1, 0, 0, 0], using: 'v', limit: 1, with_payload: true }).points[0]!;
    const sizeBefore = fs.statSync(logFile(dir)).size;
    store.resolve('c').compact();
    const sizeAfter = fs.statSync(logFile(dir)).size;
    assert.ok(sizeAfter < sizeBefore / 3, `log ${sizeBefore} → ${sizeAfter}`);
    await store.close();

    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 18);
    assert.deepEqual(reopened.retrieve('c', { ids: [3, 20], with_vector: true }), before);
    assert.deepEqual(reopened.query('c', { query: [1, 0, 0, 0], using: 'v', limit: 1, with_payload: true }).points[0], versionBefore);
    await reopened.upsert('c', { points: [point(1, 'back')] }, WAIT);
    assert.equal(reopened.count('c', {}).count, 19);
    await reopened.close();
  });

  it('compacts while log writes are still in flight, and close waits for unacknowledged ones', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 10);
    // wait=false: acknowledged once applied; their frames are still being written.
    const acked = [];
    for (let round = 0; round < 4; round++) acked.push(store.upsert('c', { points: Array.from({ length: 10 }, (_, i) => point(i + 1, `r${round}`)) }, { wait: false }));
    store.resolve('c').compact();
    for (let id = 11; id <= 15; id++) acked.push(store.upsert('c', { points: [point(id, 'late')] }, { wait: false }));
    await Promise.all(acked);
    await store.close();

    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 15);
    const got = reopened.retrieve('c', { ids: [1, 10, 11, 15], with_payload: true, with_vector: true }) as Array<{ id: number; payload: { tag: string }; vector: { v: number[] } }>;
    assert.deepEqual(got.map((p) => [p.id, p.payload.tag, p.vector.v]), [[1, 'r3', [1, 1, 0, 0]], [10, 'r3', [10, 1, 0, 0]], [11, 'late', [11, 1, 0, 0]], [15, 'late', [15, 1, 0, 0]]]);
    await reopened.close();
  });

  it('compacts between two writes with frames still queued, carrying them into the new file', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 10);
    const before = logFile(dir);
    // One write goes out at once; the rest queue behind it, their ops not applied yet.
    const pending = Array.from({ length: 30 }, (_, k) => store.upsert('c', { points: [point((k % 10) + 1, `q${k}`), point(100 + k)] }, { wait: k % 2 === 0 }));
    store.resolve('c').compact();
    await Promise.all(pending);
    assert.notEqual(logFile(dir), before, 'the compaction ran while frames were queued');
    const seqs: number[] = [];
    const fd = fs.openSync(logFile(dir), 'r');
    walkLog(fd, fs.fstatSync(fd).size, (e) => {
      assert.equal(e.type, 'frame');
      if (e.type === 'frame') seqs.push(e.seq!);
    });
    fs.closeSync(fd);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'consecutive sequence numbers across the carried frames');
    const tags = () => (store.retrieve('c', { ids: [1, 10], with_payload: true }) as unknown as Array<{ payload: { tag: string } }>).map((p) => p.payload.tag);
    assert.deepEqual(tags(), ['q20', 'q29']);
    await store.close();
    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 40);
    assert.deepEqual((reopened.retrieve('c', { ids: [1, 10], with_payload: true }) as unknown as Array<{ payload: { tag: string } }>).map((p) => p.payload.tag), ['q20', 'q29']);
    await reopened.close();
  });

  it('persists aliases, payload indexes and deletions of collections', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 3);
    store.createCollection('gone', { vectors: { size: 2, distance: 'Cosine' } });
    store.updateAliases({ actions: [{ create_alias: { collection_name: 'c', alias_name: 'live' } }, { create_alias: { collection_name: 'gone', alias_name: 'old' } }] });
    store.createIndex('c', { field_name: 'tag', field_schema: 'keyword' }, WAIT);
    store.updateCollection('c', { vectors: { v: { hnsw_config: { m: 4 } } }, optimizers_config: { indexing_threshold: 7 } });
    assert.equal(store.deleteCollection('gone'), true);
    assert.equal(store.deleteCollection('gone'), false);
    await store.close();

    const reopened = Store.open(dir);
    assert.deepEqual(reopened.listCollections(), { collections: [{ name: 'c' }] });
    assert.deepEqual(reopened.listAliases(), { aliases: [{ alias_name: 'live', collection_name: 'c' }] });
    assert.equal(reopened.count('live', { filter: { must: [{ key: 'tag', match: { value: 'a' } }] } }).count, 3);
    const info = reopened.info('c') as { payload_schema: Record<string, unknown>; config: { params: { vectors: Record<string, { hnsw_config?: { m: number } }> }; optimizer_config: { indexing_threshold: number } } };
    assert.deepEqual(info.payload_schema.tag, { data_type: 'keyword', points: 3 });
    assert.equal(info.config.params.vectors.v!.hnsw_config?.m, 4);
    assert.equal(info.config.optimizer_config.indexing_threshold, 7);
    await reopened.close();
  });

  it('takes over the lock of a process that no longer exists, and refuses a live one', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'collections'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'store.lock'), '999999999');
    const store = Store.open(dir);
    await store.close();
    fs.writeFileSync(path.join(dir, 'store.lock'), String(process.ppid));
    assert.throws(() => Store.open(dir), /in use by process/);
  });

  it('keeps vectors in typed columns: raw vector bytes are accounted exactly', async () => {
    const dir = tempDir();
    const store = await seeded(dir, 7);
    assert.equal(store.vectorBytes(), 7 * 4 * 4);
    await store.close();
  });
});
