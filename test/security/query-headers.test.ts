/**
 * Security headers on every kind of answer (success, 4xx, 5xx, page, docs, metrics), and a
 * search-page policy without 'unsafe-inline': its inline script and style are admitted by hash,
 * and the hashes are of exactly what the page carries.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stubApp } from '../query/support/stub.ts';

let app: FastifyInstance;

before(async () => {
  ({ app } = await stubApp({ API_KEY: 'k' }));
});

after(async () => {
  await app?.close();
});

const key = { 'x-api-key': 'k' };

test('nosniff and the usual security headers on every answer', async () => {
  const answers = {
    page: await app.inject({ url: '/' }),
    health: await app.inject({ url: '/healthz' }),
    notReady: await app.inject({ url: '/readyz' }),
    metrics: await app.inject({ url: '/metrics' }),
    openapi: await app.inject({ url: '/openapi.json' }),
    docs: await app.inject({ url: '/docs/' }),
    unauthorised: await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red' } }),
    invalid: await app.inject({ method: 'POST', url: '/v1/search', headers: key, payload: { text: 'red', limit: 0 } }),
    storeDown: await app.inject({ method: 'POST', url: '/v1/search', headers: key, payload: { text: 'red' } }),
    notFound: await app.inject({ url: '/v1/nothing', headers: key }),
  };
  assert.deepEqual(
    Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, r.statusCode])),
    { page: 200, health: 200, notReady: 503, metrics: 200, openapi: 200, docs: 200, unauthorised: 401, invalid: 400, storeDown: 503, notFound: 404 },
  );
  for (const [name, res] of Object.entries(answers)) {
    assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
    assert.equal(res.headers['referrer-policy'], 'no-referrer', name);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', name);
    assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, name);
    assert.equal(res.headers['cross-origin-resource-policy'], 'same-site', name);
    assert.ok(res.headers['content-security-policy'], name);
  }
  // A JSON answer may load nothing at all.
  for (const name of ['health', 'metrics', 'unauthorised', 'storeDown', 'notFound'] as const) {
    assert.match(String(answers[name].headers['content-security-policy']), /^default-src 'none'/, name);
  }
  // The docs page keeps its own policy, without upgrade-insecure-requests (it would break on plain HTTP).
  const docs = String(answers.docs.headers['content-security-policy']);
  assert.match(docs, /script-src 'self'/);
  assert.doesNotMatch(docs, /upgrade-insecure-requests/);
});

test("the page's policy admits its own inline script and style by hash, and nothing inline besides", async () => {
  const page = await app.inject({ url: '/' });
  const csp = String(page.headers['content-security-policy']);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const scripts = [...page.body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  const styles = [...page.body.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
  assert.equal(scripts.length, 1);
  assert.equal(styles.length, 1);
  assert.match(csp, new RegExp(`script-src ${hash(scripts[0]!).replace(/[+/]/g, '\\$&')};`));
  assert.match(csp, new RegExp(`style-src ${hash(styles[0]!).replace(/[+/]/g, '\\$&')};`));
  assert.doesNotMatch(page.body, /\son[a-z]+="/, 'no inline event handler attributes (they would need unsafe-inline)');
  assert.doesNotMatch(page.body, /\sstyle="/, 'no inline style attributes');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
});
