import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { isClipstreamError } from '../../shared/errors.ts';
import { backoffDelay, isTransientStoreError, storeMessage, withStoreRetry } from '../../shared/store/retry.ts';

const apiError = (status: number, error?: string) => Object.assign(new Error('x'), { status, data: error ? { status: { error } } : undefined });
const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });

test('5xx, 429, 408, timeouts and connection errors are transient; other 4xx are not', () => {
  for (const e of [apiError(500), apiError(503), apiError(429), apiError(408), new QdrantClientTimeoutError('t'), fetchFailed('ECONNREFUSED'), fetchFailed('ECONNRESET'), new TypeError('fetch failed')]) {
    assert.equal(isTransientStoreError(e), true, String((e as { status?: number }).status ?? e.message));
  }
  for (const e of [apiError(400), apiError(404), apiError(401), apiError(422), new Error('boom')]) {
    assert.equal(isTransientStoreError(e), false, String((e as { status?: number }).status ?? e.message));
  }
});

test("the store's own message is preferred", () => {
  assert.equal(storeMessage(apiError(400, 'Wrong input: Vector dimension error')), '400: Wrong input: Vector dimension error');
  assert.match(storeMessage(fetchFailed('ECONNREFUSED')), /^ECONNREFUSED/);
});

test('backoff grows exponentially, is capped and jittered', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(1, policy, () => 0), 50);
  assert.equal(backoffDelay(1, policy, () => 1), 100);
  assert.equal(backoffDelay(3, policy, () => 1), 400);
  assert.equal(backoffDelay(8, policy, () => 1), 1000);
});

test('withStoreRetry retries transient failures, gives up with STORE_UNAVAILABLE naming the URL and attempts, and passes permanent errors through', async () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
  let calls = 0;
  const value = await withStoreRetry(async () => (++calls < 3 ? Promise.reject(apiError(503)) : 'ok'), { storeUrl: 'http://s:1', operation: 'op', policy });
  assert.equal(value, 'ok');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    withStoreRetry(async () => { calls++; throw fetchFailed('ECONNREFUSED'); }, { storeUrl: 'http://s:1', operation: 'upsert of 2 point(s)', policy }),
    (err: unknown) => isClipstreamError(err, 'STORE_UNAVAILABLE') && /http:\/\/s:1/.test(err.message) && /3 times/.test(err.message) && /ECONNREFUSED/.test(err.message),
  );
  assert.equal(calls, 3);

  calls = 0;
  const permanent = apiError(400, 'bad');
  await assert.rejects(withStoreRetry(async () => { calls++; throw permanent; }, { storeUrl: 'u', operation: 'op', policy }), (e) => e === permanent);
  assert.equal(calls, 1);
});
