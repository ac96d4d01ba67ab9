/**
 * The work queue for a mode, with what it needs opened around it: the embedded one gets an
 * encoder (on its own thread), the store and DATA_DIR/state.db; the distributed one the Redis
 * queues and, when QDRANT_URL is set, the store. Whatever is opened here is closed by `close()`;
 * what the caller passed in stays the caller's.
 */
import type { Config } from '../../shared/config/index.ts';
import { inspectModel } from '../../shared/encoder/model-files.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import type { EncoderStats } from '../../shared/encoder/index.ts';
import { openPipeline, type PipelineEncoder, type PipelineStore } from '../../shared/pipeline/index.ts';
import { openQueues, RedisLocks, warnIfNotPersistent, type QueueContext } from '../../shared/queue/index.ts';
import type { Locks } from '../../shared/state/types.ts';
import { LocalState } from '../../shared/state/local.ts';
import { connectStore, type StoreConnection } from '../store-connect.ts';
import { InProcessQueue } from './in-process.ts';
import { JobQueue } from './job-queue.ts';
import type { WorkQueue } from './work-queue.ts';

export type RunModeOption = 'auto' | 'embedded' | 'distributed';

export interface OpenWorkQueueOptions {
  /** `auto` (default): distributed when REDIS_URL is set. */
  mode?: RunModeOption | undefined;
  /** Embedded: an encoder already open (the demo, serve, benchmarks); left open. */
  encoder?: PipelineEncoder & { stats?(): EncoderStats } | undefined;
  /** A store already connected; left open. */
  store?: PipelineStore | undefined;
  /** Embedded: local state already open (serve's scheduler); left open. */
  state?: LocalState | undefined;
  /** Distributed: queues already open (tests, the scheduler); left open. */
  queueContext?: QueueContext | undefined;
  /** Embedded: items between fetch and stored at once (default WORKER_CONCURRENCY). */
  concurrency?: number | undefined;
  /** Re-encode items whose stored version matches. */
  force?: boolean | undefined;
  /** Embedded: run on the bundled test model when jina-clip-v2 cannot be had. */
  allowTestModel?: boolean | undefined;
  /** Distributed: follow runs until the workers finish them (default true). */
  wait?: boolean | undefined;
  /** Distributed: how often the run record is read back while following it (default 250 ms). */
  followIntervalMs?: number | undefined;
  notice?: ((line: string) => void) | undefined;
}

export interface OpenedWorkQueue {
  queue: WorkQueue;
  /** Undefined only in distributed mode without QDRANT_URL. */
  store: PipelineStore | undefined;
  encoder: (PipelineEncoder & { stats?(): EncoderStats }) | undefined;
  close(): Promise<void>;
}

export function resolveMode(config: Config, mode: RunModeOption = 'auto'): 'embedded' | 'distributed' {
  return mode === 'auto' ? (config.queue.redisUrl ? 'distributed' : 'embedded') : mode;
}

export async function openWorkQueue(config: Config, options: OpenWorkQueueOptions = {}): Promise<OpenedWorkQueue> {
  const notice = options.notice ?? (() => {});
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
  };
  try {
    if (resolveMode(config, options.mode) === 'distributed') {
      let ctx = options.queueContext;
      if (!ctx) {
        const opened = await openQueues(config.queue, { connectionName: 'clipstream-producer' });
        closers.push(() => opened.close());
        ctx = opened;
        await warnIfNotPersistent(opened.redis, notice);
      }
      let store = options.store;
      if (!store && config.store.qdrantUrl) {
        const connection = await connectStore(config);
        closers.push(() => connection.close());
        store = connection;
      }
      if (!store) notice('QDRANT_URL is not set: the producer queues every item; workers still skip unchanged ones');
      const queue = new JobQueue({
        ctx,
        model: (await inspectModel(config.model)).modelId,
        store,
        alias: config.store.collection,
        force: options.force,
        wait: options.wait,
        followIntervalMs: options.followIntervalMs,
        maxWaiting: config.queue.maxWaiting,
      });
      closers.push(() => queue.close());
      return { queue, store, encoder: undefined, close: closeAll };
    }

    let encoder = options.encoder;
    if (!encoder) {
      // On its own thread: inference is synchronous and would stall listing, fetches and upserts.
      const opened = await EncoderThread.open(config, { allowTestModel: options.allowTestModel, onNotice: notice });
      closers.push(() => opened.close());
      encoder = opened;
    }
    let store = options.store;
    if (!store) {
      const connection: StoreConnection = await connectStore(config);
      closers.push(() => connection.close());
      store = connection;
      notice(`store: ${connection.embedded ? `embedded, under ${config.store.dataDir}` : connection.url}`);
    }
    let state = options.state;
    if (!state) {
      const opened = LocalState.open(config.store.dataDir);
      closers.push(() => opened.close());
      state = opened;
    }
    const pipeline = await openPipeline(config, { encoder, store, lazy: true });
    const queue = new InProcessQueue({
      pipeline,
      state,
      model: encoder.model.modelId,
      concurrency: options.concurrency ?? config.queue.workerConcurrency,
      force: options.force,
    });
    closers.push(() => queue.close());
    return { queue, store, encoder, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Only the leases of the mode (a rollback needs no encoder and no queue). */
export async function openLocks(config: Config): Promise<{ locks: Locks; close(): Promise<void> }> {
  if (config.queue.redisUrl) {
    const ctx = await openQueues(config.queue, { connectionName: 'clipstream-locks' });
    return { locks: new RedisLocks(ctx.redis, ctx.queues.prefix), close: () => ctx.close() };
  }
  const state = LocalState.open(config.store.dataDir);
  return { locks: state.locks, close: async () => state.close() };
}
