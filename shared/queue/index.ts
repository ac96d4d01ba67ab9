/**
 * The distributed mode's plumbing: a Redis connection, the two embed queues and the ingest run
 * records, opened together from `Config['queue']`. Without `REDIS_URL` the in-process runner
 * is used instead and nothing here is touched.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import { ClipstreamError } from '../errors.ts';
import { closeRedis, connectRedis, type RedisConnectOptions } from './connection.ts';
import { createQueues, type EmbedQueues } from './queues.ts';
import { IngestRuns, type IngestRunsOptions } from './runs.ts';

export * from './connection.ts';
export * from './queues.ts';
export * from './runs.ts';

export interface QueueContext {
  redis: Redis;
  queues: EmbedQueues;
  runs: IngestRuns;
  /** `QUEUE_MAX_WAITING`, for `waitForRoom`. */
  maxWaiting: number;
  close(): Promise<void>;
}

export async function openQueues(
  queue: Pick<Config['queue'], 'redisUrl' | 'prefix' | 'maxWaiting'>,
  options: RedisConnectOptions & { runs?: IngestRunsOptions } = {},
): Promise<QueueContext> {
  if (!queue.redisUrl) {
    throw new ClipstreamError('CONFIG_INVALID', 'REDIS_URL is not set: the queues need Redis (without it, use the in-process runner)');
  }
  const redis = await connectRedis(queue.redisUrl, options);
  const queues = createQueues(redis, queue.prefix);
  return {
    redis,
    queues,
    runs: new IngestRuns(redis, queue.prefix, options.runs),
    maxWaiting: queue.maxWaiting,
    close: async () => {
      await queues.close();
      await closeRedis(redis);
    },
  };
}
export * from './locks.ts';
