import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, retry, type RetryEvent } from '../../shared/retry.ts';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };
class Flaky extends Error {}

test('full jitter: a delay between 0 and base·2^(retry-1), capped at maxDelayMs', () => {
  assert.equal(backoffDelay(1, policy, () => 0), 0);
  assert.equal(backoffDelay(1, policy, () => 1), 100);
  assert.equal(backoffDelay(2, policy, () => 1), 200);
  assert.equal(backoffDelay(3, policy, () => 0.5), 200);
  assert.equal(backoffDelay(4, policy, () => 1), 800);
  assert.equal(backoffDelay(5, policy, () => 1), 1000);
  assert.equal(backoffDelay(200, policy, () => 1), 1000);
});

test('retries what the predicate calls retryable, logging each attempt, until it succeeds', async () => {
  const events: RetryEvent[] = [];
  const lines: Array<[Record<string, unknown>, string]> = [];
  const seen: number[] = [];
  const value = await retry(
    async (n) => {
      seen.push(n);
      if (n < 3) throw new Flaky(`try ${n}`);
      return 'ok';
    },
    {
      policy: { ...policy, baseDelayMs: 1, maxDelayMs: 2 },
      retryable: (e) => e instanceof Flaky,
      onRetry: (e) => events.push(e),
      log: { warn: (fields, message) => lines.push([fields, message]) },
      operation: 'GET s3://b/k',
    },
  );
  assert.equal(value, 'ok');
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(events.map((e) => [e.attempt, e.maxAttempts, (e.error as Error).message]), [[1, 4, 'try 1'], [2, 4, 'try 2']]);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0]?.[0], { operation: 'GET s3://b/k', attempt: 1, max_attempts: 4, delay_ms: events[0]?.delayMs, error: 'try 1' });
  assert.match(lines[1]?.[1] ?? '', /^GET s3:\/\/b\/k failed \(attempt 2 of 4\), retrying in \d+ ms$/);
});

test('a failure the predicate refuses is thrown at once, untouched', async () => {
  const permanent = new Error('bad request');
  let calls = 0;
  await assert.rejects(
    retry(async () => { calls++; throw permanent; }, { policy, retryable: (e) => e instanceof Flaky }),
    (e) => e === permanent,
  );
  assert.equal(calls, 1);
});

test('when the attempts run out, `exhausted` names the error thrown (the last failure by default)', async () => {
  let calls = 0;
  const fast = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 };
  await assert.rejects(
    retry(async (n) => { calls++; throw new Flaky(`try ${n}`); }, { policy: fast, retryable: () => true }),
    (e) => e instanceof Flaky && e.message === 'try 3',
  );
  assert.equal(calls, 3);
  await assert.rejects(
    retry(async () => { throw new Flaky('x'); }, { policy: fast, retryable: () => true, exhausted: (err, attempts) => new Error(`gave up after ${attempts}: ${(err as Error).message}`) }),
    { message: 'gave up after 3: x' },
  );
});

test("a server's Retry-After is a floor under the backoff, capped at maxDelayMs", async () => {
  const delays: number[] = [];
  const asked = [30, 5_000];
  let n = 0;
  await retry(
    async () => {
      if (n < asked.length) throw new Flaky(String(asked[n++]));
      return 1;
    },
    {
      policy: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 50 },
      retryable: () => true,
      retryAfterMs: (e) => Number((e as Error).message),
      onRetry: (e) => delays.push(e.delayMs),
      random: () => 0,
    },
  );
  assert.deepEqual(delays, [30, 50]);
});

test('an abort during the wait stops the retrying with the abort reason', async () => {
  const controller = new AbortController();
  const reason = new Error('shutting down');
  let calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new Flaky('x');
      },
      {
        policy: { maxAttempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 },
        retryable: () => true,
        random: () => 1,
        signal: controller.signal,
        onRetry: () => controller.abort(reason),
      },
    ),
    (e) => e === reason,
  );
  assert.equal(calls, 1);
  // An already-aborted signal runs nothing.
  await assert.rejects(retry(async () => { calls++; return 1; }, { policy, retryable: () => true, signal: controller.signal }), (e) => e === reason);
  assert.equal(calls, 1);
});

test('a failure thrown while the signal aborts gives the abort reason, not the failure', async () => {
  const controller = new AbortController();
  const reason = new Error('stopping');
  await assert.rejects(
    retry(async () => { controller.abort(reason); throw new Flaky('the request was cut'); }, { policy, retryable: () => true, signal: controller.signal }),
    (e) => e === reason,
  );
});

test('exhausted gets the attempts and the time spent; the log names a nameless operation "operation"', async () => {
  const lines: string[] = [];
  const delays: number[] = [];
  let elapsed = -1;
  await assert.rejects(
    retry(async () => { throw new Flaky('x'); }, {
      policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      retryable: () => true,
      retryAfterMs: () => undefined,
      onRetry: (e) => delays.push(e.delayMs),
      log: { warn: (_fields, message) => lines.push(message) },
      exhausted: (err, _attempts, ms) => ((elapsed = ms), err),
    }),
    Flaky,
  );
  assert.ok(elapsed >= 0 && elapsed < 60_000, `elapsed ${elapsed} ms`);
  assert.ok(delays.every((d) => Number.isFinite(d)) && delays.length === 1, String(delays));
  assert.match(lines[0] ?? '', /^operation failed \(attempt 1 of 2\), retrying in \d+ ms$/);
});
