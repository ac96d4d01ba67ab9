/**
 * Small contract gaps at the edges of the query API: the offset + limit window, prototype keys,
 * non-UTF-8 bodies, Content-Length that lies, and the documented envelope for all of them —
 * including what Node's HTTP parser refuses before Fastify sees a request.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { parseResponse, rawExchange } from '../query/support/raw-http.ts';
import { stubApp, type StubEncoder } from '../query/support/stub.ts';

let app: FastifyInstance;
let stub: StubEncoder;
let port: number;

before(async () => {
  ({ app, stub } = await stubApp({ QUERY_MAX_LIMIT: '50' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
});

after(async () => {
  await app?.close();
});

function error(body: string): { code: string; status: number; message: string } {
  const parsed = JSON.parse(body) as { error: { code: string; status: number; message: string } };
  assert.deepEqual(Object.keys(parsed), ['error'], body);
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message', 'status'], body);
  return parsed.error;
}

async function post(payload: string | Buffer, contentType = 'application/json') {
  return app.inject({ method: 'POST', url: '/v1/search', headers: { 'content-type': contentType }, payload });
}

test('offset + limit may not exceed QUERY_MAX_LIMIT', async () => {
  for (const [offset, limit] of [[49, 2], [40, 11], [1, 50]] as const) {
    const res = await post(JSON.stringify({ text: 'red', offset, limit }));
    assert.equal(res.statusCode, 400, res.body);
    const e = error(res.body);
    assert.equal(e.code, 'BAD_REQUEST');
    assert.match(e.message, new RegExp(`offset \\+ limit is ${offset + limit}, over the 50-hit window \\(QUERY_MAX_LIMIT\\)|offset must be <= 49`));
  }
  // The edge of the window is allowed: past validation the (down) store answers.
  assert.equal((await post(JSON.stringify({ text: 'red', offset: 40, limit: 10 }))).statusCode, 503);
  assert.equal((await post(JSON.stringify({ text: 'red', offset: 49, limit: 1 }))).statusCode, 503);
  const doc = (await app.inject({ url: '/openapi.json' })).json() as {
    paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, { maximum?: number }> } }> } } }>;
  };
  assert.equal(doc.paths['/v1/search']!.post.requestBody.content['application/json']!.schema.properties.offset!.maximum, 49);
});

test('__proto__ and constructor.prototype keys are refused, saying which key and why', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"text":"red","__proto__":{"admin":true}}', /the key "__proto__", which is refused: it could change object prototypes/],
    ['{"text":"red","filter":{"fields":{"__proto__":{"x":1}}}}', /the key "filter\.fields\.__proto__"/],
    ['{"text":"red","\\u005f_proto__":{}}', /the key "__proto__"/],
    ['{"text":"red","filter":{"constructor":{"prototype":{"x":1}}}}', /the key "filter\.constructor" holding "prototype"/],
    ['{"text":"red","stages":[{"__proto__":1}]}', /the key "stages\[0\]\.__proto__"/],
  ];
  for (const [body, reason] of cases) {
    const res = await post(body);
    assert.equal(res.statusCode, 400, body);
    const e = error(res.body);
    assert.equal(e.code, 'BAD_REQUEST');
    assert.match(e.message, reason, body);
    assert.doesNotMatch(e.message, /not valid JSON/);
  }
  // Multipart form fields that carry JSON are held to the same rule.
  const form = new FormData();
  form.append('text', 'red');
  form.append('filter', '{"fields":{"__proto__":{"x":1}}}');
  const multipart = await app.inject({ method: 'POST', url: '/v1/search', payload: form });
  assert.equal(multipart.statusCode, 400, multipart.body);
  assert.match(error(multipart.body).message, /form field filter has the key "fields\.__proto__", which is refused/);
  // A record field called "constructor" is an ordinary field: only one holding "prototype" is refused.
  const field = await post('{"text":"red","filter":{"fields":{"constructor":"acme"}}}');
  assert.equal(field.statusCode, 503, field.body);
  assert.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was changed');
});

test('a body that is not UTF-8, or says another charset, is refused; malformed JSON names the problem', async () => {
  const latin1 = await post(Buffer.from('{"text":"caf\xe9"}', 'latin1'));
  assert.equal(latin1.statusCode, 400);
  assert.match(error(latin1.body).message, /the body is not valid UTF-8/);
  const surrogate = await post(Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]));
  assert.equal(surrogate.statusCode, 400, 'an encoded surrogate is not UTF-8');
  const charset = await post('{"text":"red"}', 'application/json; charset=iso-8859-1');
  assert.equal(charset.statusCode, 415);
  assert.equal(error(charset.body).code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.match(error(charset.body).message, /charset iso-8859-1 is refused/);
  // Declared UTF-8 and real UTF-8 pass, with a BOM or without.
  assert.equal((await post('{"text":"café"}', 'application/json; charset=UTF-8')).statusCode, 503);
  assert.equal((await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text":"café"}')]))).statusCode, 503);
  const empty = await post('');
  assert.equal(empty.statusCode, 400);
  assert.match(error(empty.body).message, /the body is empty/);
  const truncated = await post('{"text":');
  assert.equal(truncated.statusCode, 400);
  assert.match(error(truncated.body).message, /the body is not valid JSON/);
  assert.deepEqual(stub.calls.filter((c) => !c.startsWith('text:red') && c !== 'text:café'), []);
});

test('a lying Content-Length answers the documented envelope, not Fastify\'s own', async () => {
  // Shorter than the body: the rest is read as a next request, which is not one.
  const short = await rawExchange(port, 'POST /v1/search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\n{"text":"red"}');
  assert.equal(short.status, 400, short.raw);
  assert.match(error(short.body).message, /Content-Length/);
  assert.equal(short.headers['x-content-type-options'], 'nosniff');
  assert.doesNotMatch(short.raw, /"statusCode"/);

  // Longer than the body, then the client stops sending.
  const long = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end('POST /v1/search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"text":"red"}');
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
  const res = parseResponse(long);
  assert.equal(res.status, 400, long);
  assert.match(error(res.body).message, /ended before the request was complete/);

  // Not a number at all.
  const bogus = await rawExchange(port, 'POST /v1/search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ten\r\n\r\n{}');
  assert.equal(bogus.status, 400);
  assert.equal(error(bogus.body).code, 'BAD_REQUEST');
  // Garbage instead of a request line.
  const garbage = await rawExchange(port, '\x16\x03\x01 not http\r\n\r\n');
  assert.equal(garbage.status, 400);
  assert.equal(error(garbage.body).code, 'BAD_REQUEST');
});
