/**
 * `clipstream scheduler`: consumes the `schedules` queue, whose jobs BullMQ's job schedulers
 * create at each firing, and runs each as a distributed sync or rebuild — this process lists the
 * sources and follows the run; the embed workers do the encoding.
 *
 * BullMQ queues a schedule's next firing when the current one starts, so a firing during a long
 * run arrives while that run still goes: the worker takes several firings at once
 * (`concurrency`) so such a firing is seen and recorded as skipped rather than waiting behind
 * the run. Several scheduler processes may run (each firing goes to one of them); the leases in
 * Redis keep one run per source across all of them.
 */
import { Worker } from 'bullmq';
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError, describeError } from '../../shared/errors.ts';
import type { PipelineStore } from '../../shared/pipeline/index.ts';
import { openQueues, RedisLocks, SCHEDULES_QUEUE, warnIfNotPersistent, type QueueContext } from '../../shared/queue/index.ts';
import type { Schedule } from '../../shared/state/types.ts';
import { connectStore } from '../store-connect.ts';
import { fireSchedule, type Firing, type ScheduledRunners } from './fire.ts';
import { RedisSchedules } from './redis-schedules.ts';

export interface SchedulerOptions {
  /** Firings handled at once (default 4); beyond it a firing waits for a free slot. */
  concurrency?: number;
  /** Queues already open (tests); left open. */
  queueContext?: QueueContext;
  /** A store already connected; left open. Default: QDRANT_URL. */
  store?: PipelineStore;
  /** A killed scheduler's firing is taken over after about this long (BullMQ job lock). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  log?: (line: string) => void;
  /** Called when a firing has ended (ran or skipped) and is recorded. */
  onFired?: (firing: Firing) => void;
  runners?: ScheduledRunners;
}

export interface RunningScheduler {
  /** Stops taking firings, interrupts the runs going on (they record themselves) and waits for them. */
  close(): Promise<void>;
}

export const DEFAULT_SCHEDULER_CONCURRENCY = 4;

export async function startScheduler(config: Config, options: SchedulerOptions = {}): Promise<RunningScheduler> {
  const log = options.log ?? (() => {});
  if (!options.queueContext && !config.queue.redisUrl) {
    throw new ClipstreamError('CONFIG_INVALID', 'REDIS_URL is not set: the scheduler runs the schedules kept in Redis (without Redis, `clipstream serve` runs the schedules of DATA_DIR/state.db)');
  }
  if (!options.store && !config.store.qdrantUrl) {
    throw new ClipstreamError('CONFIG_INVALID', "QDRANT_URL is not set: scheduled syncs and rebuilds compare the sources with the store and write to it (the embedded store belongs to the one process that started it)");
  }
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    let ctx = options.queueContext;
    if (!ctx) {
      const opened = await openQueues(config.queue, { connectionName: 'clipstream-scheduler', onError: (e) => log(`redis: ${describeError(e)}`) });
      closers.push(() => opened.close());
      ctx = opened;
      // The schedules are only as durable as Redis: without persistence its restart forgets them.
      await warnIfNotPersistent(opened.redis, log);
    }
    let store = options.store;
    if (!store) {
      const connection = await connectStore(config);
      closers.push(() => connection.close());
      store = connection;
    }
    const schedules = new RedisSchedules(ctx.redis, ctx.queues.prefix);
    closers.push(() => schedules.close());
    const locks = new RedisLocks(ctx.redis, ctx.queues.prefix);
    const abort = new AbortController();
    const queueContext = ctx;
    const shared = { mode: 'distributed' as const, queueContext, store };

    const worker = new Worker<Schedule, Firing | { removed: true }>(
      SCHEDULES_QUEUE,
      async (job) => {
        const id = job.repeatJobKey ?? job.data.id;
        // Removed after this firing was queued: nothing to run, nothing to record.
        if (!(await schedules.has(id))) return { removed: true };
        const firing = await fireSchedule(config, { ...job.data, id }, { runs: queueContext.runs, locks, schedules, shared, signal: abort.signal, log, runners: options.runners });
        options.onFired?.(firing);
        return firing;
      },
      {
        connection: ctx.redis,
        prefix: ctx.queues.prefix,
        concurrency: options.concurrency ?? DEFAULT_SCHEDULER_CONCURRENCY,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
      },
    );
    worker.on('error', (err) => log(`scheduler: ${describeError(err)}`));
    worker.on('failed', (job, err) => log(`scheduler: firing ${job?.id ?? '?'} failed: ${describeError(err)}`));
    await worker.waitUntilReady();
    const count = (await schedules.list()).length;
    log(`scheduler: ${count} schedule(s) in ${ctx.queues.prefix}:${SCHEDULES_QUEUE}, up to ${options.concurrency ?? DEFAULT_SCHEDULER_CONCURRENCY} firings at once`);
    return {
      async close() {
        abort.abort(new Error('the scheduler is stopping'));
        await worker.close();
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
