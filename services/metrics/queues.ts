/**
 * Queue depth as Prometheus gauges, read from Redis at scrape time: jobs per state
 * (`clipstream_queue_jobs{queue, state}`) and the age of the oldest job still waiting
 * (`clipstream_queue_oldest_waiting_seconds{queue}`) — the figure an alert on a stuck fleet
 * wants, since a deep queue that drains is fine and a shallow one that does not is not.
 *
 * Every worker reports every embed queue (not only those it consumes), so any one of them is
 * enough for the dashboard; aggregate with max by (queue). A scrape that cannot reach Redis
 * reports `clipstream_queue_up{queue} 0` instead of stale depths.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

/** The states a job waits in or runs in; completed jobs are trimmed, so they are not counted. */
export const COUNTED_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'waiting-children'] as const;

export interface QueueMetricsOptions {
  redis: Redis;
  prefix: string;
  /** BullMQ queue names, e.g. embed-image, embed-text. */
  queues: readonly string[];
  /** Upper bound on one scrape's Redis reads. */
  timeoutMs?: number;
}

export interface QueueMetrics {
  close(): Promise<void>;
}

export function registerQueueMetrics(registry: Registry, options: QueueMetricsOptions): QueueMetrics {
  const queues = options.queues.map((name) => new Queue(name, { connection: options.redis, prefix: options.prefix }));
  const timeoutMs = options.timeoutMs ?? 3_000;
  const registers = [registry];
  // prom-client awaits an async collect() before it renders the series.
  const collect = () => read();
  const jobs = new Gauge({ name: 'clipstream_queue_jobs', help: 'Jobs in a queue by state (waiting, prioritized, delayed, active, failed, waiting-children)', labelNames: ['queue', 'state'], registers, collect });
  const oldest = new Gauge({
    name: 'clipstream_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting to be picked up (0 when none waits)',
    labelNames: ['queue'],
    registers,
    collect,
  });
  const up = new Gauge({ name: 'clipstream_queue_up', help: '1 when the last scrape read the queue from Redis, 0 when it could not', labelNames: ['queue'], registers, collect });

  // One read of Redis per scrape, shared by the three gauges' collect() calls.
  let reading: Promise<void> | undefined;
  const read = (): Promise<void> => {
    reading ??= (async () => {
      try {
        await Promise.all(
          queues.map(async (queue) => {
            try {
              const [counts, [next]] = await withTimeout(
                Promise.all([queue.getJobCounts(...COUNTED_STATES), queue.getJobs(['wait', 'prioritized'], 0, 0, true)]),
                timeoutMs,
              );
              for (const state of COUNTED_STATES) jobs.set({ queue: queue.name, state }, counts[state] ?? 0);
              oldest.set({ queue: queue.name }, next ? Math.max(0, (Date.now() - next.timestamp) / 1000) : 0);
              up.set({ queue: queue.name }, 1);
            } catch {
              // Stale figures would read as a healthy queue: drop them and say why.
              for (const state of COUNTED_STATES) jobs.remove({ queue: queue.name, state });
              oldest.remove({ queue: queue.name });
              up.set({ queue: queue.name }, 0);
            }
          }),
        );
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  return {
    close: async () => {
      await Promise.all(queues.map((q) => q.close().catch(() => {})));
    },
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
