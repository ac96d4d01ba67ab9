/**
 * The embedded mode's work queue: no Redis, the pipeline stages in this process. Items are taken
 * as slots free up, so up to `concurrency` items are between fetch and stored at once; that is
 * what lets the encoder's micro-batcher fill its batches. A bad item is counted and reported; an
 * infrastructure failure (store down past its retries) stops the run, after the items in flight
 * have settled. Runs and leases are kept in DATA_DIR/state.db.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import { Semaphore } from '../../shared/concurrency.ts';
import type { ItemOutcome, ItemProcessor } from '../../shared/pipeline/index.ts';
import type { LocalState } from '../../shared/state/local.ts';
import type { Locks, RunLog } from '../../shared/state/types.ts';
import type { QueuedRun, WorkQueue } from './work-queue.ts';

interface RunWork {
  inFlight: Set<Promise<void>>;
  fatal?: unknown;
}

/** The part of a `Pipeline` the queue uses. */
export interface CollectionStages {
  target: { collection: string };
  forCollection(collection: string): Promise<{ processor: Pick<ItemProcessor, 'process'> }>;
  close(): Promise<void>;
}

export interface InProcessQueueOptions {
  pipeline: CollectionStages;
  state: LocalState;
  model: string;
  /** Items between fetch and stored at once (WORKER_CONCURRENCY). */
  concurrency: number;
  /** Re-encode even what the store holds unchanged. */
  force?: boolean | undefined;
}

export class InProcessQueue implements WorkQueue {
  readonly mode = 'embedded' as const;
  readonly runs: RunLog;
  readonly locks: Locks;
  readonly model: string;
  private readonly slots: Semaphore;
  private readonly work = new Map<string, RunWork>();

  constructor(private readonly o: InProcessQueueOptions) {
    this.runs = o.state.runs;
    this.locks = o.state.locks;
    this.model = o.model;
    this.slots = new Semaphore(o.concurrency);
  }

  private of(run: QueuedRun): RunWork {
    let w = this.work.get(run.id);
    if (!w) this.work.set(run.id, (w = { inFlight: new Set() }));
    return w;
  }

  async submit(run: QueuedRun, items: readonly CatalogueItem[], verified: boolean): Promise<void> {
    const work = this.of(run);
    const stages = await this.o.pipeline.forCollection(run.collection ?? this.o.pipeline.target.collection);
    for (const item of items) {
      if (work.fatal !== undefined) throw work.fatal;
      const release = await this.slots.acquire();
      if (work.fatal !== undefined || run.signal?.aborted) {
        release();
        if (work.fatal !== undefined) throw work.fatal;
        return;
      }
      run.tracker.count(item.kind, 'enqueued');
      const task = stages.processor
        .process(item, { force: this.o.force === true || verified, signal: run.signal })
        .then(
          (outcome) => record(run, item, outcome),
          (err: unknown) => {
            work.fatal ??= err;
          },
        )
        .finally(() => {
          release();
          work.inFlight.delete(task);
        });
      work.inFlight.add(task);
    }
  }

  async countUnchanged(run: QueuedRun, items: readonly CatalogueItem[]): Promise<void> {
    for (const item of items) run.tracker.count(item.kind, 'skipped');
  }

  async countSourceFailure(run: QueuedRun, failure: ItemFailure): Promise<void> {
    run.tracker.addFailure(failure);
    run.listener?.failure?.(failure);
  }

  async settle(run: QueuedRun): Promise<boolean> {
    const work = this.of(run);
    while (work.inFlight.size > 0) await Promise.all([...work.inFlight]);
    this.work.delete(run.id);
    if (work.fatal !== undefined) throw work.fatal;
    return run.signal?.aborted === true;
  }

  async close(): Promise<void> {
    await this.o.pipeline.close();
  }
}

function record(run: QueuedRun, item: CatalogueItem, outcome: ItemOutcome): void {
  const { tracker, listener } = run;
  if (outcome.status === 'failed') {
    tracker.addFailure(outcome.failure, item.kind);
    listener?.failure?.(outcome.failure);
  } else {
    tracker.count(item.kind, outcome.status === 'indexed' ? 'done' : 'skipped');
    if (outcome.status === 'indexed') for (const w of outcome.warnings ?? []) listener?.notice?.(`⚠ ${outcome.item}: ${w}`);
  }
}
