/**
 * HTTP behaviour specific to the embedded server: api-key enforcement, unknown routes,
 * wait=false acknowledgement and shutdown.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startEmbeddedStore } from '../../services/store/index.ts';

describe('embedded store server', () => {
  it('checks the api key like Qdrant, leaving health probes open', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-srv-'));
    const store = await startEmbeddedStore({ dataDir, apiKey: 's3cret' });
    try {
      assert.match(store.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const anonymous = await fetch(`${store.url}/collections`);
      assert.equal(anonymous.status, 401);
      assert.match(((await anonymous.json()) as { status: { error: string } }).status.error, /API key/);
      const wrong = await fetch(`${store.url}/collections`, { headers: { 'api-key': 'nope' } });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const health = await fetch(`${store.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'healthz check passed');

      const client = new QdrantClient({ url: store.url, apiKey: 's3cret', checkCompatibility: false });
      assert.deepEqual(await client.getCollections(), { collections: [] });
      const bearer = await fetch(`${store.url}/collections`, { headers: { authorization: 'Bearer s3cret' } });
      assert.equal(bearer.status, 200);
      await bearer.body?.cancel();
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers unknown paths with 404, wrong methods with 405, and wait=false with "acknowledged"', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-srv-'));
    const store = await startEmbeddedStore({ dataDir });
    try {
      const unknown = await fetch(`${store.url}/no/such/thing`);
      assert.equal(unknown.status, 404);
      assert.ok(((await unknown.json()) as { status: { error: string } }).status.error.length > 0);
      const wrongMethod = await fetch(`${store.url}/collections`, { method: 'DELETE' });
      assert.equal(wrongMethod.status, 405);
      await wrongMethod.body?.cancel();

      const client = new QdrantClient({ url: store.url, checkCompatibility: false });
      await client.createCollection('c', { vectors: { size: 2, distance: 'Cosine' } });
      const res = await client.upsert('c', { wait: false, points: [{ id: 1, vector: [1, 0] }] });
      assert.equal(res.status, 'acknowledged');
      assert.equal((await client.count('c', {})).count, 1);
      const body = (await (await fetch(`${store.url}/collections/c`)).json()) as { status: string; time: number; result: { points_count: number } };
      assert.equal(body.status, 'ok');
      assert.equal(typeof body.time, 'number');
      assert.equal(body.result.points_count, 1);
    } finally {
      await store.close();
    }
    await assert.rejects(fetch(`${store.url}/healthz`), 'the port is closed after close()');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});
