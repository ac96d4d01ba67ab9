/**
 * How store failures are told apart: a transient one (the store restarting, overloaded, a
 * dropped connection) is worth waiting out; a permanent one (the request itself is wrong) is
 * not, and retrying it would only delay the report.
 */
import { QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { ClipstreamError } from '../errors.ts';

export interface RetryPolicy {
  /** Total tries, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 };

const TRANSIENT_NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** HTTP status of an error thrown by the Qdrant client (its ApiError carries one), if any. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof QdrantClientResourceExhaustedError) return 429;
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function netCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NET_CODES.has(code)) return code;
  }
  return undefined;
}

/** True for failures that may go away on their own: 5xx, 429, 408, timeouts, connection errors. */
export function isTransientStoreError(err: unknown): boolean {
  if (err instanceof QdrantClientTimeoutError || err instanceof QdrantClientResourceExhaustedError) return true;
  const status = httpStatus(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  if (netCode(err)) return true;
  // undici reports every transport failure as `TypeError: fetch failed` with the reason in `cause`.
  return err instanceof TypeError && /fetch failed|terminated|other side closed/i.test(err.message);
}

/** The store's own explanation (Qdrant answers `{status: {error}}`), else the transport's. */
export function storeMessage(err: unknown): string {
  const data = (err as { data?: unknown } | null)?.data as { status?: { error?: unknown } } | string | undefined;
  const fromBody = typeof data === 'string' ? data : data?.status?.error;
  const status = httpStatus(err);
  if (typeof fromBody === 'string' && fromBody.trim() !== '') return status ? `${status}: ${fromBody.trim()}` : fromBody.trim();
  const code = netCode(err);
  const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  if (code) return `${code} (${message})`;
  return status ? `${status}: ${message}` : message;
}

/** Exponential backoff with "equal jitter": half the step is fixed, half random, so retrying clients spread out. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return step / 2 + random() * (step / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RetryContext {
  /** The store's base URL, named in the final error. */
  storeUrl: string;
  /** What was being done, e.g. `upsert of 128 points into catalogue`. */
  operation: string;
  policy?: RetryPolicy;
  onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
}

/**
 * Runs `fn`, retrying transient failures with backoff. Permanent failures are rethrown as they
 * are (the caller knows what the request was about); exhausted retries become STORE_UNAVAILABLE.
 */
export async function withStoreRetry<T>(fn: (attempt: number) => Promise<T>, ctx: RetryContext): Promise<T> {
  const policy = ctx.policy ?? DEFAULT_RETRY;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      if (attempt >= policy.maxAttempts) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        throw new ClipstreamError(
          'STORE_UNAVAILABLE',
          `store at ${ctx.storeUrl} unavailable: ${ctx.operation} failed ${attempt} times over ${seconds}s; last error: ${storeMessage(err)}`,
          { cause: err },
        );
      }
      let delay = backoffDelay(attempt, policy);
      if (err instanceof QdrantClientResourceExhaustedError && err.retry_after > 0) {
        delay = Math.max(delay, Math.min(err.retry_after * 1000, policy.maxDelayMs));
      }
      ctx.onRetry?.(attempt, err, delay);
      await sleep(delay);
    }
  }
}
