/**
 * The producer of the distributed mode: lists the sources, drops what the store already holds
 * at the same version, queues the rest (pausing while the queues are full), records everything
 * in the run, then follows the run until the workers have finished it.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { CatalogueItem, ItemFailure, Modality } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { sleep } from '../../shared/concurrency.ts';
import { describeError } from '../../shared/errors.ts';
import { isItemFailure } from '../../shared/pipeline/outcome.ts';
import { enqueueItems, openQueues, queueFor, waitForRoom, type QueueContext, type RunRecord } from '../../shared/queue/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { resolveAlias } from '../../shared/store/schema.ts';
import { storedVersions } from '../../shared/store/versions.ts';
import type { SourceSpec } from '../../shared/sources/index.ts';
import { connectStore, type StoreConnection } from '../store-connect.ts';
import type { IngestOptions } from './ingest.ts';
import { MAX_REPORTED_FAILURES, ProgressTracker, type IngestSummary, type ProgressListener } from './progress.ts';
import { ReadAhead } from './read-ahead.ts';
import { catalogueEntries } from './sources.ts';

/** Items per store lookup and per `addBulk`. */
const CHUNK = 256;

export interface DistributedOptions extends IngestOptions {
  /** Queues already open (tests); left open. */
  queueContext?: QueueContext;
}

export async function runDistributed(
  config: Config,
  specs: readonly SourceSpec[],
  runId: string,
  options: DistributedOptions = {},
): Promise<IngestSummary> {
  const { listener, signal } = options;
  const notice = (line: string) => listener?.notice?.(line);
  const ctx = options.queueContext ?? (await openQueues(config.queue, { connectionName: `clipstream-producer-${runId}` }));
  // Without a listener BullMQ prints every reconnect failure; one notice per outage is enough.
  let lastRedisNotice = 0;
  const onRedisError = (err: Error) => {
    if (Date.now() - lastRedisNotice < 10_000) return;
    lastRedisNotice = Date.now();
    notice(`redis: ${describeError(err)} (retrying)`);
  };
  ctx.queues.image.on('error', onRedisError);
  ctx.queues.text.on('error', onRedisError);
  let ownStore: StoreConnection | undefined;
  try {
    let store = options.store;
    if (!store && config.store.qdrantUrl) store = ownStore = await connectStore(config);
    if (!store) notice('QDRANT_URL is not set: the producer queues every item; workers still skip unchanged ones');
    const collection = store ? await storedCollection(store.client, config.store.collection, store.url) : undefined;
    const stored = async (ids: string[]) =>
      store && collection && !options.force ? storedVersions(store.client, collection, ids, { storeUrl: store.url }) : new Map<string, string>();

    await ctx.runs.createRun(specs.map((s) => s.spec), { id: runId });
    notice(`run ${runId}: queueing into ${config.queue.prefix} (embed-image, embed-text)`);
    const tracker = new ProgressTracker(runId, 'distributed');
    tracker.enqueued = 0;
    const emit = () => listener?.progress?.(tracker.snapshot());
    const ticker = setInterval(emit, 250);
    let interrupted = false;
    try {
      interrupted = await produce(config, specs, ctx, runId, tracker, stored, options);
      await ctx.runs.finishProducing(runId);
      tracker.listing = false;
      if (options.wait !== false && !interrupted) interrupted = await follow(ctx, runId, tracker, listener, signal, options.followIntervalMs ?? 250);
      else syncCounts(tracker, await ctx.runs.readRun(runId, { failures: 0 }));
    } finally {
      clearInterval(ticker);
    }
    emit();
    return tracker.summary({ interrupted, store: store?.url });
  } finally {
    await ownStore?.close();
    ctx.queues.image.off('error', onRedisError);
    ctx.queues.text.off('error', onRedisError);
    if (!options.queueContext) await ctx.close();
  }
}

/** The physical collection behind the alias, if the store has one yet. */
async function storedCollection(client: QdrantClient, alias: string, url: string): Promise<string | undefined> {
  const target = await resolveAlias(client, alias, { storeUrl: url });
  if (target) return target;
  try {
    await client.getCollection(alias);
    return alias;
  } catch {
    return undefined;
  }
}

/** Lists and queues; returns true when interrupted by the signal. */
async function produce(
  config: Config,
  specs: readonly SourceSpec[],
  ctx: QueueContext,
  runId: string,
  tracker: ProgressTracker,
  stored: (ids: string[]) => Promise<Map<string, string>>,
  options: DistributedOptions,
): Promise<boolean> {
  const { listener, signal } = options;
  const entries = catalogueEntries(config, specs, { ...options.sources, signal });
  const reader = new ReadAhead<CatalogueItem | ItemFailure>(entries, 10_000, () => tracker.total++);
  const onAbort = () => reader.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  let chunk: CatalogueItem[] = [];
  try {
    for await (const entry of reader) {
      if (signal?.aborted) break;
      if (isItemFailure(entry)) {
        tracker.addFailure(entry);
        listener?.failure?.(entry);
        await ctx.runs.recordFailed(runId, entry);
        continue;
      }
      chunk.push(entry);
      // Flush full chunks, and partial ones whenever listing is slower than queueing.
      if (chunk.length >= CHUNK || reader.buffered === 0) {
        await queueChunk(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0 && !signal?.aborted) await queueChunk(chunk);
  } finally {
    reader.stop();
    signal?.removeEventListener('abort', onAbort);
  }
  return signal?.aborted === true;

  async function queueChunk(items: CatalogueItem[]): Promise<void> {
    const versions = await stored(items.map((i) => pointId(i.sourceUri)));
    const fresh: CatalogueItem[] = [];
    const skipped: Record<Modality, number> = { image: 0, text: 0 };
    for (const item of items) {
      if (versions.get(pointId(item.sourceUri)) === item.version) skipped[item.kind]++;
      else fresh.push(item);
    }
    for (const modality of ['image', 'text'] as const) {
      if (fresh.some((i) => i.kind === modality)) {
        await waitForRoom(queueFor(ctx.queues, modality), config.queue.maxWaiting, { signal: options.signal }).catch((err: unknown) => {
          if (!options.signal?.aborted) throw err;
        });
      }
    }
    if (options.signal?.aborted) return;
    const results = fresh.length > 0 ? await enqueueItems(ctx.queues, runId, fresh) : [];
    const queued: Record<Modality, number> = { image: 0, text: 0 };
    results.forEach((r, i) => {
      // `duplicate`: already waiting or running for another run; that run will store it.
      if (r === 'duplicate') skipped[fresh[i]!.kind]++;
      else queued[fresh[i]!.kind]++;
    });
    for (const m of ['image', 'text'] as const) {
      if (queued[m] > 0) await ctx.runs.recordEnqueued(runId, m, queued[m]);
      if (skipped[m] > 0) await ctx.runs.recordSkipped(runId, m, skipped[m]);
    }
    tracker.enqueued = (tracker.enqueued ?? 0) + queued.image + queued.text;
    tracker.skipped += skipped.image + skipped.text;
  }
}

function syncCounts(tracker: ProgressTracker, run: RunRecord | undefined): void {
  if (!run) return;
  const { image, text } = run.counts;
  tracker.setCounts({
    indexed: image.done + text.done,
    skipped: image.skipped + text.skipped,
    failed: image.failed + text.failed + run.sourceFailures,
  });
  tracker.enqueued = image.enqueued + text.enqueued;
}

/** Reads the run back until the workers finish it; returns true when interrupted. */
async function follow(
  ctx: QueueContext,
  runId: string,
  tracker: ProgressTracker,
  listener: ProgressListener | undefined,
  signal: AbortSignal | undefined,
  intervalMs: number,
): Promise<boolean> {
  // Failures already reported (the producer's own source failures included), by identity: the
  // list is newest-first and capped, and a count read beside it may be a step behind.
  const known = new Set(tracker.failures.map((f) => `${f.item}\u0000${f.code}`));
  for (;;) {
    let run: RunRecord | undefined;
    try {
      run = await ctx.runs.readRun(runId, { failures: 1000 });
    } catch (err) {
      // Redis restarting: the commands wait for the reconnect; anything else is worth saying.
      listener?.notice?.(`cannot read run ${runId} yet: ${describeError(err)}`);
    }
    if (run) {
      for (const f of [...run.failures].reverse()) {
        if (f.modality === undefined) continue;
        const key = `${f.item}\u0000${f.code}`;
        if (known.has(key)) continue;
        known.add(key);
        const failure = { item: f.item, code: f.code, reason: f.reason };
        if (tracker.failures.length < MAX_REPORTED_FAILURES) tracker.failures.push(failure);
        listener?.failure?.(failure);
      }
      syncCounts(tracker, run);
      if (run.state === 'finished') return false;
    }
    if (signal?.aborted) return true;
    await sleep(intervalMs, signal).catch(() => undefined);
    if (signal?.aborted) return true;
  }
}
