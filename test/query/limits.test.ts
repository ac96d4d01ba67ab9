/**
 * The API's contract at its edges — authentication, validation, size limits, SSRF refusal,
 * unavailable dependencies, metrics — with a stub encoder and stores that are down or hang,
 * so every 4xx/5xx path is reached deterministically and fast.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../shared/config/index.ts';
import { buildQueryApp } from '../../services/query/app.ts';
import type { QueryEncoder } from '../../services/query/search.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'clipstream-query-limits-'));

function unit(dim: number): Float32Array {
  return new Float32Array(dim).fill(1 / Math.sqrt(dim));
}

function stubEncoder(opts: { hang?: boolean | undefined } = {}) {
  const calls: string[] = [];
  const encoder = {
    model: { modelId: 'stub-model@test', isTestModel: true, embeddingDim: 1024 },
    async encodeText({ text, query }: { text: string | Uint8Array; query?: boolean }) {
      calls.push(`text:${String(text)}:${query ? 'query' : 'doc'}`);
      if (opts.hang) await new Promise(() => {});
      return { 64: unit(64), 256: unit(256), 1024: unit(1024) };
    },
    async encodeImage({ bytes }: { bytes: Uint8Array }) {
      calls.push(`image:${bytes.length}`);
      return { 64: unit(64), 256: unit(256), 1024: unit(1024) };
    },
  } as unknown as QueryEncoder;
  return { encoder, calls };
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return `127.0.0.1:${port}`;
}

let deadUrl: string;
let hangingUrl: string;
let hanging: Server;
let imageHost: string;
let imageServer: Server;
let png: Buffer;
const apps: FastifyInstance[] = [];

before(async () => {
  // A port that was open and is now closed: connections are refused.
  const probe = createServer();
  deadUrl = `http://${await listen(probe)}`;
  probe.close();
  hanging = createServer(() => {});
  hangingUrl = `http://${await listen(hanging)}`;
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 20, b: 20 } } }).png().toBuffer();
  imageServer = createServer((req, res) => {
    if (req.url === '/red.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else if (req.url === '/redirect') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    else res.writeHead(404).end();
  });
  imageHost = await listen(imageServer);
});

after(async () => {
  for (const app of apps) await app.close();
  hanging.closeAllConnections();
  hanging.close();
  imageServer.closeAllConnections();
  imageServer.close();
});

async function makeApp(env: Record<string, string> = {}, opts: { storeUrl?: string; hang?: boolean } = {}) {
  const config = loadConfig({ DATA_DIR: dataDir, QUERY_TIMEOUT_MS: '300', ...env });
  const url = opts.storeUrl ?? deadUrl;
  const { encoder, calls } = stubEncoder({ hang: opts.hang });
  const store = { client: new QdrantClient({ url, checkCompatibility: false, timeout: 60_000 }), url };
  const app = await buildQueryApp({ config, encoder, store });
  apps.push(app);
  return { app, calls };
}

function error(res: { json(): unknown }) {
  return (res.json() as { error: { code: string; status: number; message: string } }).error;
}

test('with API_KEY set, /v1/* needs the key; page, health and metrics stay open', async () => {
  const { app } = await makeApp({ API_KEY: 's3cret' });
  const denied = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
  assert.equal(denied.statusCode, 401);
  assert.equal(error(denied).code, 'UNAUTHORIZED');
  const wrong = await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-api-key': 'nope' } });
  assert.equal(wrong.statusCode, 401);
  // Past authentication the (down) store answers: 503, not 401.
  const header = await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-api-key': 's3cret' } });
  assert.equal(header.statusCode, 503);
  const bearer = await app.inject({ method: 'GET', url: '/v1/collections', headers: { authorization: 'Bearer s3cret' } });
  assert.equal(bearer.statusCode, 503);
  for (const url of ['/', '/healthz', '/metrics']) assert.equal((await app.inject({ url })).statusCode, 200, url);
});

test('requests that are malformed answer 400 with the reason', async () => {
  const { app, calls } = await makeApp({ QUERY_MAX_LIMIT: '50' });
  const cases: Array<[object, RegExp]> = [
    [{}, /exactly one of text, image or point_id \(got none\)/],
    [{ text: 'red', point_id: 'a3dba129-e620-5810-b2b1-bea98c7ae47a' }, /got several/],
    [{ text: 'red', limit: 51 }, /limit must be <= 50/],
    [{ text: 'red', limit: 0 }, /limit must be >= 1/],
    [{ text: 'red', limit: '5' }, /limit must be integer/],
    [{ text: 'red', colour: 'x' }, /must NOT have additional properties/],
    [{ text: 'red', modality: 'video' }, /modality must be equal to one of the allowed values/],
    [{ point_id: 'not-a-uuid' }, /point_id must match format "uuid"/],
    [{ text: 'red', filter: { price: 3 } }, /filter must NOT have additional properties/],
    [{ text: 'red', filter: { fields: { price: { between: 1 } } } }, /filter\/fields\/price/],
    [{ text: 'red', group_by: 'product', offset: 10 }, /offset cannot be combined with group_by/],
    [{ text: 'red', stages: [100, 200] }, /L1 ≥ L2/],
    [{ text: 'red', stages: [400, 5], limit: 10 }, /too small for limit 10/],
    [{ text: 'red', stages: [400] }, /1 stage limit\(s\).*for 2 coarse stage/],
    [{ text: '   ' }, /query text is empty/],
    [{ image: { base64: '###' } }, /not valid base64/],
    [{ image: { base64: Buffer.from('not an image').toString('base64') } }, /not a readable image/],
  ];
  for (const [payload, reason] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/search', payload });
    assert.equal(res.statusCode, 400, JSON.stringify(payload) + ' → ' + res.body);
    assert.match(error(res).message, reason, JSON.stringify(payload));
  }
  const badJson = await app.inject({ method: 'POST', url: '/v1/search', headers: { 'content-type': 'application/json' }, payload: '{"text":' });
  assert.equal(badJson.statusCode, 400);
  assert.equal((await app.inject({ url: '/v1/items/not-a-uuid' })).statusCode, 400);
  assert.equal((await app.inject({ url: '/v1/nothing' })).statusCode, 404);
  // Nothing malformed ever reached the encoder except texts that passed validation.
  assert.ok(calls.length > 0 && calls.every((c) => c.startsWith('text:red:query')), calls.join());
});

test('size limits answer 413 naming the limit: text, image bytes, image pixels, body', async () => {
  const { app, calls } = await makeApp({ QUERY_MAX_TEXT_CHARS: '20', QUERY_MAX_IMAGE_BYTES: '2000', QUERY_MAX_IMAGE_PIXELS: '1000' });
  const text = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'x'.repeat(21) } });
  assert.equal(text.statusCode, 413);
  assert.equal(error(text).code, 'TEXT_TOO_LONG');
  assert.match(error(text).message, /21 characters, over the 20-character limit \(QUERY_MAX_TEXT_CHARS\)/);
  // 20 characters in Japanese are fine: the limit counts characters, not bytes.
  const ja = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: '赤'.repeat(20) } });
  assert.notEqual(ja.statusCode, 413);
  // Past the length check, the (down) store answers: a 500 would not pass for "not 413".
  assert.equal(ja.statusCode, 503, ja.body);
  assert.equal(error(ja).code, 'STORE_UNAVAILABLE');

  const big = Buffer.alloc(3000, 1);
  const b64 = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { base64: big.toString('base64') } } });
  assert.equal(b64.statusCode, 413);
  assert.match(error(b64).message, /QUERY_MAX_IMAGE_BYTES/);

  const form = new FormData();
  form.append('image', new Blob([big], { type: 'image/png' }), 'big.png');
  const upload = await app.inject({ method: 'POST', url: '/v1/search', payload: form });
  assert.equal(upload.statusCode, 413, upload.body);

  // 40×30 = 1200 pixels: small in bytes, over the pixel limit; refused from the header alone.
  const pixels = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { base64: png.toString('base64') } } });
  assert.equal(pixels.statusCode, 413);
  assert.match(error(pixels).message, /40×30 = 1200 pixels, over the 1000-pixel limit/);

  const body = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red', pad: 'x'.repeat(200_000) } });
  assert.equal(body.statusCode, 413);
  assert.equal(error(body).code, 'REQUEST_TOO_LARGE');
  assert.equal(calls.filter((c) => c.startsWith('image')).length, 0, 'no oversized image was encoded');
});

test('image URLs: refused unless the host is allow-listed; redirects are not followed', async () => {
  const closed = await makeApp();
  const refused = await closed.app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://${imageHost}/red.png` } } });
  assert.equal(refused.statusCode, 400);
  assert.match(error(refused).message, /image URLs are not fetched: no image URL hosts are allowed/);

  const open = await makeApp({ QUERY_IMAGE_URL_ALLOW: imageHost });
  const other = await open.app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: 'http://169.254.169.254/latest/meta-data' } } });
  assert.equal(other.statusCode, 400);
  assert.match(error(other).message, /host 169.254.169.254 is not in QUERY_IMAGE_URL_ALLOW/);
  const redirect = await open.app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://${imageHost}/redirect` } } });
  assert.equal(redirect.statusCode, 502);
  assert.equal(open.calls.length, 0);
  // The allowed URL is fetched and encoded; the (down) store then answers 503.
  const fetched = await open.app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://${imageHost}/red.png` } } });
  assert.equal(fetched.statusCode, 503);
  assert.deepEqual(open.calls, [`image:${png.length}`]);
});

test('store down or hanging, encoder hanging: 503 with a reason, within the deadline', async () => {
  const down = await makeApp();
  const res = await down.app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
  assert.equal(res.statusCode, 503);
  assert.equal(error(res).code, 'STORE_UNAVAILABLE');
  assert.ok(error(res).message.includes(deadUrl), error(res).message);
  assert.equal(res.headers['retry-after'], '5');
  const ready = await down.app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  const checks = (ready.json() as { checks: Record<string, string> }).checks;
  assert.match(checks.model!, /^ok: stub-model@test/);
  assert.match(checks.store!, /unavailable/);
  assert.equal((await down.app.inject({ url: '/healthz' })).statusCode, 200);

  const slowStore = await makeApp({}, { storeUrl: hangingUrl });
  const hung = await slowStore.app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
  assert.equal(hung.statusCode, 503);
  assert.match(error(hung).message, /did not answer within 300 ms/);
  assert.equal((await slowStore.app.inject({ url: '/readyz' })).statusCode, 503);

  const slowEncoder = await makeApp({}, { hang: true });
  const stuck = await slowEncoder.app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
  assert.equal(stuck.statusCode, 503);
  assert.equal(error(stuck).code, 'ENCODER_OVERLOADED');
  assert.match(error(stuck).message, /encoder did not answer within 300 ms/);
});

test('/metrics counts errors by cause, cache hits and request latency', async () => {
  const { app, calls } = await makeApp();
  await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'rote  Schuhe' } });
  await app.inject({ method: 'POST', url: '/v1/search', payload: { text: ' rote Schuhe ' } });
  await app.inject({ method: 'POST', url: '/v1/search', payload: {} });
  assert.equal(calls.length, 1, 'the second (same after normalisation) text was not re-encoded');
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /clipstream_query_embedding_cache_total\{kind="text",result="hit"\} 1/);
  assert.match(text, /clipstream_query_embedding_cache_total\{kind="text",result="miss"\} 1/);
  assert.match(text, /clipstream_query_errors_total\{cause="STORE_UNAVAILABLE"\} 2/);
  assert.match(text, /clipstream_query_errors_total\{cause="BAD_REQUEST"\} 1/);
  assert.match(text, /clipstream_query_request_duration_seconds_count\{method="POST",route="\/v1\/search",status="503"\} 2/);
  assert.match(text, /clipstream_query_encode_duration_seconds_count\{kind="text"\} 1/);
});

test('OpenAPI document, docs page and search page are served', async () => {
  const { app } = await makeApp();
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { openapi: string; paths: Record<string, unknown> };
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/v1/search', '/v1/items/{id}', '/v1/items/{id}/thumbnail', '/v1/collections', '/readyz']) assert.ok(doc.paths[p], p);
  const docs = await app.inject({ url: '/docs/' });
  assert.equal(docs.statusCode, 200);
  assert.match(docs.body, /swagger/i);
  const page = await app.inject({ url: '/' });
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.match(page.body, /<input type="search" name="q"/);
});
