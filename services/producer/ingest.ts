/**
 * `runIngest` and `runSync`: a run over the given sources, callable from the CLI, the demo, the
 * scheduler and tests. Both open the work queue for the mode (in-process without REDIS_URL,
 * BullMQ with it) and hand it to `composeRun`; a sync also deletes what the sources no longer
 * list. Either way the caller gets the same progress events and the same summary.
 */
import type { Config } from '../../shared/config/index.ts';
import type { EncoderStats } from '../../shared/encoder/index.ts';
import type { PipelineEncoder, PipelineStore } from '../../shared/pipeline/index.ts';
import type { QueueContext } from '../../shared/queue/index.ts';
import type { LocalState } from '../../shared/state/local.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openWorkQueue, resolveMode, type RunModeOption } from './open-queue.ts';
import type { ProgressListener } from './progress.ts';
import type { RunPlan, RunSummary } from './run-plan.ts';
import { composeRun } from './run.ts';
import { parseSources, type IngestSourceOptions, type SourceSelection } from './sources.ts';

export interface IngestOptions {
  listener?: ProgressListener | undefined;
  /** Aborting stops taking new items; those in flight finish, and the summary says `interrupted`. */
  signal?: AbortSignal | undefined;
  /** Re-encode items whose stored version matches. */
  force?: boolean | undefined;
  /** `auto` (default): distributed when REDIS_URL is set. */
  mode?: RunModeOption | undefined;
  /** Embedded: items between fetch and stored at once (default WORKER_CONCURRENCY). */
  concurrency?: number | undefined;
  /** Distributed: follow the run until the workers finish it (default true). */
  wait?: boolean | undefined;
  /** Distributed: how often the run record is read back while following it (default 250 ms). */
  followIntervalMs?: number | undefined;
  /** Distributed: when Redis loses the run's state, list again and queue what the store lacks. */
  resume?: boolean | undefined;
  /** Include/exclude globs, product id rule, dataset, as the flags say them (stored with the source). */
  selection?: SourceSelection | undefined;
  /** Parsed source options (tests); merged over `selection`'s. */
  sources?: IngestSourceOptions | undefined;
  /** The physical collection to write to; default: the one behind the alias. */
  collection?: string | undefined;
  /** Run on the bundled test model when jina-clip-v2 cannot be had (embedded). */
  allowTestModel?: boolean | undefined;
  /**
   * An encoder already open (the demo, benchmarks); left open. Default: an EncoderThread, so
   * inference never blocks this thread's I/O (a ClipEncoder opened here would, and batches shrink).
   */
  encoder?: PipelineEncoder & { stats?(): EncoderStats } | undefined;
  /** A store already connected; left open. */
  store?: PipelineStore | undefined;
  /** Local state already open (embedded); left open. */
  state?: LocalState | undefined;
  /** Queues already open (distributed; tests); left open. */
  queueContext?: QueueContext | undefined;
  /** `cli`, `schedule:<id>`, … (recorded with the run). */
  trigger?: string | undefined;
  runId?: string | undefined;
  cwd?: string | undefined;
}

export interface SyncOptions extends IngestOptions {
  /** `--allow-mass-delete`: delete beyond SYNC_MAX_DELETE_SHARE. */
  allowMassDelete?: boolean | undefined;
}

export function runIngest(config: Config, sources: readonly string[], options: IngestOptions = {}): Promise<RunSummary> {
  return run(config, sources, options, { kind: 'ingest' });
}

/** Ingest plus deletion of what the sources no longer list (guarded). */
export function runSync(config: Config, sources: readonly string[], options: SyncOptions = {}): Promise<RunSummary> {
  return run(config, sources, options, {
    kind: 'sync',
    deleteMissing: { maxShare: config.runs.maxDeleteShare, allowMassDelete: options.allowMassDelete === true },
  });
}

async function run(config: Config, sources: readonly string[], options: IngestOptions, plan: Pick<RunPlan, 'kind' | 'deleteMissing'>): Promise<RunSummary> {
  // Every spec is parsed before anything opens: a typo in the third source fails at once.
  const specs = parseSources(sources, options.cwd);
  if (plan.deleteMissing && !options.store && !config.store.qdrantUrl && resolveMode(config, options.mode) === 'distributed') {
    throw new ClipstreamError('CONFIG_INVALID', 'a sync compares the sources with the store and needs to reach it: set QDRANT_URL');
  }
  const opened = await openWorkQueue(config, {
    mode: options.mode,
    encoder: options.encoder,
    store: options.store,
    state: options.state,
    queueContext: options.queueContext,
    concurrency: options.concurrency,
    force: options.force,
    allowTestModel: options.allowTestModel,
    wait: options.wait,
    followIntervalMs: options.followIntervalMs,
    notice: (line) => options.listener?.notice?.(line),
  });
  try {
    const statsBefore = opened.encoder?.stats?.();
    const summary = await composeRun(
      config,
      {
        ...plan,
        sources: specs,
        selection: options.selection,
        sourceOptions: options.sources,
        collection: options.collection,
        force: options.force,
        trigger: options.trigger,
        runId: options.runId,
        signal: options.signal,
        listener: options.listener,
        resume: options.resume,
      },
      { queue: opened.queue, store: opened.store },
    );
    const stats = opened.encoder?.stats?.();
    if (stats && statsBefore) {
      summary.batchSizes = { text: histogramSince(stats.text.batchSizes, statsBefore.text.batchSizes), image: histogramSince(stats.image.batchSizes, statsBefore.image.batchSizes) };
    }
    return summary;
  } finally {
    await opened.close();
  }
}

/** Batches of this run only: a shared encoder's histogram counts every earlier run too. */
function histogramSince(now: Record<number, number>, before: Record<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [size, n] of Object.entries(now)) {
    const d = n - (before[Number(size)] ?? 0);
    if (d > 0) out[Number(size)] = d;
  }
  return out;
}
