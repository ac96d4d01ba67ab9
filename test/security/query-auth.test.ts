/**
 * The API key cannot be bypassed by how the request target is written. Every form below was sent
 * to a listening service over a bare socket (as `curl --path-as-is` would) and through inject():
 * without the key each answers 401 in the documented envelope; with the key the forms the router
 * decodes to a real route answer that route (proving the 401 came from the guard, not from a
 * routing miss). Public routes stay public, and /readyz tells a caller without the key only the
 * verdict.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startQueryService, type RunningQueryService } from '../../services/query/server.ts';
import { openQueryFixture, type QueryFixture } from '../query/support/fixture.ts';
import { rawRequest, type RawResponse } from '../query/support/raw-http.ts';

const KEY = 'k3y-for-tests';
let fixture: QueryFixture;
let service: RunningQueryService;
let port: number;
let imageId: string;

before(async () => {
  fixture = await openQueryFixture('auth', { API_KEY: KEY, HOST: '127.0.0.1', PORT: '0' });
  const { config, encoder, store } = fixture;
  service = await startQueryService(config, { encoder, store: { client: store.client, url: store.url } });
  port = Number(new URL(service.url).port);
  imageId = fixture.catalogue.products[0]!.imagePointId;
});

after(async () => {
  await service?.close();
  await fixture?.close();
});

interface Form {
  method: 'GET' | 'POST' | 'HEAD' | 'OPTIONS' | 'PUT' | 'DELETE';
  target: string;
  /** With the key, the route answers this (forms the router decodes to a real route). */
  routed?: number;
}

const search = (target: string, routed?: number): Form => ({ method: 'POST', target, ...(routed ? { routed } : {}) });
const get = (target: string, routed?: number): Form => ({ method: 'GET', target, ...(routed ? { routed } : {}) });

function forms(id: string): Form[] {
  return [
    // Percent-encoding of the prefix: the router decodes it, a raw-URL check does not.
    search('/%761/search', 200),
    search('/%76%31/search', 200),
    search('/v%31/search', 200),
    search('/v1/%73earch', 200),
    get(`/%761/items/${id}/thumbnail`, 200),
    get(`/%761/items/${id}`, 200),
    get('/%761/collections', 200),
    // Absolute-form targets (RFC 9112 §3.2.2), any scheme case.
    get('http://x/v1/collections', 200),
    get('HTTP://X/v1/collections', 200),
    search('http://127.0.0.1/%761/search', 200),
    // Query strings and fragments do not change the route.
    get('/v1/collections?x=1', 200),
    get('/v1/collections#frag', 200),
    // Double encoding, upper-case escapes, mixed case.
    search('/%2576%2531/search'),
    search('/%56%31/search'),
    search('/V1/search'),
    get('/v1/Collections'),
    get('/V1/COLLECTIONS'),
    // `;` path parameters.
    search('/v1;x/search'),
    search('/v1/search;x'),
    get('/v1;/collections'),
    // Dot segments, plain and encoded, and doubled or encoded slashes.
    search('/x/../v1/search'),
    search('/v1/./search'),
    get('/v1/%2e%2e/v1/collections'),
    get('/v1/%2E/collections'),
    get('/healthz/../v1/collections'),
    get('/docs/../v1/collections'),
    get('//v1/collections'),
    get('/v1//collections'),
    get('/v1%2Fcollections'),
    get('/v1/collections/'),
    get('/v1/collections%00'),
    get('/v1/collections%20'),
    // Other methods and unknown routes: denied by default, not 404 or 405 to a caller without the key.
    { method: 'HEAD', target: '/v1/collections', routed: 200 },
    { method: 'OPTIONS', target: '/v1/search' },
    { method: 'PUT', target: '/v1/search' },
    { method: 'DELETE', target: `/v1/items/${id}` },
    get('/v1/nothing'),
    get('/v2/search'),
    get('/internal'),
  ];
}

function envelope(res: { body: string }): { code: string; status: number; message: string } {
  return (JSON.parse(res.body) as { error: { code: string; status: number; message: string } }).error;
}

function send(form: Form, headers: Record<string, string> = {}): Promise<RawResponse> {
  const body = form.method === 'POST' ? JSON.stringify({ text: 'red shoe' }) : undefined;
  return rawRequest(port, form.method, form.target, {
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body } : {}),
  });
}

test('over a socket, no form of the request target reaches a /v1 route without the key', async () => {
  const all = forms(imageId);
  for (const form of all) {
    const res = await send(form);
    const label = `${form.method} ${form.target}`;
    assert.equal(res.status, 401, `${label} → ${res.status} ${res.body.slice(0, 200)}`);
    if (form.method !== 'HEAD') {
      assert.equal(envelope(res).code, 'UNAUTHORIZED', label);
      assert.doesNotMatch(res.body, /hits|payload|points/, label);
    }
    assert.equal(res.headers['x-content-type-options'], 'nosniff', label);
  }
  // Wrong keys are refused alike, in either header.
  const wrong: Array<Record<string, string>> = [{ 'x-api-key': 'nope' }, { authorization: 'Bearer nope' }, { authorization: `Basic ${KEY}` }, { 'x-api-key': '' }];
  for (const headers of wrong) {
    assert.equal((await send(search('/%761/search'), headers)).status, 401, JSON.stringify(headers));
  }
});

test('with the key, the decoded forms reach their routes: the 401 above came from the guard', async () => {
  const routed = forms(imageId).filter((f) => f.routed);
  assert.ok(routed.length >= 10, 'forms that reach a route are part of the check');
  for (const form of routed) {
    const res = await send(form, { 'x-api-key': KEY });
    assert.equal(res.status, form.routed, `${form.method} ${form.target} → ${res.status} ${res.body.slice(0, 200)}`);
  }
  const hits = JSON.parse((await send(search('/%761/search'), { authorization: `Bearer ${KEY}` })).body) as { hits: unknown[] };
  assert.ok(hits.hits.length > 0);
  // Forms that route nowhere are a 404 for a caller with the key, never a 5xx.
  for (const form of forms(imageId).filter((f) => !f.routed)) {
    const res = await send(form, { 'x-api-key': KEY });
    assert.ok([404, 405].includes(res.status), `${form.method} ${form.target} → ${res.status}`);
  }
});

test('through inject() the same forms are refused', async () => {
  const { app } = service;
  for (const form of forms(imageId).filter((f) => f.target.startsWith('/'))) {
    const res = await app.inject({ method: form.method, url: form.target, ...(form.method === 'POST' ? { payload: { text: 'red' } } : {}) });
    assert.equal(res.statusCode, 401, `${form.method} ${form.target} → ${res.statusCode}`);
  }
});

test('public routes stay open, however written; /readyz tells a caller without the key only the verdict', async () => {
  for (const target of ['/', '/healthz', '/%68ealthz', '/metrics', '/openapi.json', '/docs/', '/readyz']) {
    const res = await rawRequest(port, 'GET', target);
    assert.equal(res.status, 200, `${target} → ${res.status}`);
  }
  const anonymous = await rawRequest(port, 'GET', '/readyz');
  assert.deepEqual(JSON.parse(anonymous.body), { status: 'ready' });
  assert.doesNotMatch(anonymous.body, /points|test-tiny|catalogue|TEST MODEL/);
  const operator = JSON.parse((await rawRequest(port, 'GET', '/readyz', { headers: { 'x-api-key': KEY } })).body) as { checks: Record<string, string> };
  assert.match(operator.checks.store!, new RegExp(`\\(${fixture.catalogue.points} points\\)`));
  assert.match(operator.checks.model!, /^ok: /);
});
