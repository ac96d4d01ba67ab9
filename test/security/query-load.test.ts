/**
 * What a flood or a slow client meets: bodies and headers that never finish are cut off with 408
 * in the documented envelope, connections beyond QUERY_MAX_CONNECTIONS are dropped, and load is
 * shed with 503 + Retry-After when the event loop lags or the encoder queue is full — counted in
 * /metrics, with health and metrics still answering.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { parseResponse } from '../query/support/raw-http.ts';
import { stubApp } from '../query/support/stub.ts';

async function listening(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/** Opens a socket, sends `bytes`, and resolves with what came back once the server closed it. */
function untilClosed(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

test('a body or headers that never finish are answered 408 and the connection closed', async () => {
  const { app } = await stubApp({ QUERY_REQUEST_TIMEOUT_MS: '1000', QUERY_HEADERS_TIMEOUT_MS: '1000' });
  const port = await listening(app);
  try {
    const slowBody = parseResponse(await untilClosed(port, 'POST /v1/search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"te'));
    assert.equal(slowBody.status, 408, slowBody.raw);
    assert.equal(JSON.parse(slowBody.body).error.code, 'REQUEST_TIMEOUT');
    assert.equal(slowBody.headers['x-content-type-options'], 'nosniff');
    const slowHeaders = parseResponse(await untilClosed(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: '));
    assert.equal(slowHeaders.status, 408, slowHeaders.raw);
    assert.match(JSON.parse(slowHeaders.body).error.message, /did not arrive in time/);
  } finally {
    await app.close();
  }
});

test('connections beyond QUERY_MAX_CONNECTIONS are dropped; a freed slot is usable again', async () => {
  const { app } = await stubApp({ QUERY_MAX_CONNECTIONS: '2' });
  const port = await listening(app);
  const open: net.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const s = net.connect(port, '127.0.0.1');
      await once(s, 'connect');
      open.push(s);
    }
    // The server must have accepted both before the third counts as one too many.
    while ((await new Promise<number>((r) => app.server.getConnections((_e, n) => r(n)))) < 2) await new Promise((r) => setImmediate(r));
    const third = await untilClosed(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    assert.equal(third, '', 'the third connection was closed without an answer');
    const closed = once(open[0]!, 'close');
    open[0]!.destroy();
    await closed;
    while ((await new Promise<number>((r) => app.server.getConnections((_e, n) => r(n)))) > 1) await new Promise((r) => setImmediate(r));
    const again = parseResponse(await untilClosed(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    assert.equal(again.status, 200);
  } finally {
    for (const s of open) s.destroy();
    await app.close();
  }
});

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

test('while the event loop lags, searches are shed with 503 + Retry-After; health and metrics still answer', async () => {
  const { app } = await stubApp({ QUERY_MAX_EVENT_LOOP_DELAY_MS: '20' }, { deps: { pressureSampleIntervalMs: 50 } });
  try {
    let shed: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    let health: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    // Lag is sampled, not measured per request: block until a sample has seen it.
    for (let attempt = 0; attempt < 50 && !shed; attempt++) {
      blockEventLoop(300);
      await new Promise((r) => setTimeout(r, 20));
      const [h, s] = await Promise.all([app.inject({ url: '/healthz' }), app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red' } })]);
      if (s.statusCode === 503 && s.json().error.code === 'OVERLOADED') [shed, health] = [s, h];
    }
    assert.ok(shed, 'a search was shed while the event loop lagged');
    assert.equal(shed.headers['retry-after'], '5');
    assert.match(shed.json().error.message, /overloaded \(event loop (\d+ ms behind|blocked), over QUERY_MAX_EVENT_LOOP_DELAY_MS=20\); retry later/);
    assert.equal(health!.statusCode, 200, 'health is never shed');
    const metrics = await app.inject({ url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /clipstream_query_shed_total\{reason="event_loop"\} [1-9]/);
  } finally {
    await app.close();
  }
});

test('with QUERY_MAX_PENDING_ENCODES queries waiting, the next new query is shed at once', async () => {
  const { app, stub } = await stubApp({ QUERY_MAX_PENDING_ENCODES: '2', QUERY_TIMEOUT_MS: '60000' }, { hang: true });
  try {
    const waiting = [app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } }), app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'blue bag' } })];
    while (stub.calls.length < 2) await new Promise((r) => setImmediate(r));
    const full = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'green hat' } });
    assert.equal(full.statusCode, 503, full.body);
    assert.equal(full.json().error.code, 'ENCODER_OVERLOADED');
    assert.match(full.json().error.message, /encoder queue is full \(2 queries waiting, QUERY_MAX_PENDING_ENCODES\)/);
    assert.equal(full.headers['retry-after'], '5');
    // The same text as one waiting shares its encode: not a new one, not shed.
    const shared = app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
    assert.deepEqual(stub.calls, ['text:red shoe', 'text:blue bag']);
    stub.release();
    for (const res of await Promise.all([...waiting, shared])) assert.equal(res.json().error.code, 'STORE_UNAVAILABLE', 'encoded, then the (down) store answered');
    // Room again.
    const after = app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'green hat' } });
    while (stub.calls.length < 3) await new Promise((r) => setImmediate(r));
    stub.release();
    assert.equal((await after).json().error.code, 'STORE_UNAVAILABLE');
    assert.match((await app.inject({ url: '/metrics' })).body, /clipstream_query_shed_total\{reason="encoder_queue"\} 1/);
  } finally {
    stub.release();
    await app.close();
  }
});
