/**
 * The one way clipstream retries: capped exponential backoff with full jitter, cut short by an
 * AbortSignal. What is worth retrying differs per caller (a 503 from the store, a SlowDown from
 * S3, a reset hub download), so each passes its own predicate; the loop, the delays and the
 * attempt log are the same everywhere.
 */
import { sleep } from './concurrency.ts';
import { describeError } from './errors.ts';

export interface BackoffPolicy {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** Ceiling of the first retry's delay; the ceiling doubles with each retry. */
  baseDelayMs: number;
  /** No single delay exceeds this. */
  maxDelayMs: number;
}

/**
 * "Full jitter" (a delay drawn uniformly from [0, min(max, base·2^(retry-1))], `retry` counted
 * from 1): clients that failed together spread out instead of coming back in waves.
 */
export function backoffDelay(retry: number, policy: Pick<BackoffPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(0, retry - 1), 30));
  return Math.round(ceiling * random());
}

/** What one failed attempt looked like, as logged before the wait. */
export interface RetryEvent {
  /** The attempt that failed, counted from 1. */
  attempt: number;
  maxAttempts: number;
  /** How long we wait before the next attempt. */
  delayMs: number;
  error: unknown;
}

/** A pino logger fits; anything with `warn(fields, message)` does. */
export interface RetryLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RetryOptions {
  policy: BackoffPolicy;
  /** Whether a failure is worth another attempt; the others are thrown as they are. */
  retryable: (error: unknown) => boolean;
  /** Stops the waiting and the retrying; its reason is thrown. */
  signal?: AbortSignal | undefined;
  /** A wait the server asked for (429 Retry-After), in ms: the delay is at least that, capped at `maxDelayMs`. */
  retryAfterMs?: ((error: unknown) => number | undefined) | undefined;
  /** The error to throw when the attempts run out (default: the last failure). */
  exhausted?: ((error: unknown, attempts: number, elapsedMs: number) => unknown) | undefined;
  /** Told before each wait (for counters). */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Each retry is logged at warn with `operation`, attempt, delay and error. */
  log?: RetryLog | undefined;
  /** What is being retried, for the log line, e.g. `GET s3://bucket/key`. */
  operation?: string | undefined;
  /** For tests: the jitter source. */
  random?: (() => number) | undefined;
}

/** Runs `attempt` until it succeeds, fails for good, runs out of attempts or is aborted. */
export async function retry<T>(attempt: (n: number, signal: AbortSignal | undefined) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, signal } = options;
  const started = Date.now();
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    try {
      return await attempt(n, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!options.retryable(error)) throw error;
      if (n >= policy.maxAttempts) throw options.exhausted ? options.exhausted(error, n, Date.now() - started) : error;
      let delayMs = backoffDelay(n, policy, options.random);
      const asked = options.retryAfterMs?.(error);
      if (asked !== undefined && asked > 0) delayMs = Math.max(delayMs, Math.min(asked, policy.maxDelayMs));
      const event: RetryEvent = { attempt: n, maxAttempts: policy.maxAttempts, delayMs, error };
      options.onRetry?.(event);
      options.log?.warn(
        { operation: options.operation, attempt: n, max_attempts: policy.maxAttempts, delay_ms: delayMs, error: describeError(error) },
        `${options.operation ?? 'operation'} failed (attempt ${n} of ${policy.maxAttempts}), retrying in ${delayMs} ms`,
      );
      await sleep(delayMs, signal);
    }
  }
}
