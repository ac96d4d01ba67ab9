/**
 * The store server with an api key, attacked with the request-target tricks that bypassed the
 * query service's key check: percent-encoded and double-encoded paths, `;` path parameters, `..`
 * and `.` segments, mixed case, doubled slashes and absolute-form targets, each sent raw over a
 * socket (no client library normalises them first), with no key, a wrong key and the right one.
 * Only the health probes answer without the key; malformed percent-encoding is a clean 400.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedStore, type EmbeddedStore } from '../../services/store/index.ts';

const KEY = 'k3y-for-the-store';
let store: EmbeddedStore;
let dataDir: string;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request, written byte for byte as given, on its own connection. */
function raw(method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(store.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const h: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers: h, body: text.slice(split + 4) });
    });
    const all = { host: 'store.test', connection: 'close', ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
    socket.write(`${method} ${target} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
  });
}

const WITH_KEY = { 'api-key': KEY };
const WITH_BEARER = { authorization: `Bearer ${KEY}` };
const WRONG_KEY = { 'api-key': 'not-the-key' };
const WRONG_BEARER = { authorization: 'Bearer not-the-key' };

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-store-auth-'));
  store = await startEmbeddedStore({ dataDir, apiKey: KEY });
  const created = await raw('PUT', '/collections/secret', WITH_KEY, JSON.stringify({ vectors: { size: 2, distance: 'Dot' } }));
  assert.equal(created.status, 200, created.body);
  const upserted = await raw('PUT', '/collections/secret/points?wait=true', WITH_KEY, JSON.stringify({ points: [{ id: 1, vector: [1, 0], payload: { note: 'confidential' } }] }));
  assert.equal(upserted.status, 200, upserted.body);
});

after(async () => {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Spellings of GET /collections (the list), and what each is with the key: the list or no route. */
const LIST_FORMS: Array<[target: string, withKey: 200 | 404]> = [
  ['/collections', 200],
  ['/%63ollections', 200],
  ['/%63%6F%6C%6C%65%63%74%69%6F%6E%73', 200],
  ['/%2563ollections', 404],
  ['/collections;x', 404],
  ['/collections;/', 404],
  ['/x/../collections', 200],
  ['/healthz/../collections', 200],
  ['/healthz/%2e%2e/collections', 200],
  ['/healthz/%2E%2E/collections', 200],
  ['/./collections', 200],
  ['/../../collections', 200],
  ['//collections', 200],
  ['/collections/', 200],
  ['/COLLECTIONS', 404],
  ['/Collections', 404],
  ['/%43ollections', 404],
  ['http://x/collections', 200],
  ['HTTP://X/collections', 200],
  ['http://x/%63ollections', 200],
  ['http://x/healthz/../collections', 200],
  ['https://store.test:6333/collections', 200],
];

describe('store server authorisation', () => {
  for (const [target, withKey] of LIST_FORMS) {
    it(`GET ${target}: 401 without a key or with a wrong one, ${withKey} with it`, async () => {
      for (const headers of [{}, WRONG_KEY, WRONG_BEARER]) {
        const res = await raw('GET', target, headers);
        assert.equal(res.status, 401, `${target} with ${JSON.stringify(headers)}: ${res.body}`);
        assert.doesNotMatch(res.body, /secret|confidential/);
        assert.match((JSON.parse(res.body) as { status: { error: string } }).status.error, /API key/);
      }
      for (const headers of [WITH_KEY, WITH_BEARER]) {
        const res = await raw('GET', target, headers);
        assert.equal(res.status, withKey, `${target}: ${res.body}`);
        if (withKey === 200) assert.deepEqual((JSON.parse(res.body) as { result: unknown }).result, { collections: [{ name: 'secret' }] });
      }
    });
  }

  it('needs the key for reads and writes of points however the path is spelt', async () => {
    const reads = ['/collections/secret/points/scroll', '/collections/%73ecret/points/%73croll', '/%63ollections/secret/points;a/scroll', 'http://x/collections/secret/points/scroll', '/collections/secret/./points/x/../scroll'];
    for (const target of reads) {
      const anonymous = await raw('POST', target, {}, '{"limit":10,"with_payload":true}');
      assert.equal(anonymous.status, 401, target);
      assert.doesNotMatch(anonymous.body, /confidential/);
    }
    const keyed = await raw('POST', '/collections/%73ecret/points/%73croll', WITH_KEY, '{"limit":10,"with_payload":true}');
    assert.equal(keyed.status, 200);
    assert.match(keyed.body, /confidential/);

    for (const target of ['/%63ollections/planted', 'http://x/collections/planted', '/collections/x/../planted']) {
      const res = await raw('PUT', target, {}, JSON.stringify({ vectors: { size: 2, distance: 'Dot' } }));
      assert.equal(res.status, 401, target);
    }
    const deleted = await raw('DELETE', '/%63ollections/secret', WRONG_BEARER);
    assert.equal(deleted.status, 401);
    const list = await raw('GET', '/collections', WITH_KEY);
    assert.deepEqual((JSON.parse(list.body) as { result: unknown }).result, { collections: [{ name: 'secret' }] }, 'nothing created or deleted without the key');
  });

  it('answers only the health probes without a key; the version root, unknown paths and other methods need it', async () => {
    for (const [target, text] of [
      ['/healthz', 'healthz check passed'],
      ['/livez', 'livez check passed'],
      ['/readyz', 'all shards are ready'],
      ['/healthz/', 'healthz check passed'],
      ['/%68ealthz', 'healthz check passed'],
      ['http://x/readyz', 'all shards are ready'],
      ['/collections/../livez', 'livez check passed'],
    ] as const) {
      const res = await raw('GET', target);
      assert.equal(res.status, 200, target);
      assert.equal(res.body, text);
    }
    for (const [method, target] of [
      ['GET', '/'],
      ['GET', 'http://x/'],
      ['GET', '/metrics'],
      ['GET', '/telemetry'],
      ['GET', '/no/such/route'],
      ['POST', '/healthz'],
      ['DELETE', '/readyz'],
      ['HEAD', '/collections'],
      ['GET', '/healthz;x'],
      ['GET', '/HEALTHZ'],
    ] as const) {
      const res = await raw(method, target);
      assert.equal(res.status, 401, `${method} ${target}`);
    }
    const root = await raw('GET', '/', WITH_KEY);
    assert.equal(root.status, 200);
    assert.equal((JSON.parse(root.body) as { title: string }).title, 'qdrant - vector search engine');
    const unknown = await raw('GET', '/no/such/route', WITH_KEY);
    assert.equal(unknown.status, 404);
  });

  it('answers malformed percent-encoding and odd request targets with a 400 in Qdrant\'s envelope', async () => {
    for (const target of ['/collections/%E0%A4%A', '/%', '/collections/%zz', '/%c0%af', '/collections/%ED%A0%80']) {
      for (const headers of [{}, WITH_KEY]) {
        const res = await raw('GET', target, headers);
        assert.equal(res.status, 400, `${target}: ${res.body}`);
        const body = JSON.parse(res.body) as { status: { error: string }; time: number };
        assert.match(body.status.error, /percent-encoding/);
        assert.equal(typeof body.time, 'number');
      }
    }
    const asterisk = await raw('OPTIONS', '*', WITH_KEY);
    assert.equal(asterisk.status, 400);
    assert.match((JSON.parse(asterisk.body) as { status: { error: string } }).status.error, /request target/);
  });

  it('accepts the bearer scheme in any case, and nothing but an exact key', async () => {
    assert.equal((await raw('GET', '/collections', { authorization: `bearer ${KEY}` })).status, 200);
    assert.equal((await raw('GET', '/collections', { authorization: `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}` })).status, 401);
    assert.equal((await raw('GET', '/collections', { 'api-key': `${KEY} ` })).status, 200, 'header values are trimmed by HTTP itself');
    assert.equal((await raw('GET', '/collections', { 'api-key': KEY.slice(0, -1) })).status, 401);
    assert.equal((await raw('GET', '/collections', { 'api-key': `${KEY}x` })).status, 401);
    assert.equal((await raw('GET', '/collections', { 'api-key': KEY.toUpperCase() })).status, 401);
  });
});
