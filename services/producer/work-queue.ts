/**
 * What a run hands its items to. `composeRun` (run.ts) lists the sources, decides what needs
 * encoding and what may be deleted, and records the run; the work queue is the only part that
 * differs between the modes:
 *
 * - `InProcessQueue` (embedded): the pipeline stages in this process, `concurrency` items at once.
 * - `JobQueue` (distributed): BullMQ jobs for `clipstream worker` processes, followed through the
 *   run record in Redis.
 *
 * Each also names where runs are recorded and how sources are locked in its mode.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import type { Locks, RunLog, RunMode } from '../../shared/state/types.ts';
import type { ProgressListener, ProgressTracker } from './progress.ts';

export interface QueuedRun {
  id: string;
  /** The physical collection the items go to; undefined: whatever the alias leads to when a worker takes them. */
  collection: string | undefined;
  tracker: ProgressTracker;
  listener?: ProgressListener | undefined;
  signal?: AbortSignal | undefined;
}

export interface WorkQueue {
  readonly mode: RunMode;
  readonly runs: RunLog;
  readonly locks: Locks;
  /** The encoder the items will be encoded with (`jinaai/jina-clip-v2@fp16`), as recorded on points. */
  readonly model: string;
  /**
   * Hands items over. `verified`: the caller has just checked they are new or changed, so the
   * encoder side need not ask the store again. Resolves once accepted (waiting for room first);
   * rejects when the queue cannot go on (store down past its retries, Redis gone).
   */
  submit(run: QueuedRun, items: readonly CatalogueItem[], verified: boolean): Promise<void>;
  /** Items left alone because the store holds them unchanged. */
  countUnchanged(run: QueuedRun, items: readonly CatalogueItem[]): Promise<void>;
  /** A bad source entry (unreadable line, HEAD failure): reported, never queued. */
  countSourceFailure(run: QueuedRun, failure: ItemFailure): Promise<void>;
  /** The listing ended: resolves once every item submitted for the run is done or failed; true when interrupted. */
  settle(run: QueuedRun): Promise<boolean>;
  close(): Promise<void>;
}
