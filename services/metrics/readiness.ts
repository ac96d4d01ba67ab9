/**
 * A worker is ready when it can do its job end to end: Redis answers (jobs come from there),
 * the store answers (points go there) and the model encodes. Each check is bounded, so a hung
 * dependency makes /readyz say so instead of hanging the probe.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { Redis } from 'ioredis';
import { describeError } from '../../shared/errors.ts';
import { redactRedisUrl } from '../../shared/queue/connection.ts';
import type { Readiness, ReadinessCheck } from './listener.ts';

export interface ModelProbe {
  modelId: string;
  /** When the last encode succeeded (ms since the epoch), 0 before any. */
  lastSuccessAt(): number;
  /** Set once the encoder is gone for good. */
  closedError(): Error | undefined;
  /** One small encode, run when nothing succeeded recently. */
  probe(): Promise<unknown>;
}

export interface WorkerReadinessOptions {
  redis: Redis;
  redisUrl: string;
  store: { client: QdrantClient; url: string };
  model: ModelProbe;
  timeoutMs?: number;
  /** An encode that succeeded this recently counts as the model check. */
  freshMs?: number;
}

export function workerReadiness(o: WorkerReadinessOptions): Readiness {
  const ms = o.timeoutMs ?? 3_000;
  const freshMs = o.freshMs ?? 30_000;
  const bounded = async (what: string, work: () => Promise<string>): Promise<ReadinessCheck> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        work(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms))),
      ]);
      return { ok: true, detail };
    } catch (err) {
      return { ok: false, detail: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  };
  let probedAt = 0;
  return async () => {
    const [redis, store, model] = await Promise.all([
      bounded(`Redis at ${redactRedisUrl(o.redisUrl)}`, async () => {
        await o.redis.ping();
        return `ok: ${redactRedisUrl(o.redisUrl)}`;
      }),
      bounded(`the store at ${o.store.url}`, async () => {
        const { collections } = await o.store.client.getCollections();
        return `ok: ${o.store.url} (${collections.length} collections)`;
      }),
      (async (): Promise<ReadinessCheck> => {
        const closed = o.model.closedError();
        if (closed) return { ok: false, detail: `the encoder is gone: ${closed.message}` };
        if (Date.now() - Math.max(o.model.lastSuccessAt(), probedAt) < freshMs) return { ok: true, detail: `ok: ${o.model.modelId}` };
        return bounded(`the encoder (${o.model.modelId})`, async () => {
          await o.model.probe();
          probedAt = Date.now();
          return `ok: ${o.model.modelId}`;
        });
      })(),
    ]);
    return { redis, store, model };
  };
}
