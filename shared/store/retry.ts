/**
 * How store failures are told apart: a transient one (the store restarting, overloaded, a
 * dropped connection) is worth waiting out; a permanent one (the request itself is wrong) is
 * not, and retrying it would only delay the report.
 */
import { QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from '@qdrant/js-client-rest';
import { ClipstreamError } from '../errors.ts';
import { retry, type BackoffPolicy, type RetryLog } from '../retry.ts';

export const DEFAULT_STORE_RETRY: BackoffPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 };

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

export interface RetryContext {
  /** The store's base URL, named in the final error. */
  storeUrl: string;
  /** What was being done, e.g. `upsert of 128 points into catalogue`. */
  operation: string;
  policy?: BackoffPolicy | undefined;
  onRetry?: ((attempt: number, err: unknown, delayMs: number) => void) | undefined;
  log?: RetryLog | undefined;
  signal?: AbortSignal | undefined;
}

/** The wait a 429 asked for (Qdrant's Retry-After, in seconds), in ms. */
function retryAfterMs(err: unknown): number | undefined {
  return err instanceof QdrantClientResourceExhaustedError && err.retry_after > 0 ? err.retry_after * 1000 : undefined;
}

/**
 * Runs `fn`, retrying transient failures with backoff (a 429's Retry-After is honoured up to the
 * policy's longest delay). Permanent failures are rethrown as they are (the caller knows what
 * the request was about); exhausted retries become STORE_UNAVAILABLE.
 */
export function withStoreRetry<T>(fn: (attempt: number) => Promise<T>, ctx: RetryContext): Promise<T> {
  return retry((attempt) => fn(attempt), {
    policy: ctx.policy ?? DEFAULT_STORE_RETRY,
    retryable: isTransientStoreError,
    retryAfterMs,
    signal: ctx.signal,
    operation: `${ctx.operation} at ${ctx.storeUrl}`,
    log: ctx.log,
    onRetry: ctx.onRetry && ((e) => ctx.onRetry?.(e.attempt, e.error, e.delayMs)),
    exhausted: (err, attempts, elapsedMs) =>
      new ClipstreamError(
        'STORE_UNAVAILABLE',
        `store at ${ctx.storeUrl} unavailable: ${ctx.operation} failed ${attempts} times over ${(elapsedMs / 1000).toFixed(1)}s; last error: ${storeMessage(err)}`,
        { cause: err },
      ),
  });
}
