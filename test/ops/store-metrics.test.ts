/**
 * The embedded store server's /metrics: points, segments and log bytes per collection as the
 * engine and the disk say, and request latency per endpoint (route pattern, not raw path).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startEmbeddedStore, type EmbeddedStore } from '../../services/store/index.ts';

const KEY = 'store-metrics-key';
let dataDir: string;
let server: EmbeddedStore;
let client: QdrantClient;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-store-metrics-'));
  server = await startEmbeddedStore({ dataDir, port: 0, apiKey: KEY, parseThreads: 0 });
  client = new QdrantClient({ url: server.url, apiKey: KEY, checkCompatibility: false });
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const scrape = async () => {
  const res = await fetch(`${server.url}/metrics`, { headers: { 'api-key': KEY } });
  assert.equal(res.status, 200);
  return res.text();
};
/** The value of the series `name{labels…}` (label order as prom-client writes it does not matter). */
const value = (text: string, name: string, labels: Record<string, string>) => {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.keys(have).length === Object.keys(labels).length + 1 && Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  assert.fail(`${name}${JSON.stringify(labels)} not in:\n${text}`);
};

test('points, segments and log size per collection; latency per endpoint; behind the API key', async () => {
  await client.createCollection('shoes', { vectors: { size: 4, distance: 'Cosine' } });
  await client.createCollection('empty', { vectors: { size: 4, distance: 'Cosine' } });
  const points = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, vector: [1, i, 0.5, 0.25], payload: { n: i } }));
  await client.upsert('shoes', { wait: true, points });
  await client.delete('shoes', { wait: true, points: [7] });
  await fetch(`${server.url}/no/such/route`, { headers: { 'api-key': KEY } });

  const text = await scrape();
  assert.equal(value(text, 'clipstream_store_collections', {}), 2);
  assert.equal(value(text, 'clipstream_store_points', { collection: 'shoes' }), 6);
  assert.equal(value(text, 'clipstream_store_points', { collection: 'empty' }), 0);
  assert.equal(value(text, 'clipstream_store_segments', { collection: 'shoes' }), 1);
  const dir = server.store.resolve('shoes').dir;
  const onDisk = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  assert.ok(onDisk > 0);
  assert.equal(value(text, 'clipstream_store_log_bytes', { collection: 'shoes' }), onDisk);
  assert.equal(value(text, 'clipstream_store_request_duration_seconds_count', { method: 'PUT', endpoint: '/collections/*/points', status: '200' }), 1);
  assert.equal(value(text, 'clipstream_store_request_duration_seconds_count', { method: 'GET', endpoint: 'unmatched', status: '404' }), 1);
  assert.doesNotMatch(text, /endpoint="\/collections\/shoes/, 'labels are route patterns, not raw paths');

  assert.equal((await fetch(`${server.url}/metrics`)).status, 401, '/metrics needs the key, as in Qdrant');
});
