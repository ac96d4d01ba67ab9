/**
 * The distributed mode's work queue: items become BullMQ jobs (embed-image / embed-text) that
 * carry the collection they are for; `clipstream worker` processes encode and store them and
 * count them in the run record, which `settle` follows until every queued item is done or
 * failed. Runs and leases live in Redis beside the queues.
 *
 * Redis restarted without its data takes the run record and the jobs with it. Following a run
 * whose record has vanished would wait forever, so it stops with QUEUE_STATE_LOST naming the
 * items this run queued that the store does not hold (ids are deterministic, so a re-run with
 * `--resume` queues exactly those again).
 */
import type { CatalogueItem, ItemFailure, Modality } from '../../shared/catalogue/types.ts';
import { sleep } from '../../shared/concurrency.ts';
import { ClipstreamError, describeError } from '../../shared/errors.ts';
import { enqueueItems, queueFor, RedisLocks, waitForRoom, type QueueContext, type RunRecord } from '../../shared/queue/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { storedVersions } from '../../shared/store/versions.ts';
import type { Locks, RunLog } from '../../shared/state/types.ts';
import type { PipelineStore } from '../../shared/pipeline/index.ts';
import { MAX_REPORTED_FAILURES, type ProgressTracker } from './progress.ts';
import type { QueuedRun, WorkQueue } from './work-queue.ts';

/** Item identities kept per run for the lost-state report (beyond it only a count). */
const MAX_REMEMBERED = 1_000_000;

export interface JobQueueOptions {
  ctx: QueueContext;
  model: string;
  /** For the lost-state report: which queued items the store holds. */
  store?: PipelineStore | undefined;
  /** The alias, for runs whose jobs carry no collection (the first run, before a worker made one). */
  alias: string;
  force?: boolean | undefined;
  /** How often the run record is read back while following it (default 250 ms). */
  followIntervalMs?: number | undefined;
  /** Follow the run until the workers finish it (default true); false returns once everything is queued. */
  wait?: boolean | undefined;
  maxWaiting: number;
}

interface Submitted {
  uris: Array<{ uri: string; version: string }>;
  more: number;
}

export class JobQueue implements WorkQueue {
  readonly mode = 'distributed' as const;
  readonly runs: RunLog;
  readonly locks: Locks;
  readonly model: string;
  private readonly submitted = new Map<string, Submitted>();

  constructor(private readonly o: JobQueueOptions) {
    this.runs = o.ctx.runs;
    this.locks = new RedisLocks(o.ctx.redis, o.ctx.queues.prefix);
    this.model = o.model;
    o.ctx.queues.image.on('error', this.onRedisError);
    o.ctx.queues.text.on('error', this.onRedisError);
  }

  // Without a listener BullMQ prints every reconnect failure; one notice per outage is enough.
  private lastRedisNotice = 0;
  private noticeSink: ((line: string) => void) | undefined;
  private readonly onRedisError = (err: Error) => {
    if (Date.now() - this.lastRedisNotice < 10_000) return;
    this.lastRedisNotice = Date.now();
    this.noticeSink?.(`redis: ${describeError(err)} (retrying)`);
  };

  async submit(run: QueuedRun, items: readonly CatalogueItem[], verified: boolean): Promise<void> {
    this.noticeSink = run.listener?.notice;
    const { ctx } = this.o;
    for (const modality of ['image', 'text'] as const) {
      if (!items.some((i) => i.kind === modality)) continue;
      await waitForRoom(queueFor(ctx.queues, modality), this.o.maxWaiting, { signal: run.signal }).catch((err: unknown) => {
        if (!run.signal?.aborted) throw err;
      });
    }
    if (run.signal?.aborted) return;
    const results = await enqueueItems(ctx.queues, run.id, items, { collection: run.collection, force: this.o.force === true || verified });
    const queued: Record<Modality, number> = { image: 0, text: 0 };
    const skipped: Record<Modality, number> = { image: 0, text: 0 };
    const remembered = this.remembered(run.id);
    results.forEach((r, i) => {
      const item = items[i]!;
      // `duplicate`: already waiting or running for another run; that run will store it.
      if (r === 'duplicate') skipped[item.kind]++;
      else {
        queued[item.kind]++;
        if (remembered.uris.length < MAX_REMEMBERED) remembered.uris.push({ uri: item.sourceUri, version: item.version });
        else remembered.more++;
      }
    });
    for (const m of ['image', 'text'] as const) {
      if (queued[m] > 0) await ctx.runs.recordEnqueued(run.id, m, queued[m]);
      if (skipped[m] > 0) await ctx.runs.recordSkipped(run.id, m, skipped[m]);
    }
    run.tracker.enqueued = (run.tracker.enqueued ?? 0) + queued.image + queued.text;
    run.tracker.skipped += skipped.image + skipped.text;
  }

  async countUnchanged(run: QueuedRun, items: readonly CatalogueItem[]): Promise<void> {
    const n: Record<Modality, number> = { image: 0, text: 0 };
    for (const item of items) n[item.kind]++;
    for (const m of ['image', 'text'] as const) if (n[m] > 0) await this.o.ctx.runs.recordSkipped(run.id, m, n[m]);
    run.tracker.skipped += items.length;
  }

  async countSourceFailure(run: QueuedRun, failure: ItemFailure): Promise<void> {
    run.tracker.addFailure(failure);
    run.listener?.failure?.(failure);
    await this.o.ctx.runs.recordFailed(run.id, failure);
  }

  async settle(run: QueuedRun): Promise<boolean> {
    const { ctx } = this.o;
    await ctx.runs.finishProducing(run.id);
    run.tracker.listing = false;
    try {
      if (this.o.wait === false || run.signal?.aborted) {
        syncCounts(run.tracker, await ctx.runs.readRun(run.id, { failures: 0 }));
        return run.signal?.aborted === true;
      }
      return await this.follow(run);
    } finally {
      this.submitted.delete(run.id);
    }
  }

  async close(): Promise<void> {
    this.o.ctx.queues.image.off('error', this.onRedisError);
    this.o.ctx.queues.text.off('error', this.onRedisError);
  }

  private remembered(runId: string): Submitted {
    let r = this.submitted.get(runId);
    if (!r) this.submitted.set(runId, (r = { uris: [], more: 0 }));
    return r;
  }

  /** Reads the run back until the workers finish it; returns true when interrupted. */
  private async follow(run: QueuedRun): Promise<boolean> {
    const { ctx } = this.o;
    const { tracker, listener, signal } = run;
    // Failures already reported (the producer's own source failures included), by identity: the
    // list is newest-first and capped, and a count read beside it may be a step behind.
    const known = new Set(tracker.failures.map((f) => `${f.item}\u0000${f.code}`));
    for (;;) {
      let record: RunRecord | undefined;
      let readFailed = false;
      try {
        record = await ctx.runs.readRun(run.id, { failures: 1000 });
      } catch (err) {
        // Redis restarting: the commands wait for the reconnect; anything else is worth saying.
        readFailed = true;
        listener?.notice?.(`cannot read run ${run.id} yet: ${describeError(err)}`);
      }
      // The record existed when this run queued its first item: gone now means Redis lost it.
      if (!record && !readFailed) throw await this.lostState(run);
      if (record) {
        for (const f of [...record.failures].reverse()) {
          if (f.modality === undefined) continue;
          const key = `${f.item}\u0000${f.code}`;
          if (known.has(key)) continue;
          known.add(key);
          const failure = { item: f.item, code: f.code, reason: f.reason };
          if (tracker.failures.length < MAX_REPORTED_FAILURES) tracker.failures.push(failure);
          listener?.failure?.(failure);
        }
        syncCounts(tracker, record);
        if (record.state === 'finished') return false;
      }
      if (signal?.aborted) return true;
      await sleep(this.o.followIntervalMs ?? 250, signal).catch(() => undefined);
      if (signal?.aborted) return true;
    }
  }

  /** The QUEUE_STATE_LOST error: which items this run queued that the store does not hold. */
  private async lostState(run: QueuedRun): Promise<ClipstreamError> {
    const remembered = this.remembered(run.id);
    let missing = remembered.uris;
    let checked = false;
    if (this.o.store) {
      try {
        // Queries through the alias reach the collection the jobs without one were stored in.
        const collection = run.collection ?? this.o.alias;
        const stored = await storedVersions(this.o.store.client, collection, missing.map((m) => pointId(m.uri)), { storeUrl: this.o.store.url });
        missing = missing.filter((m) => stored.get(pointId(m.uri))?.contentHash !== m.version);
        checked = true;
      } catch {
        // The store is unreachable too: every queued item is unaccounted for.
      }
    }
    const count = missing.length + remembered.more;
    const examples = missing.slice(0, 10).map((m) => m.uri);
    return new ClipstreamError(
      'QUEUE_STATE_LOST',
      `Redis lost the state of run ${run.id} (its record ${this.o.ctx.queues.prefix}:run:${run.id} is gone: was Redis restarted without persistence, or flushed?). ` +
        `${count} item(s) this run queued are ${checked ? 'not in the store' : 'unaccounted for'}` +
        (examples.length > 0 ? `, e.g. ${examples.join(', ')}` : '') +
        `. Run the same command again with --resume to queue them again (point ids are deterministic: what is stored is skipped).`,
    );
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
  for (const m of ['image', 'text'] as const) Object.assign(tracker.counts[m], run.counts[m]);
  tracker.sourceFailures = run.sourceFailures;
}
