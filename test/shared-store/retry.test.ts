import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { isClipstreamError } from '../../shared/errors.ts';
import { DEFAULT_STORE_RETRY, httpStatus, isTransientStoreError, storeMessage, withStoreRetry } from '../../shared/store/retry.ts';

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

test('every transport failure code counts as transient, found up to five causes deep; other codes and non-fetch errors do not', () => {
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED'];
  // A plain Error (not undici's TypeError) so that only the code can make it transient.
  const withCode = (code: string) => Object.assign(new Error(`socket: ${code}`), { code });
  for (const code of codes) assert.equal(isTransientStoreError(withCode(code)), true, code);
  assert.equal(isTransientStoreError(withCode('EFOO')), false);
  assert.equal(isTransientStoreError(Object.assign(new Error('x'), { code: 42 })), false, 'a numeric code is not a transport code');
  const nested = (depth: number) => {
    let e: Error = withCode('ECONNRESET');
    for (let i = 0; i < depth; i++) e = new Error(`wrapper ${i}`, { cause: e });
    return e;
  };
  assert.equal(isTransientStoreError(nested(4)), true, 'four wrappers deep');
  assert.equal(isTransientStoreError(nested(5)), false, 'past five levels the chain is not followed');
  assert.equal(isTransientStoreError(new Error('fetch failed')), false, "only undici's TypeError means a transport failure");
  assert.equal(isTransientStoreError(new TypeError('x is not a function')), false);
});

test('httpStatus reads the status of an API error and 429 from a rate-limit error, nothing else', () => {
  assert.equal(httpStatus(new QdrantClientResourceExhaustedError('slow down', '1')), 429);
  assert.equal(httpStatus(apiError(502)), 502);
  assert.equal(httpStatus(Object.assign(new Error('x'), { status: '503' })), undefined);
  assert.equal(httpStatus(null), undefined);
});

test("storeMessage: the body's error (trimmed, with the status), else the transport code, else the first line of the message", () => {
  assert.equal(storeMessage(apiError(400, '  Wrong input  ')), '400: Wrong input');
  assert.equal(storeMessage(Object.assign(new Error('x'), { data: 'plain text body' })), 'plain text body');
  assert.equal(storeMessage(Object.assign(new Error('x'), { status: 503, data: ' overloaded ' })), '503: overloaded');
  assert.equal(storeMessage(apiError(500, '   ')), '500: x', 'a blank body falls back to the message');
  assert.equal(storeMessage(Object.assign(new Error('first line\nsecond line'), { status: 502 })), '502: first line');
  assert.equal(storeMessage(new Error('just this')), 'just this');
  assert.equal(storeMessage(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED (down)');
  assert.equal(storeMessage('a string'), 'a string');
});

test('the default store policy, and what an exhausted retry reports: the operation, the URL, the time taken and the cause', async () => {
  assert.deepEqual(DEFAULT_STORE_RETRY, { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 });
  const last = apiError(503, 'still starting');
  const lines: string[] = [];
  await assert.rejects(
    withStoreRetry(async () => { throw last; }, {
      storeUrl: 'http://s:1',
      operation: 'count catalogue',
      policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      log: { warn: (_fields, message) => lines.push(message) },
    }),
    (e: unknown) => {
      assert.ok(isClipstreamError(e, 'STORE_UNAVAILABLE'));
      assert.equal(e.cause, last);
      const seconds = Number(/over (\d+\.\d)s/.exec(e.message)?.[1]);
      assert.ok(seconds >= 0 && seconds < 60, e.message);
      assert.match(e.message, /count catalogue failed 2 times .*503: still starting/);
      return true;
    },
  );
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /^count catalogue at http:\/\/s:1 failed \(attempt 1 of 2\)/);
});
