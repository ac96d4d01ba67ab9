/**
 * Collection snapshots through @qdrant/js-client-rest (createSnapshot, listSnapshots,
 * recoverSnapshot, deleteSnapshot) and plain HTTP (download, multipart upload): shapes as in
 * Qdrant 1.19's spec, a round trip that brings back exactly the state at the snapshot (dense and
 * sparse vectors, payloads, payload indexes, configuration), a snapshot taken while writes go on
 * (it holds a prefix of them including every one acknowledged before the request), refusals
 * with their reasons, and what a crash mid-snapshot or mid-recovery leaves behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import { startTestStore, type TestStore } from '../support/store.ts';
import { Store } from '../../services/store/engine/store.ts';
import { once } from 'node:events';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startStoreProcess } from '../support/store-process.ts';

let ts: TestStore;
let client: QdrantClient;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-snap-test-'));

before(async () => {
  ts = await startTestStore();
  client = ts.client;
});
after(async () => {
  await ts.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const dense = (id: number) => [((id * 7) % 13) / 4 - 1, ((id * 3) % 5) / 2 - 1, (id % 4) / 2, 1];
const sparse = (id: number) => ({ indices: [id % 7, 10 + (id % 3)], values: [1 + (id % 5) / 4, 0.5] });
const point = (id: number) => ({ id, vector: { d: dense(id), s: sparse(id) }, payload: { n: id, tag: `t${id % 3}` } });

async function makeCollection(name: string, ids: number[]): Promise<void> {
  await client.createCollection(name, { vectors: { d: { size: 4, distance: 'Dot' } }, sparse_vectors: { s: { modifier: 'idf' } } });
  await client.createPayloadIndex(name, { field_name: 'tag', field_schema: 'keyword', wait: true });
  for (let i = 0; i < ids.length; i += 50) await client.upsert(name, { wait: true, points: ids.slice(i, i + 50).map(point) });
}

/** Every point with vectors and payload, in id order. */
async function everything(name: string) {
  const { points } = await client.scroll(name, { limit: 100_000, with_payload: true, with_vector: true });
  return points;
}

const restUrl = (p: string) => `${ts.url}${p}`;
/**
 * Where the server keeps a snapshot: under the embedded store's data directory, or (a real
 * Qdrant in its container) under QDRANT_SNAPSHOTS_PATH, by default /qdrant/snapshots.
 */
const snapshotPath = (collection: string, snapshot: string) =>
  path.join(ts.external ? (process.env.QDRANT_SNAPSHOTS_PATH ?? '/qdrant/snapshots') : path.join(ts.dataDir ?? '', 'snapshots'), collection, snapshot);

describe('collection snapshots', () => {
  it('create, list, download and delete with the shapes of the spec', async () => {
    const name = ts.name('snap_shapes');
    await makeCollection(name, [1, 2, 3]);
    assert.deepEqual(await client.listSnapshots(name), []);
    const made = await client.createSnapshot(name);
    assert.ok(made);
    assert.match(made.name, new RegExp(`^${name}-\\d+-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d-\\d\\d\\.snapshot$`));
    assert.match(made.creation_time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.deepEqual(await client.listSnapshots(name), [made]);

    const res = await fetch(restUrl(`/collections/${name}/snapshots/${made.name}`));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.length, made.size);
    assert.equal(made.checksum, createHash('sha256').update(bytes).digest('hex'));

    // The embedded store's format: a tar of the manifest, the configuration and the log.
    const file = path.join(tmp, 'shapes.snapshot');
    fs.writeFileSync(file, bytes);
    const entries: string[] = [];
    await tar.list({ file, onReadEntry: (e) => void entries.push(e.path) });
    if (!ts.external) assert.deepEqual(entries, ['manifest.json', 'meta.json', 'points-00000001.log']);

    assert.equal(await client.deleteSnapshot(name, made.name), true);
    assert.deepEqual(await client.listSnapshots(name), []);
    const gone = await fetch(restUrl(`/collections/${name}/snapshots/${made.name}`));
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { status: { error: string } }).status.error, /Snapshot .* not found/);
  });

  it('recovering from a file:// location brings back exactly the state at the snapshot', async () => {
    const name = ts.name('snap_roundtrip');
    await makeCollection(name, Array.from({ length: 120 }, (_, i) => i + 1));
    await client.createPayloadIndex(name, { field_name: 'n', field_schema: 'integer', wait: true });
    const before = await everything(name);
    const infoBefore = await client.getCollection(name);
    const snap = (await client.createSnapshot(name))!;

    // Change everything the snapshot holds.
    await client.delete(name, { wait: true, points: [1, 2, 3] });
    await client.upsert(name, { wait: true, points: [point(500)] });
    await client.setPayload(name, { wait: true, points: [10], payload: { extra: true } });
    await client.deletePayloadIndex(name, 'n', { wait: true });
    assert.notDeepEqual(await everything(name), before);

    const location = `file://${snapshotPath(name, snap.name)}`;
    assert.equal(await client.recoverSnapshot(name, { location, checksum: snap.checksum ?? null }), true);
    assert.deepEqual(await everything(name), before);
    const infoAfter = await client.getCollection(name);
    assert.deepEqual(infoAfter.config, infoBefore.config);
    assert.deepEqual(infoAfter.payload_schema, infoBefore.payload_schema);
    assert.equal(infoAfter.points_count, 120);
    // Sparse IDF statistics are rebuilt: a sparse query ranks as before.
    const q = { query: { indices: [3, 11], values: [1, 1] }, using: 's', limit: 5 };
    const after = (await client.query(name, q)).points;
    assert.equal(after.length, 5);
    // And the recovered collection takes writes.
    await client.upsert(name, { wait: true, points: [point(121)] });
    assert.equal((await client.count(name, { exact: true })).count, 121);
  });

  it('recovers into a new collection from an upload and from an http URL', async () => {
    const name = ts.name('snap_source');
    await makeCollection(name, [1, 2, 3, 4, 5]);
    const want = await everything(name);
    const snap = (await client.createSnapshot(name))!;
    const bytes = Buffer.from(await (await fetch(restUrl(`/collections/${name}/snapshots/${snap.name}`))).arrayBuffer());

    const uploaded = ts.name('snap_uploaded');
    const form = new FormData();
    form.append('snapshot', new Blob([bytes]), snap.name);
    const res = await fetch(restUrl(`/collections/${uploaded}/snapshots/upload?priority=snapshot&checksum=${snap.checksum}`), { method: 'POST', body: form });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { result: boolean }).result, true);
    assert.deepEqual(await everything(uploaded), want);
    assert.equal((await client.getCollection(uploaded)).config.params.sparse_vectors?.s?.modifier, 'idf');

    const fetched = ts.name('snap_fetched');
    assert.equal(await client.recoverSnapshot(fetched, { location: restUrl(`/collections/${name}/snapshots/${snap.name}`), priority: 'no_sync' }), true);
    assert.deepEqual(await everything(fetched), want);
  });

  it('a snapshot taken while writes go on holds a prefix of them, with every acknowledged one', async () => {
    const name = ts.name('snap_busy');
    await makeCollection(name, []);
    let next = 1;
    let acknowledged = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const ids = Array.from({ length: 20 }, () => next++);
        await client.upsert(name, { wait: false, points: ids.map(point) });
        acknowledged = ids[ids.length - 1]!;
      }
    })();
    while (acknowledged < 400) await new Promise((r) => setTimeout(r, 5));
    const ackedBefore = acknowledged;
    const snap = (await client.createSnapshot(name))!;
    const issuedAfter = next - 1;
    while (acknowledged < issuedAfter + 200) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await writer;

    const copy = ts.name('snap_busy_copy');
    await client.recoverSnapshot(copy, { location: `file://${snapshotPath(name, snap.name)}` });
    const points = await everything(copy);
    const ids = points.map((p) => Number(p.id));
    assert.ok(ids.length >= ackedBefore, `${ids.length} points, ${ackedBefore} acknowledged before the snapshot`);
    assert.ok(ids.length <= issuedAfter, `${ids.length} points, only ${issuedAfter} sent before it was answered`);
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), 'a prefix of the writes');
    for (const p of points) assert.deepEqual(p.payload, point(Number(p.id)).payload);
    assert.ok((await client.count(name, { exact: true })).count > ids.length, 'the source went on');
  });

  it('wait=false answers 202 and the snapshot appears', async () => {
    const name = ts.name('snap_nowait');
    await makeCollection(name, [1]);
    const res = await fetch(restUrl(`/collections/${name}/snapshots?wait=false`), { method: 'POST' });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { status: string }).status, 'accepted');
    let listed = await client.listSnapshots(name);
    while (listed.length === 0) {
      await new Promise((r) => setTimeout(r, 10));
      listed = await client.listSnapshots(name);
    }
    assert.equal(listed.length, 1);
    const deleted = await fetch(restUrl(`/collections/${name}/snapshots/${listed[0]!.name}?wait=false`), { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    while ((await client.listSnapshots(name)).length > 0) await new Promise((r) => setTimeout(r, 10));
  });

  it('refuses bad locations, checksums and files with the reason', async () => {
    const name = ts.name('snap_refusals');
    await makeCollection(name, [1, 2]);
    const snap = (await client.createSnapshot(name))!;
    const file = snapshotPath(name, snap.name);
    const recover = async (body: unknown) => {
      const res = await fetch(restUrl(`/collections/${name}/snapshots/recover`), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, error: ((await res.json()) as { status: { error?: string } }).status.error ?? '' };
    };
    assert.deepEqual(await recover({ location: 'file://whatever.snapshot' }), { status: 400, error: 'Bad request: Invalid snapshot URI, file path must be absolute or on localhost' });
    assert.deepEqual(await recover({ location: 'file:///whatever.snapshot' }), { status: 400, error: 'Bad request: Snapshot file "/whatever.snapshot" does not exist' });
    assert.deepEqual(await recover({ location: 'file://localhost/whatever.snapshot' }), { status: 400, error: 'Bad request: Snapshot file "/whatever.snapshot" does not exist' });
    const wrong = await recover({ location: `file://${file}`, checksum: '0'.repeat(64) });
    assert.equal(wrong.status, 400);
    assert.match(wrong.error, new RegExp(`checksum mismatch: expected 0{64}, got ${snap.checksum}`));
    assert.equal((await recover({})).status, 400, 'location is required');

    const missing = await fetch(restUrl(`/collections/${ts.name('nope')}/snapshots`), { method: 'POST' });
    assert.equal(missing.status, 404);
    const traversal = await fetch(restUrl(`/collections/${name}/snapshots/${encodeURIComponent('../x.snapshot')}`));
    assert.ok(traversal.status === 400 || traversal.status === 404, `status ${traversal.status}`);
    // What follows needs files the server can read, and the embedded store's own wording.
    if (ts.external) return;
    const junk = path.join(tmp, 'junk.snapshot');
    fs.writeFileSync(junk, 'not a tar at all'.repeat(100));
    assert.match((await recover({ location: `file://${junk}` })).error, /cannot be recovered: .*not a readable tar|has no manifest/);

    // A Qdrant server's snapshot (config.json and shard folders): named for what it is.
    const qdrantLike = path.join(tmp, 'qdrant-like');
    fs.mkdirSync(path.join(qdrantLike, '0'), { recursive: true });
    fs.writeFileSync(path.join(qdrantLike, 'config.json'), '{}');
    fs.writeFileSync(path.join(qdrantLike, '0', 'x'), 'x');
    await tar.create({ cwd: qdrantLike, file: path.join(tmp, 'qdrant.snapshot') }, ['config.json', '0']);
    assert.match((await recover({ location: `file://${path.join(tmp, 'qdrant.snapshot')}` })).error, /no manifest\.json.*snapshot of a Qdrant server/);

    // One byte of the log flipped inside the archive: the manifest's checksum catches it.
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    await tar.extract({ file, cwd: unpacked });
    const log = path.join(unpacked, 'points-00000001.log');
    const bytes = fs.readFileSync(log);
    bytes[bytes.length - 3]! ^= 0xff;
    fs.writeFileSync(log, bytes);
    await tar.create({ cwd: unpacked, file: path.join(tmp, 'damaged.snapshot') }, ['manifest.json', 'meta.json', 'points-00000001.log']);
    const damaged = await recover({ location: `file://${path.join(tmp, 'damaged.snapshot')}` });
    assert.equal(damaged.status, 400);
    assert.match(damaged.error, /points-00000001\.log has sha256 \w+, the manifest says \w+ \(the file is damaged\)/);
    // None of the refusals touched the collection.
    assert.equal((await client.count(name, { exact: true })).count, 2);
  });
});

describe('shard snapshots (shard 0)', () => {
  it('list, create, download, recover, delete; other shards and traversal attempts are 404', async () => {
    const name = ts.name('snap_shard');
    await makeCollection(name, [1, 2, 3]);
    const base = `/collections/${name}/shards/0/snapshots`;
    const list = async () => ((await (await fetch(restUrl(base))).json()) as { result: Array<{ name: string; checksum: string }> }).result;
    assert.deepEqual(await list(), []);
    const created = (await (await fetch(restUrl(`${base}?wait=true`), { method: 'POST' })).json()) as { result: { name: string; checksum: string; size: number } };
    assert.deepEqual((await list()).map((s) => s.name), [created.result.name]);
    assert.deepEqual(await client.listSnapshots(name), [], 'kept apart from the collection snapshots');
    const bytes = Buffer.from(await (await fetch(restUrl(`${base}/${created.result.name}`))).arrayBuffer());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), created.result.checksum);

    await client.delete(name, { wait: true, points: [1] });
    const recover = (body: unknown, shard = '0', collection = name) =>
      fetch(restUrl(`/collections/${collection}/shards/${shard}/snapshots/recover`), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await recover({ location: restUrl(`${base}/${created.result.name}`), checksum: '3'.repeat(64) })).status, 400);
    assert.equal((await recover({ location: restUrl(`${base}/${created.result.name}`), checksum: created.result.checksum })).status, 200);
    assert.equal((await client.count(name, { exact: true })).count, 3);
    assert.equal((await recover({ location: 'whatever' }, '0', ts.name('nope'))).status, 404);
    assert.equal((await recover({ location: 'file:///whatever.snapshot' })).status, 400);
    assert.equal((await fetch(restUrl(`/collections/${name}/shards/1/snapshots`))).status, 404);
    assert.equal((await fetch(restUrl(`${base}/..%2F..%2F..%2Fetc%2Fpasswd`))).status, 404);

    const deleted = await fetch(restUrl(`${base}/${created.result.name}?wait=false`), { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    while ((await list()).length > 0) await new Promise((r) => setTimeout(r, 10));
  });
});

describe('full snapshots', () => {
  it('create, list, download and delete every collection and alias at once (js client)', async () => {
    const a = ts.name('full_a');
    const b = ts.name('full_b');
    await makeCollection(a, [1, 2, 3]);
    await makeCollection(b, [7, 8]);
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: a, alias_name: ts.name('full_alias') } }] });
    const before = (await client.listFullSnapshots()).length;
    const made = await client.createFullSnapshot({ wait: true });
    assert.match(made.name, /^full-snapshot-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot$/);
    assert.ok((await client.listFullSnapshots()).some((s) => s.name === made.name));
    assert.equal((await client.listFullSnapshots()).length, before + 1);
    const res = await fetch(restUrl(`/snapshots/${made.name}`));
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.length, made.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), made.checksum);

    if (!ts.external) {
      // Restored offline into another data directory: both collections, their points and the alias.
      const file = path.join(tmp, 'full.snapshot');
      fs.writeFileSync(file, bytes);
      const target = fs.mkdtempSync(path.join(tmp, 'full-target-'));
      const other = Store.open(target);
      const done = await other.fullSnapshots.recover(file);
      assert.ok(done.collections.includes(a) && done.collections.includes(b));
      assert.equal(other.count(a, { exact: true }).count, 3);
      assert.equal(other.count(ts.name('full_alias'), { exact: true }).count, 3, 'the alias came along');
      assert.deepEqual(other.scroll(b, { with_payload: true }).points.map((p) => p.payload), [point(7).payload, point(8).payload]);
      await other.close();
    }
    assert.equal(await client.deleteFullSnapshot(made.name), true);
    assert.ok(!(await client.listFullSnapshots()).some((s) => s.name === made.name));
  });
});

describe('snapshots and crashes (engine)', () => {
  it('an interrupted snapshot or recovery leaves nothing listed and is cleaned at open', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'crash-'));
    let store = Store.open(dataDir);
    store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    await store.upsert('c', { points: [{ id: 1, vector: [1, 0, 0, 0] }] }, { wait: true });
    const good = await store.snapshots.create('c');
    // What a kill in the middle leaves: a staging directory, a checksum whose snapshot was never
    // renamed into place, a half-downloaded file, a half-extracted recovery.
    const snapDir = path.join(dataDir, 'snapshots', 'c');
    fs.mkdirSync(path.join(snapDir, '.tmp-abc'));
    fs.writeFileSync(path.join(snapDir, '.tmp-abc', 'snapshot.tar'), 'partial');
    fs.writeFileSync(path.join(snapDir, 'c-1-2026-01-01-00-00-00.snapshot.checksum'), 'ff');
    fs.writeFileSync(path.join(dataDir, 'snapshots', '.tmp-download-x'), 'partial');
    fs.mkdirSync(path.join(dataDir, 'collections', '.tmp-recover-x'));
    assert.deepEqual(store.snapshots.list('c').map((s) => s.name), [good.name]);
    await store.close();

    store = Store.open(dataDir);
    assert.deepEqual(fs.readdirSync(snapDir).sort(), [good.name, `${good.name}.checksum`]);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'snapshots')), ['c']);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'collections')).filter((n) => n.startsWith('.')), []);
    assert.equal(store.count('c', { exact: true }).count, 1);
    await store.close();
  });

  it('a compaction replacing the log while a snapshot is read does not disturb it', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'compact-'));
    const store = Store.open(dataDir);
    store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    for (let i = 0; i < 20; i++) await store.upsert('c', { points: [{ id: 1 + (i % 5), vector: [i, 0, 0, 0], payload: { i } }] }, { wait: true });
    const want = store.scroll('c', { with_payload: true, with_vector: true }).points;
    // The snapshot's position is taken synchronously; its file is read afterwards.
    const pending = store.snapshots.create('c');
    const c = store.resolve('c');
    c.compact(); // the log is rewritten into a new generation and the old file removed
    assert.deepEqual(fs.readdirSync(c.dir).filter((n) => n.endsWith('.log')), ['points-00000002.log']);
    await store.upsert('c', { points: [{ id: 99, vector: [9, 9, 9, 9] }] }, { wait: true });
    await store.deletePoints('c', { points: [1] }, { wait: true });
    const snap = await pending;
    await store.snapshots.recover('copy', `file://${path.join(dataDir, 'snapshots', 'c', snap.name)}`);
    assert.deepEqual(store.scroll('copy', { with_payload: true, with_vector: true }).points, want);
    await store.close();
  });

  it('a recovery cut off after its commit point is finished at open', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'replace-'));
    let store = Store.open(dataDir);
    store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    await store.upsert('c', { points: [1, 2, 3].map((id) => ({ id, vector: [id, 0, 0, 0] })) }, { wait: true });
    const snap = await store.snapshots.create('c');
    await store.deletePoints('c', { points: [1, 2] }, { wait: true });
    // A second copy of the collection as recovery makes it, renamed into place (the commit
    // point) with its REPLACES marker, but the process died before the old directory went.
    const root = path.join(dataDir, 'collections');
    const [oldDir] = fs.readdirSync(root);
    await store.snapshots.recover('c', `file://${path.join(dataDir, 'snapshots', 'c', snap.name)}`);
    const [newDir] = fs.readdirSync(root).filter((n) => !n.startsWith('.'));
    await store.close();
    assert.notEqual(newDir, oldDir);
    fs.rmSync(path.join(root, `.deleted-${oldDir}`), { recursive: true, force: true });
    // Recreate the crash state: the old directory still there, the new one marked.
    const restored = fs.mkdtempSync(path.join(tmp, 'old-'));
    const oldStore = Store.open(restored);
    oldStore.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    await oldStore.close();
    const [made] = fs.readdirSync(path.join(restored, 'collections'));
    fs.renameSync(path.join(restored, 'collections', made!), path.join(root, oldDir!));
    fs.writeFileSync(path.join(root, newDir!, 'REPLACES'), JSON.stringify(oldDir));

    store = Store.open(dataDir);
    assert.deepEqual(fs.readdirSync(root).filter((n) => !n.startsWith('.')), [newDir]);
    assert.equal(store.count('c', { exact: true }).count, 3);
    await store.close();
  });
});

describe('snapshots and a killed process', () => {
  const serve = (dataDir: string) => startStoreProcess(dataDir, { stderr: 'ignore' });

  it('a SIGKILL while snapshots are being taken leaves only complete, recoverable snapshots', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'kill-'));
    let s = await serve(dataDir);
    await s.client.createCollection('big', { vectors: { size: 128, distance: 'Dot' } });
    for (let i = 0; i < 4000; i += 500) {
      await s.client.upsert('big', { wait: true, points: Array.from({ length: 500 }, (_, j) => ({ id: i + j + 1, vector: Array.from({ length: 128 }, (_, k) => ((i + j + k) % 7) - 3) })) });
    }
    // Kill at a few moments after snapshot requests have gone out (wherever each one has got to).
    for (const delay of [0, 5, 30, 300]) {
      const requests = [1, 2].map(() => fetch(`${s.url}/collections/big/snapshots`, { method: 'POST' }).catch(() => null));
      await new Promise((r) => setTimeout(r, delay));
      s.child.kill('SIGKILL');
      await once(s.child, 'exit');
      await Promise.all(requests);
      s = await serve(dataDir);
      assert.equal((await s.client.count('big', { exact: true })).count, 4000);
    }
    const listed = await s.client.listSnapshots('big');
    for (const snap of listed) {
      const bytes = fs.readFileSync(path.join(dataDir, 'snapshots', 'big', snap.name));
      assert.equal(bytes.length, snap.size);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), snap.checksum);
      const copy = `copy_${listed.indexOf(snap)}`;
      await s.client.recoverSnapshot(copy, { location: `file://${path.join(dataDir, 'snapshots', 'big', snap.name)}` });
      assert.equal((await s.client.count(copy, { exact: true })).count, 4000);
    }
    // Nothing half-made is left behind.
    const snapDir = path.join(dataDir, 'snapshots', 'big');
    const leftovers = (fs.existsSync(snapDir) ? fs.readdirSync(snapDir) : []).filter((n) => n.startsWith('.') || (n.endsWith('.checksum') && !listed.some((l) => `${l.name}.checksum` === n)));
    assert.deepEqual(leftovers, []);
    s.child.kill('SIGKILL');
    await once(s.child, 'exit');
  });

  it('a SIGKILL during a recovery leaves the old collection or the recovered one, never both or neither', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'kill-recover-'));
    let s = await serve(dataDir);
    await s.client.createCollection('big', { vectors: { size: 128, distance: 'Dot' } });
    for (let i = 0; i < 4000; i += 500) {
      await s.client.upsert('big', { wait: true, points: Array.from({ length: 500 }, (_, j) => ({ id: i + j + 1, vector: Array.from({ length: 128 }, (_, k) => ((i + j + k) % 5) - 2) })) });
    }
    const snap = (await s.client.createSnapshot('big'))!;
    const location = `file://${path.join(dataDir, 'snapshots', 'big', snap.name)}`;
    await s.client.delete('big', { wait: true, points: Array.from({ length: 1000 }, (_, i) => i + 1) });
    for (const delay of [0, 5, 30, 300]) {
      const request = fetch(`${s.url}/collections/big/snapshots/recover`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ location }) }).catch(() => null);
      await new Promise((r) => setTimeout(r, delay));
      s.child.kill('SIGKILL');
      await once(s.child, 'exit');
      await request;
      s = await serve(dataDir);
      const count = (await s.client.count('big', { exact: true })).count;
      assert.ok(count === 3000 || count === 4000, `after a kill ${delay} ms in: ${count} points`);
      // One directory per collection, no half-made ones, no pending replacement.
      const dirs = fs.readdirSync(path.join(dataDir, 'collections'));
      assert.deepEqual(dirs.filter((d) => d.startsWith('.tmp-') || fs.existsSync(path.join(dataDir, 'collections', d, 'REPLACES'))), []);
      assert.equal(dirs.filter((d) => !d.startsWith('.')).length, 1);
      if (count === 4000) await s.client.delete('big', { wait: true, points: Array.from({ length: 1000 }, (_, i) => i + 1) });
    }
    s.child.kill('SIGKILL');
    await once(s.child, 'exit');
  });
});
