/**
 * Queue consumers: one BullMQ worker per modality queue, all feeding the same pipeline (and so
 * the same encoder micro-batcher and the same batched upserter). A worker runs up to
 * `concurrency` jobs per queue at once; that many items waiting in the encoder is what fills its
 * batches.
 *
 * Acknowledgement: a job completes only after its point is stored with wait=true (the upserter
 * resolves then). A worker that dies before leaves the job active with an expiring lock; BullMQ's
 * stalled-job check puts it back on the queue, and the deterministic point id makes the second
 * write replace the first: at-least-once delivery, exactly-once effect.
 *
 * Failures: an item's own fault (undecodable, empty, gone) fails the job at once, without
 * retries (UnrecoverableError), as the dead-letter record. Infrastructure trouble (store down
 * past the upserter's retries, S3 unreachable) is thrown so BullMQ retries the job with backoff.
 * The run record counts the job when it is done, or failed for good.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Modality } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError, describeError } from '../../shared/errors.ts';
import { failureOf, openPipeline, type OpenPipelineOptions, type Pipeline, type PipelineEncoder, type PipelineStore } from '../../shared/pipeline/index.ts';
import {
  closeRedis,
  connectRedis,
  IngestRuns,
  isRetryableJobError,
  QUEUE_NAMES,
  warnIfNotPersistent,
  type EmbedJobData,
} from '../../shared/queue/index.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { createByteFetcher } from '../../shared/pipeline/fetch.ts';
import { createS3Client } from '../../shared/sources/s3.ts';
import { instrumentEncoder, instrumentFetcher, PipelineMetrics, type InstrumentedEncoder } from '../../services/metrics/pipeline.ts';
import type { Readiness } from '../../services/metrics/listener.ts';
import { workerReadiness } from '../../services/metrics/readiness.ts';

export interface EmbedWorkerOptions {
  /** Which queues to consume (default both). */
  modalities?: readonly Modality[] | undefined;
  /** Jobs in flight per queue (default WORKER_CONCURRENCY). */
  concurrency?: number | undefined;
  encoder: PipelineEncoder;
  store: PipelineStore;
  /** A connection to reuse (left open); default: a new one to REDIS_URL. */
  redis?: Redis | undefined;
  /** How long a job's lock lasts without renewal: a killed worker's jobs return after about this long. */
  lockDurationMs?: number | undefined;
  /** How often stalled jobs are looked for. */
  stalledIntervalMs?: number | undefined;
  /** Stalls a job survives before it fails. */
  maxStalledCount?: number | undefined;
  /** Passed to `openPipeline` (image fetcher, upserter retry policy). */
  pipeline?: Omit<OpenPipelineOptions, 'encoder' | 'store'> | undefined;
  /**
   * One line per noteworthy event (start, retry, failure, shutdown). Lines about an item come
   * with its `run_id`, `job_id`, `item` and `collection`, and a `level` for failures and retries.
   */
  log?: ((line: string, fields?: { level?: 'debug' | 'info' | 'warn' | 'error'; run_id?: string; job_id?: string | undefined; item?: string; collection?: string; code?: string }) => void) | undefined;
  /** How long `close()` waits for jobs in flight (default WORKER_SHUTDOWN_GRACE_MS). */
  shutdownGraceMs?: number | undefined;
  /** Where to record the pipeline's metrics (services/metrics/pipeline.ts); none when absent. Queue depth is the caller's (registerQueueMetrics). */
  metrics?: Registry | undefined;
}

/** Whether `work` settled within `ms` (its outcome is not awaited beyond that). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const, () => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export interface EmbedWorkerStats {
  completed: number;
  /** Jobs failed for good (item errors, or retries exhausted). */
  failed: number;
  /** Attempts that failed and will be retried. */
  retried: number;
  skipped: number;
  indexed: number;
}

export interface EmbedWorker {
  readonly modalities: readonly Modality[];
  readonly pipeline: Pipeline;
  stats(): EmbedWorkerStats;
  /** Redis, the store and the model answer (for /readyz). */
  readiness: Readiness;
  /** Stops taking jobs, finishes those in flight (their points stored and acked), then closes the queues' connections. */
  close(): Promise<void>;
}

export async function startEmbedWorker(config: Config, options: EmbedWorkerOptions): Promise<EmbedWorker> {
  const modalities = options.modalities ?? (['image', 'text'] as const);
  const concurrency = options.concurrency ?? config.queue.workerConcurrency;
  const log = options.log ?? (() => {});
  if (!options.redis && !config.queue.redisUrl) {
    throw new ClipstreamError('CONFIG_INVALID', 'REDIS_URL is not set: a worker consumes the Redis queues (without Redis, `clipstream ingest` runs the pipeline in-process)');
  }
  const redis = options.redis ?? (await connectRedis(config.queue.redisUrl!, { connectionName: 'clipstream-worker', onError: (e) => log(`redis: ${describeError(e)}`) }));
  const runs = new IngestRuns(redis, config.queue.prefix);
  if (!options.redis) await warnIfNotPersistent(redis, log);
  const metrics = options.metrics ? new PipelineMetrics(options.metrics) : undefined;
  const instrumented: InstrumentedEncoder | undefined = metrics ? instrumentEncoder(options.encoder, metrics) : undefined;
  const encoder: PipelineEncoder = instrumented ?? options.encoder;
  let pipeline: Pipeline;
  try {
    const pipelineOptions = { ...options.pipeline };
    if (metrics) {
      const fetchBytes =
        pipelineOptions.fetchBytes ??
        createByteFetcher({ s3Client: pipelineOptions.s3Client ?? (() => createS3Client(config.s3)), maxBytes: config.encoder.imageMaxBytes });
      pipelineOptions.fetchBytes = instrumentFetcher(fetchBytes, metrics);
      const onRequest = pipelineOptions.upserter?.onRequest;
      pipelineOptions.upserter = { ...pipelineOptions.upserter, onRequest: (e) => (metrics.onUpsertRequest(e), onRequest?.(e)) };
    }
    // Lazy: jobs name the collection they are for; the alias is resolved only for jobs that do not.
    pipeline = await openPipeline(config, { ...pipelineOptions, encoder, store: options.store, lazy: true });
  } catch (err) {
    if (!options.redis) await closeRedis(redis);
    throw err;
  }
  const spec = { alias: config.store.collection, dims: options.encoder.dims, model: options.encoder.model.modelId, payloadIndexes: config.store.payloadIndexes };
  let aliasTarget: Promise<string> | undefined;
  /** Jobs of older producers (or of one without store access) carry no collection: the alias's, made if missing. */
  const targetOf = (job: Job<EmbedJobData>): Promise<string> => {
    if (job.data.collection) return Promise.resolve(job.data.collection);
    aliasTarget ??= ensureCollection(options.store.client, spec, { storeUrl: options.store.url }).then((c) => c.collection);
    aliasTarget.catch(() => (aliasTarget = undefined));
    return aliasTarget;
  };
  const stats: EmbedWorkerStats = { completed: 0, failed: 0, retried: 0, skipped: 0, indexed: 0 };

  const processJob = async (job: Job<EmbedJobData>): Promise<{ status: string; pointId?: string }> => {
    const { runId, item } = job.data;
    const queue = QUEUE_NAMES[item.kind];
    const about = { run_id: runId, job_id: job.id, item: item.sourceUri, collection: job.data.collection ?? config.store.collection };
    let outcome;
    try {
      const stages = await pipeline.forCollection(await targetOf(job));
      outcome = await stages.processor.process(item, { force: job.data.force === true });
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      const final = !isRetryableJobError(err) || job.attemptsMade + 1 >= attempts;
      if (final) {
        const failure = failureOf(item.sourceUri, err);
        await runs.recordFailed(runId, failure, item.kind, job.id);
        stats.failed++;
        metrics?.jobsProcessed.inc({ queue, outcome: 'failed' });
        metrics?.jobsFailed.inc({ queue, code: failure.code });
        log(`✗ ${item.sourceUri}: ${describeError(err)} (gave up after ${job.attemptsMade + 1} attempt(s))`, { ...about, level: 'error', code: failure.code });
        throw new UnrecoverableError(describeError(err));
      }
      stats.retried++;
      const cause = failureOf(item.sourceUri, err).code;
      metrics?.jobsProcessed.inc({ queue, outcome: 'retried' });
      metrics?.retries.inc({ stage: 'job', cause });
      log(`retrying ${item.sourceUri} (attempt ${job.attemptsMade + 1}/${attempts}): ${describeError(err)}`, { ...about, level: 'warn', code: cause });
      throw err;
    }
    if (outcome.status === 'failed') {
      await runs.recordFailed(runId, outcome.failure, item.kind, job.id);
      stats.failed++;
      metrics?.jobsProcessed.inc({ queue, outcome: 'failed' });
      metrics?.jobsFailed.inc({ queue, code: outcome.failure.code });
      log(`✗ ${outcome.failure.item}: ${outcome.failure.code}: ${outcome.failure.reason}`, { ...about, level: 'warn', code: outcome.failure.code });
      throw new UnrecoverableError(`${outcome.failure.code}: ${outcome.failure.reason}`);
    }
    // Counted before the acknowledgement, once per job id: a crash in between re-runs the job,
    // which finds the point stored (skip-unchanged) and is not counted twice.
    await runs.recordDone(runId, item.kind, job.id);
    log(outcome.status === 'skipped' ? 'unchanged, skipped' : 'indexed', { ...about, level: 'debug' });
    if (outcome.status === 'indexed') for (const w of outcome.warnings ?? []) log(`⚠ ${outcome.item}: ${w}`, { ...about, level: 'warn' });
    if (outcome.status === 'skipped') stats.skipped++;
    else stats.indexed++;
    stats.completed++;
    metrics?.jobsProcessed.inc({ queue, outcome: outcome.status });
    if (outcome.status === 'skipped') metrics?.itemsSkipped.inc({ modality: item.kind });
    else metrics?.itemsEncoded.inc({ modality: item.kind });
    return { status: outcome.status, pointId: outcome.pointId };
  };

  let lastLostNotice = 0;
  const workers = modalities.map((modality) => {
    const worker = new Worker<EmbedJobData>(QUEUE_NAMES[modality], processJob, {
      connection: redis,
      prefix: config.queue.prefix,
      concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 3,
      name: `clipstream-worker-${process.pid}`,
    });
    worker.on('error', (err) => {
      // Redis restarted without its data: every job in hand is gone. Said once, not per job.
      if (/Missing key for job|Missing lock for job/.test(err.message)) {
        if (Date.now() - lastLostNotice < 60_000) return;
        lastLostNotice = Date.now();
        log(
          `${QUEUE_NAMES[modality]}: Redis lost the queue state (${err.message}): was it restarted without persistence? ` +
            'Jobs in hand cannot be acknowledged; the producer reports the items that are not stored (re-run it with --resume)',
        );
        return;
      }
      log(`${QUEUE_NAMES[modality]}: ${describeError(err)}`);
    });
    worker.on('failed', (job, err) => {
      // A job given up by the stall check never reached processJob's accounting.
      if (job && /stalled more than allowable limit/.test(err.message)) {
        const { runId, item } = job.data;
        void runs.recordFailed(runId, { item: item.sourceUri, code: 'QUEUE_UNAVAILABLE', reason: `${err.message} (workers died while holding it)` }, item.kind, job.id).catch(() => {});
      }
    });
    return worker;
  });
  log(`worker ${process.pid}: consuming ${modalities.map((m) => QUEUE_NAMES[m]).join(', ')} (concurrency ${concurrency} per queue), model ${options.encoder.model.modelId}, store ${options.store.url}`);

  const readiness = workerReadiness({
    redis,
    redisUrl: config.queue.redisUrl ?? 'the given connection',
    store: options.store,
    model: {
      modelId: options.encoder.model.modelId,
      lastSuccessAt: () => instrumented?.lastSuccessAt ?? 0,
      closedError: () => instrumented?.closedError,
      probe: () => options.encoder.encodeText({ text: 'readiness probe' }),
    },
  });

  let closing: Promise<void> | undefined;
  const graceMs = options.shutdownGraceMs ?? config.queue.shutdownGraceMs;
  return {
    modalities,
    pipeline,
    stats: () => ({ ...stats }),
    readiness,
    close() {
      closing ??= (async () => {
        // Worker.close() stops fetching and waits for active jobs, whose points the upserter
        // must still store: it keeps flushing meanwhile.
        const graceful = Promise.all(workers.map((w) => w.close())).then(() => pipeline.close());
        // With Redis unreachable the jobs in flight can never be acknowledged: give up after the grace period.
        if (!(await within(graceful, graceMs))) {
          log(
            `shutdown: not closed within ${graceMs} ms (WORKER_SHUTDOWN_GRACE_MS): jobs in flight could not be acknowledged, is Redis reachable? ` +
              'Closing anyway: their locks expire and they return to the queue',
          );
          await within(Promise.all(workers.map((w) => w.close(true).catch(() => {}))), 2_000);
          void pipeline.close().catch(() => {});
        }
        if (!options.redis) await closeRedis(redis);
      })();
      return closing;
    },
  };
}
