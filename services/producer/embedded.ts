/**
 * The embedded runner: no queue, the pipeline stages in this process. Items are taken from the
 * source as slots free up, so up to `concurrency` items are between fetch and stored at once;
 * that is what lets the encoder's micro-batcher fill its batches. A bad item is counted and
 * reported; an infrastructure failure (store down past its retries) stops the run, after the
 * items in flight have settled.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import { Semaphore } from '../../shared/concurrency.ts';
import { isItemFailure, type ItemOutcome } from '../../shared/pipeline/outcome.ts';
import type { ItemProcessor } from '../../shared/pipeline/processor.ts';
import type { ProgressListener, ProgressTracker } from './progress.ts';
import { ReadAhead } from './read-ahead.ts';

export interface EmbeddedRunOptions {
  concurrency: number;
  tracker: ProgressTracker;
  listener?: ProgressListener;
  signal?: AbortSignal;
  /** Re-encode unchanged items too. */
  force?: boolean;
  /** Entries listed ahead of processing (bounds memory; gives an early total). */
  lookahead?: number;
  progressIntervalMs?: number;
}

export interface EmbeddedRunResult {
  interrupted: boolean;
}

export async function runEmbedded(
  entries: AsyncIterable<CatalogueItem | ItemFailure>,
  processor: Pick<ItemProcessor, 'process'>,
  options: EmbeddedRunOptions,
): Promise<EmbeddedRunResult> {
  const { tracker, listener, signal } = options;
  const slots = new Semaphore(options.concurrency);
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown;
  const reader = new ReadAhead(entries, options.lookahead ?? 10_000, () => tracker.total++);
  const emit = () => listener?.progress?.(tracker.snapshot());
  const ticker = setInterval(emit, options.progressIntervalMs ?? 200);
  const onAbort = () => reader.stop();
  signal?.addEventListener('abort', onAbort, { once: true });

  const record = (outcome: ItemOutcome) => {
    if (outcome.status === 'indexed') tracker.indexed++;
    else if (outcome.status === 'skipped') tracker.skipped++;
    else {
      tracker.addFailure(outcome.failure);
      listener?.failure?.(outcome.failure);
    }
  };

  try {
    void reader.finished.then(() => {
      tracker.listing = false;
    });
    try {
      await takeEntries();
    } catch (err) {
      // The source itself failed (listing, unreadable file): let the items in flight settle first.
      fatal ??= err;
    }
    await Promise.all(inFlight);
    await reader.finished;
    tracker.listing = false;
    if (fatal !== undefined) throw fatal;
    emit();
    return { interrupted: signal?.aborted === true };
  } finally {
    reader.stop();
    clearInterval(ticker);
    signal?.removeEventListener('abort', onAbort);
  }

  async function takeEntries(): Promise<void> {
    for await (const entry of reader) {
      if (signal?.aborted || fatal !== undefined) break;
      if (isItemFailure(entry)) {
        tracker.addFailure(entry);
        listener?.failure?.(entry);
        continue;
      }
      const release = await slots.acquire();
      if (signal?.aborted || fatal !== undefined) {
        release();
        break;
      }
      const task = processor
        .process(entry, { force: options.force, signal })
        .then(record, (err: unknown) => {
          fatal ??= err;
          reader.stop();
        })
        .finally(() => {
          release();
          inFlight.delete(task);
        });
      inFlight.add(task);
    }
  }
}
