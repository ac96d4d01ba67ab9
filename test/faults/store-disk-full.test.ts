/**
 * The store on a volume that fills up (a real, small tmpfs): a write the disk refuses answers
 * 507 with a clear message, is never visible to reads, turns the collection red with the reason;
 * once space is freed writes work again without a restart; closing while a write is failing
 * leaves no store.lock behind; and what reads showed is exactly what a reopened store holds.
 * Mounting needs root: where it is impossible the test says why and skips.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedStore } from '../../services/store/index.ts';
import { Store } from '../../services/store/engine/store.ts';
import { StoreError } from '../../services/store/engine/errors.ts';

const MOUNT_BYTES = 8 * 1024 * 1024;
const DIM = 64;
const BATCH = 200;

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-disk-full-'));
let mounted = false;
let cannotMount = '';

before(() => {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_BYTES}`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (r.status === 0) mounted = true;
  else cannotMount = `cannot mount a tmpfs at ${mountPoint} (${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}); the disk-full drill needs root`;
});

after(() => {
  // Lazily: a store a failed assertion left open must not keep the mount (and the folder) around.
  if (mounted) spawnSync('umount', ['-l', mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

const vectorFor = (id: number) => Array.from({ length: DIM }, (_, d) => ((id * 31 + d * 7) % 17) / 4 - 2);
const batchOf = (first: number) => ({ points: Array.from({ length: BATCH }, (_, i) => ({ id: first + i, vector: vectorFor(first + i), payload: { id: first + i } })) });
const idsOf = (first: number) => Array.from({ length: BATCH }, (_, i) => first + i);

/** Fills the volume up to `leave` free bytes with a file of its own (removed to free space). */
function fillUp(dir: string, leave: number): string {
  const ballast = path.join(dir, `ballast-${Date.now()}`);
  const free = () => {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  };
  const fd = fs.openSync(ballast, 'w');
  try {
    for (const chunk of [Buffer.alloc(64 * 1024, 1), Buffer.alloc(4096, 1)]) while (free() >= leave + chunk.length) fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
  return ballast;
}

async function json(res: Response): Promise<{ result?: unknown; status: unknown }> {
  return (await res.json()) as { result?: unknown; status: unknown };
}

describe('store on a full disk', () => {
  it('refuses the write with 507, shows none of it, goes red, and takes writes again once space is freed', async (t) => {
    if (!mounted) return t.skip(cannotMount);
    const dataDir = path.join(mountPoint, 'http');
    const store = await startEmbeddedStore({ dataDir });
    const put = (p: string, body: unknown) => fetch(`${store.url}${p}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const post = (p: string, body: unknown) => fetch(`${store.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    let ballast = '';
    try {
      assert.equal((await put('/collections/c', { vectors: { size: DIM, distance: 'Dot' } })).status, 200);
      const acked: number[] = [];
      let next = 1;
      // Room for a few batches (each ~70 KB in the log), then none.
      ballast = fillUp(mountPoint, 300 * 1024);
      let refused: { first: number; status: number; error: string } | undefined;
      for (let attempt = 0; attempt < 50 && !refused; attempt++) {
        const first = next;
        next += BATCH;
        const res = await put('/collections/c/points?wait=true', batchOf(first));
        const body = await json(res);
        if (res.status === 200) acked.push(...idsOf(first));
        else refused = { first, status: res.status, error: (body.status as { error: string }).error };
      }
      assert.ok(refused, 'the volume filled up');
      assert.ok(acked.length > 0, 'some batches fitted before it did');
      assert.equal(refused.status, 507);
      assert.match(refused.error, /^Insufficient storage: no space left on the device writing .*points-\d+\.log \(ENOSPC\); the operation was not applied/);

      // Not visible: neither the refused batch nor anything else beyond what was acknowledged.
      const count = (await json(await post('/collections/c/points/count', { exact: true }))).result as { count: number };
      assert.equal(count.count, acked.length);
      const refusedIds = idsOf(refused.first);
      assert.deepEqual((await json(await post('/collections/c/points', { ids: refusedIds }))).result, []);
      const info = (await json(await fetch(`${store.url}/collections/c`))).result as { status: string; optimizer_status: { error: string } | string };
      assert.equal(info.status, 'red');
      assert.match((info.optimizer_status as { error: string }).error, /no space left|ENOSPC/i);
      assert.match((info.optimizer_status as { error: string }).error, /the next write retries \(\d+ KiB free on the volume now\)/);

      // wait=false and concurrent writes are refused the same way while the disk stays full.
      const stillFull = await Promise.all([next, next + BATCH, next + 2 * BATCH].map((first) => put('/collections/c/points?wait=false', batchOf(first))));
      next += 3 * BATCH;
      for (const res of stillFull) {
        await res.body?.cancel();
        assert.equal(res.status, 507);
      }

      // Space freed: the very same batch goes in, without a restart, and the status is green again.
      fs.rmSync(ballast);
      ballast = '';
      const retry = await put('/collections/c/points?wait=true', batchOf(refused.first));
      assert.equal(retry.status, 200, JSON.stringify(await json(retry)));
      acked.push(...refusedIds);
      const green = (await json(await fetch(`${store.url}/collections/c`))).result as { status: string; optimizer_status: unknown; points_count: number };
      assert.equal(green.status, 'green');
      assert.equal(green.optimizer_status, 'ok');
      assert.equal(green.points_count, acked.length);
      const seen = (await json(await post('/collections/c/points/scroll', { limit: 100_000, with_payload: false }))).result as { points: Array<{ id: number }> };
      assert.deepEqual(seen.points.map((p) => p.id).sort((a, b) => a - b), [...acked].sort((a, b) => a - b));
    } finally {
      if (ballast) fs.rmSync(ballast, { force: true });
      await store.close();
    }
    assert.equal(fs.existsSync(path.join(dataDir, 'store.lock')), false);

    // What reads showed is what the disk holds.
    const reopened = Store.open(dataDir);
    try {
      const ids = (reopened.scroll('c', { limit: 100_000, with_payload: false }).points as Array<{ id: number }>).map((p) => p.id);
      assert.equal(ids.length, reopened.count('c', {}).count);
      const info = reopened.info('c') as { status: string; points_count: number };
      assert.equal(info.status, 'green');
      const [p] = reopened.retrieve('c', { ids: [ids[ids.length - 1]!], with_vector: true }) as Array<{ id: number; vector: number[] }>;
      assert.deepEqual(p!.vector, vectorFor(p!.id));
    } finally {
      await reopened.close();
    }
  });

  it('closes while a write is failing without leaving store.lock, and reopens with exactly the acknowledged points', async (t) => {
    if (!mounted) return t.skip(cannotMount);
    const dataDir = path.join(mountPoint, 'close');
    const store = Store.open(dataDir);
    store.createCollection('c', { vectors: { size: DIM, distance: 'Dot' } });
    await store.upsert('c', batchOf(1), { wait: true });
    const ballast = fillUp(mountPoint, 16 * 1024);
    let closing: Promise<void> | undefined;
    try {
      // Several writes in flight when the disk refuses: each is refused, none is applied.
      const writes = [1001, 2001, 3001].map((first) => store.upsert('c', batchOf(first), { wait: false }).then(() => null, (err: unknown) => err));
      closing = store.close();
      const outcomes = await Promise.all(writes);
      for (const err of outcomes) {
        assert.ok(err instanceof StoreError, `refused: ${String(err)}`);
        assert.equal(err.status, 507);
      }
      await closing;
      assert.equal(fs.existsSync(path.join(dataDir, 'store.lock')), false, 'no lock left behind');
    } finally {
      fs.rmSync(ballast, { force: true });
      await (closing ?? store.close()).catch(() => {});
    }
    const reopened = Store.open(dataDir);
    try {
      assert.equal(reopened.count('c', {}).count, BATCH);
      assert.deepEqual(reopened.retrieve('c', { ids: [1001, 2001, 3001] }), []);
      await reopened.upsert('c', batchOf(1001), { wait: true });
      assert.equal(reopened.count('c', {}).count, 2 * BATCH);
    } finally {
      await reopened.close();
    }
  });

  it('refuses metadata writes on a full disk with 507 and keeps the previous state', async (t) => {
    if (!mounted) return t.skip(cannotMount);
    const dataDir = path.join(mountPoint, 'meta');
    const store = Store.open(dataDir);
    store.createCollection('c', { vectors: { size: DIM, distance: 'Dot' } });
    const ballast = fillUp(mountPoint, 0);
    try {
      // Fill the last pages too: whatever is left, a new page for meta.json.tmp cannot be had.
      const fd = fs.openSync(path.join(mountPoint, 'crumbs'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(512));
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      assert.throws(() => store.createIndex('c', { field_name: 'id', field_schema: 'integer' }, { wait: true }), (err: StoreError) => err.status === 507 && /meta\.json/.test(err.message));
      assert.deepEqual((store.info('c') as { payload_schema: unknown }).payload_schema, {}, 'the index is not half made');
      assert.throws(() => store.createCollection('d', { vectors: { size: 2, distance: 'Dot' } }), (err: StoreError) => err.status === 507);
      assert.deepEqual(store.listCollections(), { collections: [{ name: 'c' }] });
      assert.deepEqual(fs.readdirSync(path.join(dataDir, 'collections')).filter((n) => n.startsWith('.')), [], 'no half-made collection left');
      assert.throws(() => store.updateAliases({ actions: [{ create_alias: { collection_name: 'c', alias_name: 'a' } }] }), (err: StoreError) => err.status === 507);
      assert.deepEqual(store.listAliases(), { aliases: [] });
    } finally {
      fs.rmSync(ballast, { force: true });
      fs.rmSync(path.join(mountPoint, 'crumbs'), { force: true });
    }
    store.createIndex('c', { field_name: 'id', field_schema: 'integer' }, { wait: true });
    await store.close();
    const reopened = Store.open(dataDir);
    assert.deepEqual(Object.keys((reopened.info('c') as { payload_schema: object }).payload_schema), ['id']);
    await reopened.close();
  });
});
