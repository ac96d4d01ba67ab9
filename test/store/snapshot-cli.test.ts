/**
 * `clipstream store snapshot` against a store server: create with --out, list, delete,
 * recover from the downloaded file (uploaded) after the collection changed, and a clear error
 * for a collection that does not exist.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startEmbeddedStore, type EmbeddedStore } from '../../services/store/index.ts';

const run = promisify(execFile);
const bin = path.join(import.meta.dirname, '..', '..', 'bin', 'clipstream.mjs');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-snapcli-'));
let store: EmbeddedStore;
let client: QdrantClient;

before(async () => {
  store = await startEmbeddedStore({ dataDir: path.join(work, 'store'), port: 0 });
  client = new QdrantClient({ url: store.url, checkCompatibility: false });
  await client.createCollection('cat', { vectors: { size: 2, distance: 'Dot' } });
  await client.upsert('cat', { wait: true, points: [1, 2, 3, 4].map((id) => ({ id, vector: [id, 1], payload: { id } })) });
});
after(async () => {
  await store.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const env = { ...process.env, DATA_DIR: path.join(work, 'data'), QDRANT_URL: '', QDRANT_API_KEY: '', LOG_LEVEL: 'silent' };
const cli = (...args: string[]) => run(process.execPath, [bin, 'store', 'snapshot', ...args, '--url', store.url, '--collection', 'cat'], { env });

describe('clipstream store snapshot', () => {
  it('creates and downloads, lists, recovers from the file, deletes', async () => {
    const file = path.join(work, 'cat.snapshot');
    const created = await cli('create', '--out', file);
    const [name] = created.stdout.split('\t');
    assert.match(name ?? '', /^cat-\d+-[\d-]+\.snapshot$/);
    assert.match(created.stdout, /saved \d+ bytes to/);
    assert.ok(fs.statSync(file).size > 0);

    const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<{ name: string }>;
    assert.deepEqual(listed.map((s) => s.name), [name]);

    await client.delete('cat', { wait: true, points: [1, 2, 3] });
    const recovered = await cli('recover', '--from', file);
    assert.match(recovered.stdout, /recovered cat: 4 points/);
    assert.equal((await client.count('cat', { exact: true })).count, 4);

    await cli('delete', name!);
    assert.deepEqual(await client.listSnapshots('cat'), []);
  });

  it('takes a full snapshot and restores it offline into a data directory', async () => {
    const file = path.join(work, 'full.snapshot');
    const created = await cli('create', '--full', '--out', file);
    assert.match(created.stdout, /^full-snapshot-[\d-]+\.snapshot\t/);
    const target = path.join(work, 'restored');
    const restored = await run(process.execPath, [bin, 'store', 'snapshot', 'recover-full', '--data', target, '--from', file], { env });
    assert.match(restored.stdout, /recovered 1 collection\(s\) \(cat\) and 0 alias\(es\)/);
    const reopened = await startEmbeddedStore({ dataDir: target, port: 0 });
    const c = new QdrantClient({ url: reopened.url, checkCompatibility: false });
    assert.equal((await c.count('cat', { exact: true })).count, 4);
    await reopened.close();
  });

  it('names the collection and the server when a call fails', async () => {
    const err = await run(process.execPath, [bin, 'store', 'snapshot', 'create', '--url', store.url, '--collection', 'nope'], { env }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.ok(err, 'the command fails');
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, /collection nope at http:\/\/127\.0\.0\.1:\d+ failed: Not found: Collection `nope` doesn't exist!/);
  });
});
