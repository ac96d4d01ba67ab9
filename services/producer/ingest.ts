/**
 * `runIngest`: one ingest run, callable from the CLI, the demo and tests. With REDIS_URL the
 * items go onto the queues for the workers and the run is followed until they are done;
 * without it the embedded runner does the work in this process. Either way the caller gets
 * the same progress events and the same summary.
 */
import type { Config } from '../../shared/config/index.ts';
import type { EncoderStats } from '../../shared/encoder/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { openPipeline, type PipelineEncoder } from '../../shared/pipeline/index.ts';
import { newRunId } from '../../shared/queue/runs.ts';
import { connectStore, type StoreConnection } from '../store-connect.ts';
import { runDistributed } from './distributed.ts';
import { runEmbedded } from './embedded.ts';
import { ProgressTracker, type IngestSummary, type ProgressListener } from './progress.ts';
import { catalogueEntries, parseSources, type IngestSourceOptions } from './sources.ts';

export interface IngestOptions {
  listener?: ProgressListener;
  /** Aborting stops taking new items; those in flight finish, and the summary says `interrupted`. */
  signal?: AbortSignal;
  /** Re-encode items whose stored version matches. */
  force?: boolean;
  /** `auto` (default): distributed when REDIS_URL is set. */
  mode?: 'auto' | 'embedded' | 'distributed';
  /** Embedded: items between fetch and stored at once (default WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Distributed: follow the run until the workers finish it (default true). */
  wait?: boolean;
  /** Distributed: how often the run record is read back while following it (default 250 ms). */
  followIntervalMs?: number;
  /** Include/exclude globs, product id rule, records field names. */
  sources?: IngestSourceOptions;
  /** Run on the bundled test model when jina-clip-v2 cannot be had (embedded). */
  allowTestModel?: boolean;
  /**
   * An encoder already open (the demo, benchmarks); left open. Default: an EncoderThread, so
   * inference never blocks this thread's I/O (a ClipEncoder opened here would, and batches shrink).
   */
  encoder?: PipelineEncoder & { stats?(): EncoderStats };
  /** A store already connected; left open. */
  store?: Pick<StoreConnection, 'client' | 'url'>;
  cwd?: string;
}

export async function runIngest(config: Config, sources: readonly string[], options: IngestOptions = {}): Promise<IngestSummary> {
  const specs = parseSources(sources, options.cwd);
  const mode = options.mode === undefined || options.mode === 'auto' ? (config.queue.redisUrl ? 'distributed' : 'embedded') : options.mode;
  const runId = newRunId();
  if (mode === 'distributed') return runDistributed(config, specs, runId, options);

  const listener = options.listener;
  const notice = (line: string) => listener?.notice?.(line);
  const ownEncoder = options.encoder ? undefined : await EncoderThread.open(config, { allowTestModel: options.allowTestModel, onNotice: notice });
  const encoder = options.encoder ?? ownEncoder!;
  let store: Pick<StoreConnection, 'client' | 'url'> | undefined = options.store;
  let ownStore: StoreConnection | undefined;
  try {
    if (!store) {
      ownStore = await connectStore(config);
      store = ownStore;
      notice(`store: ${ownStore.embedded ? `embedded, under ${config.store.dataDir}` : ownStore.url}`);
    }
    const pipeline = await openPipeline(config, { encoder, store });
    const statsBefore = encoder.stats?.();
    const tracker = new ProgressTracker(runId, 'embedded');
    let interrupted = false;
    try {
      const entries = catalogueEntries(config, specs, { ...options.sources, signal: options.signal });
      ({ interrupted } = await runEmbedded(entries, pipeline.processor, {
        concurrency: options.concurrency ?? config.queue.workerConcurrency,
        tracker,
        listener,
        signal: options.signal,
        force: options.force,
      }));
    } finally {
      await pipeline.close();
    }
    const stats = encoder.stats?.();
    return tracker.summary({
      interrupted,
      model: encoder.model.modelId,
      store: store.url,
      ...(stats && statsBefore
        ? { batchSizes: { text: histogramSince(stats.text.batchSizes, statsBefore.text.batchSizes), image: histogramSince(stats.image.batchSizes, statsBefore.image.batchSizes) } }
        : {}),
    });
  } finally {
    await ownStore?.close();
    await ownEncoder?.close();
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
