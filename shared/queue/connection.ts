/**
 * The Redis connection behind the queues and run records. BullMQ needs
 * `maxRetriesPerRequest: null` (a worker's blocking commands must survive a reconnect rather
 * than fail), so once running, commands wait through outages while ioredis reconnects with a
 * capped backoff. Start-up is different: a producer or worker pointed at a wrong `REDIS_URL`
 * must fail fast with a message that names it, not hang.
 */
import { Redis } from 'ioredis';
import { ClipstreamError, describeError } from '../errors.ts';
import { backoffDelay } from '../retry.ts';

export interface RedisConnectOptions {
  /** Give up at start-up when Redis has not answered within this time. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts (start-up and later outages). */
  maxReconnectDelayMs?: number;
  /** Shown by `CLIENT LIST`, to tell producers and workers apart. */
  connectionName?: string;
  /** Connection errors after start-up (ioredis keeps reconnecting meanwhile). */
  onError?: (err: Error) => void;
}

/** The URL with any password replaced by `***`, safe for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^@/]*)@/, '//***@');
  }
}

/**
 * ioredis runs the reconnect loop itself; it asks for each pause, which comes from the one
 * backoff policy (full jitter, so workers dropped by the same Redis restart do not reconnect in
 * step). Reconnects never stop, hence no attempt limit here.
 */
function reconnectDelay(times: number, maxDelayMs: number): number {
  return backoffDelay(times, { baseDelayMs: RECONNECT_BASE_DELAY_MS, maxDelayMs });
}

const RECONNECT_BASE_DELAY_MS = 50;

/**
 * Connects to `url` and resolves once Redis is ready. QUEUE_UNAVAILABLE (naming the URL, the
 * time waited and the last error) if it is not ready within `connectTimeoutMs`.
 */
export async function connectRedis(url: string, options: RedisConnectOptions = {}): Promise<Redis> {
  const { connectTimeoutMs = 10_000, maxReconnectDelayMs = 5_000 } = options;
  const shown = redactRedisUrl(url);
  let lastError: Error | undefined;
  let redis: Redis;
  try {
    redis = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      connectTimeout: Math.min(connectTimeoutMs, 10_000),
      connectionName: options.connectionName,
      retryStrategy: (times) => reconnectDelay(times, maxReconnectDelayMs),
      // How long a closing socket may linger before it is destroyed. The 2 s default also holds
      // the process open after a failed start-up. (Read by ioredis's connector; not in its typings.)
      ...({ disconnectTimeout: 500 } as object),
    });
  } catch (err) {
    throw new ClipstreamError('QUEUE_UNAVAILABLE', `invalid Redis URL ${shown}: ${describeError(err)}`, { cause: err });
  }
  // Without a listener ioredis prints every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => {
    lastError = err;
    options.onError?.(err);
  });

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        redis.once('ready', resolve);
        // connect() rejects on the first failed attempt while ioredis goes on retrying; the
        // 'ready' event (or the deadline) is what decides.
        redis.connect().catch((err: Error) => (lastError ??= err));
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const why = lastError ? describeError(lastError) : 'no answer';
          reject(new ClipstreamError('QUEUE_UNAVAILABLE', `cannot reach Redis at ${shown} within ${connectTimeoutMs} ms (${why}); check REDIS_URL`));
        }, connectTimeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/** Quits politely (or drops the socket if Redis is gone) and resolves once the connection has ended. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.quit(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('quit timeout')), 2_000);
      }),
    ]);
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
  // A connection caught between reconnect attempts may never emit 'end': do not wait for it forever.
  let endTimer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise<void>((resolve) => (endTimer = setTimeout(resolve, 1_000)))]);
  clearTimeout(endTimer);
}

/**
 * Says so when Redis keeps nothing on disk (no RDB snapshots, no AOF): a restart then loses
 * every queued job and run record. Managed Redis often refuses CONFIG; then nothing is said.
 */
export async function warnIfNotPersistent(redis: Redis, warn: (line: string) => void): Promise<boolean> {
  try {
    const [, save] = (await redis.config('GET', 'save')) as [string, string];
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    if ((save ?? '').trim() === '' && aof === 'no') {
      warn(
        'redis: persistence is off (save "" and appendonly no): a Redis restart loses the queued jobs and run records. ' +
          'Enable AOF (appendonly yes) in production; runs that lose their state stop with QUEUE_STATE_LOST and can be resumed with --resume',
      );
      return false;
    }
  } catch {
    // CONFIG disabled (managed Redis): assume the operator configured persistence.
  }
  return true;
}
