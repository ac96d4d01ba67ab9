import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { isClipstreamError } from '../../shared/errors.ts';
import { isTransientStoreError, storeMessage, withStoreRetry } from '../../shared/store/retry.ts';

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

test("a 429's Retry-After sets the least wait before the next upsert attempt, capped at the policy's longest delay", async () => {
  const delays: number[] = [];
  let calls = 0;
  const value = await withStoreRetry(
    async () => {
      calls++;
      if (calls === 1) throw new QdrantClientResourceExhaustedError('rate limited', '0.04');
      if (calls === 2) throw new QdrantClientResourceExhaustedError('rate limited', '60');
      return 'ok';
    },
    { storeUrl: 'http://s:1', operation: 'upsert', policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 80 }, onRetry: (_attempt, _err, delayMs) => delays.push(delayMs) },
  );
  assert.equal(value, 'ok');
  assert.equal(delays.length, 2);
  assert.ok((delays[0] ?? 0) >= 40, `first wait ${delays[0]} ms honours Retry-After: 0.04 s`);
  assert.equal(delays[1], 80, 'a minute-long Retry-After is capped at maxDelayMs');
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
