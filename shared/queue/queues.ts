/**
 * Every queue, its job type and its options, in one place: producers and workers import this.
 *
 * Two queues, one per modality: a text record encodes in a fraction of an image's time, so
 * they scale (worker count, concurrency, batch size) apart, and a backlog of images never
 * holds up texts.
 *
 * Job ids: `<point id>.<version>`. The point id is the UUIDv5 of the item's source URI, the
 * version its ETag or content hash, so the same unchanged item maps to the same job and
 * BullMQ's id check stops it being queued twice while it waits or runs. (`.` rather than the
 * `:` the architecture notes use: BullMQ refuses custom ids containing `:`, and ids that parse
 * as integers.)
 *
 * Retention: completed jobs are trimmed (an hour, at most 1000) — they carry nothing the run
 * record and the stored point do not. That ends id-dedupe for finished jobs, on purpose: whether
 * an item needs encoding again is decided by the producer's skip-unchanged check against the
 * store (the point's stored version), which survives Redis being flushed; a finished job with
 * the same id only means an earlier run handled it, and if the store nevertheless lacks that
 * version (a new collection, a deleted point), `enqueueItems` replaces the old job.
 * Failed jobs are kept (up to 100k per queue) with their reason: they are the dead-letter
 * record, listable with BullMQ tooling; a later run that queues the same item replaces them.
 */
import { createHash } from 'node:crypto';
import { Queue, type DefaultJobOptions, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CatalogueItem, ImageObject, Modality, TextRecord } from '../catalogue/types.ts';
import { ClipstreamError, isClipstreamError, isRetryableCode } from '../errors.ts';
import { sleep } from '../concurrency.ts';
import { pointId } from '../store/ids.ts';

export const QUEUE_NAMES = { image: 'embed-image', text: 'embed-text' } as const satisfies Record<Modality, string>;

/**
 * The job schedulers of `clipstream schedule add` (one per schedule, the schedule as job data,
 * the run mode as job name), consumed by `clipstream scheduler`.
 */
export const SCHEDULES_QUEUE = 'schedules';

/** What a job carries: the item itself (workers need nothing else to fetch it), its run and where it goes. */
export interface EmbedJobData<T extends CatalogueItem = CatalogueItem> {
  runId: string;
  item: T;
  /** RFC 3339; lets a worker report queue latency. */
  enqueuedAt: string;
  /**
   * The physical collection to write to (`catalogue_v3`). Carried by the job, not resolved by the
   * worker, so after an alias swap running workers still write where the run meant, and a sync of
   * the live collection and a rebuild of the next one can share the workers. Absent (older
   * producers, or one without store access): the collection behind the alias.
   */
  collection?: string;
  /** The producer has just checked the item is new or changed: encode without asking the store. */
  force?: boolean;
}

/** What `enqueueItems` puts into each job besides the item. */
export interface JobTarget {
  collection?: string | undefined;
  force?: boolean | undefined;
}
export type EmbedImageJobData = EmbedJobData<ImageObject>;
export type EmbedTextJobData = EmbedJobData<TextRecord>;

/** Per-modality defaults; `attempts` counts the first try. */
export const DEFAULT_JOB_OPTIONS: Readonly<Record<Modality, DefaultJobOptions>> = {
  image: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { age: 3_600, count: 1_000 },
    removeOnFail: { count: 100_000 },
  },
  text: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3_600, count: 1_000 },
    removeOnFail: { count: 100_000 },
  },
};

/**
 * Whether a job that failed with `err` deserves another attempt: the error table's retryable
 * flag for our codes; a worker throws BullMQ's `UnrecoverableError` for the rest so the job goes
 * straight to failed instead of burning its retries.
 */
export function isRetryableJobError(err: unknown): boolean {
  if (isClipstreamError(err)) return isRetryableCode(err.code);
  return true; // unexpected errors (a bug, a dropped socket) get the benefit of the doubt
}

const SAFE_ID = /^[A-Za-z0-9_.-]+$/;

/**
 * `<point id>.<version>[.<collection>]`; a version with other characters (or over 128 chars) is
 * hashed to stay a safe id. The collection is part of the id so that the same item can wait for
 * the live collection (a sync) and for the next version (a rebuild) at once.
 */
export function jobIdFor(item: Pick<CatalogueItem, 'sourceUri' | 'version'>, collection?: string): string {
  if (item.version === '') throw new ClipstreamError('BAD_REQUEST', 'item has an empty version', { item: item.sourceUri });
  const version = SAFE_ID.test(item.version) && item.version.length <= 128 ? item.version : `h${shortHash(item.version)}`;
  return collection ? `${pointId(item.sourceUri)}.${version}.${collection}` : `${pointId(item.sourceUri)}.${version}`;
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32);
}

export interface EmbedQueues {
  image: Queue<EmbedImageJobData>;
  text: Queue<EmbedTextJobData>;
  prefix: string;
  close(): Promise<void>;
}

/** The queues on an existing connection (see `connectRedis`), under `QUEUE_PREFIX`. */
export function createQueues(connection: Redis, prefix: string, jobOptions: Partial<Record<Modality, DefaultJobOptions>> = {}): EmbedQueues {
  const image = new Queue<EmbedImageJobData>(QUEUE_NAMES.image, {
    connection,
    prefix,
    defaultJobOptions: { ...DEFAULT_JOB_OPTIONS.image, ...jobOptions.image },
  });
  const text = new Queue<EmbedTextJobData>(QUEUE_NAMES.text, {
    connection,
    prefix,
    defaultJobOptions: { ...DEFAULT_JOB_OPTIONS.text, ...jobOptions.text },
  });
  return {
    image,
    text,
    prefix,
    // The connection belongs to the caller, who may share it (run records); closing a Queue
    // built on a passed-in ioredis instance leaves that instance open.
    close: async () => {
      await Promise.all([image.close(), text.close()]);
    },
  };
}

export function queueFor(queues: EmbedQueues, modality: Modality): Queue<EmbedJobData> {
  return (modality === 'image' ? queues.image : queues.text) as unknown as Queue<EmbedJobData>;
}

/**
 * - `enqueued`: a new job.
 * - `requeued`: a finished (completed or failed) job of the same item and version was replaced.
 * - `duplicate`: the same item and version is already waiting or running (e.g. from an earlier,
 *   unfinished run); nothing was added.
 */
export type EnqueueResult = 'enqueued' | 'requeued' | 'duplicate';

/**
 * Queues items (one modality or mixed) for `runId`, in one round of Redis calls per step.
 * Results are in input order. Callers should have dropped items the store already holds at
 * the same version; this only guards against double-queuing in-flight work.
 */
export async function enqueueItems(
  queues: EmbedQueues,
  runId: string,
  items: readonly CatalogueItem[],
  target: JobTarget = {},
  opts: JobsOptions = {},
): Promise<EnqueueResult[]> {
  const ids = items.map((item) => jobIdFor(item, target.collection));
  const states = await Promise.all(items.map((item, i) => queueFor(queues, item.kind).getJobState(ids[i]!)));
  const results: EnqueueResult[] = states.map((s) => (s === 'unknown' ? 'enqueued' : s === 'completed' || s === 'failed' ? 'requeued' : 'duplicate'));
  // A job that finished meanwhile cannot be removed by id twice; an already-gone job is fine.
  await Promise.all(
    items.map((item, i) => (results[i] === 'requeued' ? queueFor(queues, item.kind).remove(ids[i]!).catch(() => 0) : undefined)),
  );
  const enqueuedAt = new Date().toISOString();
  for (const modality of ['image', 'text'] as const) {
    const batch = items.flatMap((item, i) =>
      item.kind === modality && results[i] !== 'duplicate'
        ? [{ name: QUEUE_NAMES[modality], data: { runId, item, enqueuedAt, ...jobTarget(target) }, opts: { ...opts, jobId: ids[i]! } }]
        : [],
    );
    if (batch.length > 0) await queueFor(queues, modality).addBulk(batch);
  }
  return results;
}

function jobTarget(target: JobTarget): Pick<EmbedJobData, 'collection' | 'force'> {
  return { ...(target.collection ? { collection: target.collection } : {}), ...(target.force ? { force: true } : {}) };
}

export async function enqueueItem(queues: EmbedQueues, runId: string, item: CatalogueItem, target: JobTarget = {}): Promise<EnqueueResult> {
  return (await enqueueItems(queues, runId, [item], target))[0]!;
}

/** Jobs a worker has yet to pick up (waiting or prioritized; a paused queue keeps its jobs waiting). */
export async function pendingCount(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Producer backpressure: resolves once fewer than `maxWaiting` jobs wait in `queue`
 * (`QUEUE_MAX_WAITING`), polling with a growing interval. Redis memory stays bounded by the
 * limit, whatever the catalogue size. Rejects with the signal's reason on abort.
 */
export async function waitForRoom(
  queue: Queue,
  maxWaiting: number,
  options: { pollMs?: number; maxPollMs?: number; signal?: AbortSignal | undefined } = {},
): Promise<number> {
  const { pollMs = 100, maxPollMs = 2_000, signal } = options;
  let delay = pollMs;
  for (;;) {
    signal?.throwIfAborted();
    const waiting = await pendingCount(queue);
    if (waiting < maxWaiting) return waiting;
    await sleep(delay, signal);
    delay = Math.min(maxPollMs, delay * 2);
  }
}
