/**
 * clipstream's own bookkeeping, behind interfaces with one implementation per mode: run records
 * (what `clipstream status` shows), leases (one run per source at a time) and schedules. The
 * distributed mode keeps them in Redis beside the queues; the embedded mode in DATA_DIR
 * (`state.db`, SQLite), so several local processes (`serve` with its schedules, a `sync` from
 * the shell) see the same runs and respect the same locks.
 */
import type { ItemFailure, Modality } from '../catalogue/types.ts';

export type RunKind = 'ingest' | 'sync' | 'rebuild';
export type RunMode = 'embedded' | 'distributed';
/** How a run ended; `skipped`: a scheduled run that did not start because the previous one was still going. */
export type RunOutcome = 'succeeded' | 'failed' | 'interrupted' | 'skipped';
/** Whether the queued work is done: listing, waiting for the encoders, or finished. */
export type RunState = 'producing' | 'processing' | 'finished';

export interface ModalityCounts {
  /** Queued as jobs (or handed to the in-process runner). */
  enqueued: number;
  /** Left alone: unchanged in the store, or already queued by another run. */
  skipped: number;
  done: number;
  /** Gave up after the job's attempts (or at once for item errors). */
  failed: number;
}

export interface RunFailure extends ItemFailure {
  /** Absent for failures found before an item existed (a bad line, an unreadable file). */
  modality?: Modality;
  at: string;
}

/** What a sync found, compared with what the index held for the source. */
export interface SyncCounts {
  added: number;
  changed: number;
  deleted: number;
  unchanged: number;
  /** Deletions found but not made (mass-delete guard, incomplete listing); `deleted` is then 0. */
  deletionsHeldBack: number;
  /** Ids listed more than once (records files): reported, the last one wins. */
  duplicates: number;
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  mode: RunMode;
  sources: string[];
  /** The physical collection written to. */
  collection?: string;
  /** `cli`, `schedule:<id>`, `rebuild:<run id>`. */
  trigger?: string;
  startedAt: string;
  /** When the producer finished listing its sources. */
  producedAt?: string;
  /** When the last queued item was done or failed. */
  finishedAt?: string;
  /** When the run as a whole ended (after deletions, checks, the alias swap). */
  endedAt?: string;
  state: RunState;
  outcome?: RunOutcome;
  /** Why it failed, or was skipped, or what it held back. */
  error?: string;
  counts: Record<Modality, ModalityCounts>;
  /** Items rejected by the source itself (bad lines, unreadable files): never queued. */
  sourceFailures: number;
  sync?: SyncCounts;
  /** The most recent failures, newest first, at most the cap. */
  failures: RunFailure[];
}

export interface RunStart {
  id: string;
  kind: RunKind;
  sources: readonly string[];
  collection?: string | undefined;
  trigger?: string | undefined;
  startedAt?: Date | undefined;
}

export interface RunEnd {
  outcome: RunOutcome;
  error?: string;
  sync?: SyncCounts;
  /** Embedded runs: the final counts (the distributed ones were counted by the workers). */
  counts?: Record<Modality, ModalityCounts>;
  sourceFailures?: number;
  failures?: readonly ItemFailure[];
}

/** Where runs are recorded. */
export interface RunLog {
  readonly mode: RunMode;
  create(run: RunStart): Promise<void>;
  finish(id: string, end: RunEnd): Promise<void>;
  read(id: string, options?: { failures?: number }): Promise<RunRecord | undefined>;
  /** The most recent runs first, without their failure lists. */
  list(limit?: number): Promise<RunRecord[]>;
}

/** A held lock; renewed in the background until released. `lost` turns true if renewal failed. */
export interface Lease {
  readonly key: string;
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** How long the lock outlives its holder: a crashed run's lock expires after this. */
  leaseMs?: number;
  /** Who holds it, for messages (`run 2026…`). */
  holder: string;
}

export interface Locks {
  /** The lease, or undefined when someone else holds the key; `holder` then says who. */
  acquire(key: string, options: LeaseOptions): Promise<Lease | { heldBy: string }>;
}

export const MODALITIES: readonly Modality[] = ['image', 'text'];

export function emptyCounts(): Record<Modality, ModalityCounts> {
  return { image: { enqueued: 0, skipped: 0, done: 0, failed: 0 }, text: { enqueued: 0, skipped: 0, done: 0, failed: 0 } };
}

export function isLease(x: Lease | { heldBy: string }): x is Lease {
  return 'release' in x;
}

/** Locks on several keys (a run's sources) in a fixed order, all or none. */
export async function acquireAll(locks: Locks, keys: readonly string[], options: LeaseOptions): Promise<Lease[] | { key: string; heldBy: string }> {
  const held: Lease[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const got = await locks.acquire(key, options);
    if (!isLease(got)) {
      await Promise.all(held.map((l) => l.release()));
      return { key, heldBy: got.heldBy };
    }
    held.push(got);
  }
  return held;
}

export type ScheduleMode = 'sync' | 'rebuild';

/** What a scheduled run is handed besides its sources (the `clipstream sync` options). */
export interface ScheduledRunOptions {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  contentTypes?: string[] | undefined;
  productId?: string | undefined;
  dataset?: string | undefined;
  allowMassDelete?: boolean | undefined;
}

export interface Schedule {
  id: string;
  mode: ScheduleMode;
  sources: string[];
  /** A cron pattern as BullMQ reads it (cron-parser: 5 fields, or 6 with seconds). */
  cron?: string;
  /** A fixed interval instead of `cron`. */
  everyMs?: number;
  /** IANA time zone for `cron` (default UTC). */
  tz?: string;
  options?: ScheduledRunOptions;
  createdAt: string;
}

/** The latest firing of a schedule that has ended: run (or skipped), with its run record's id. */
export interface ScheduleLastRun {
  runId: string;
  outcome: RunOutcome;
  /** When the firing ended (RFC 3339). */
  at: string;
  error?: string;
}

export interface ScheduleView extends Schedule {
  /** RFC 3339; absent when the pattern has no further occurrence. */
  next?: string;
  last?: ScheduleLastRun;
}

/** Where schedules are kept (embedded: state.db; distributed: BullMQ job schedulers). */
export interface Schedules {
  add(schedule: Schedule): Promise<void>;
  remove(id: string): Promise<boolean>;
  list(): Promise<ScheduleView[]>;
  recordRun(id: string, last: ScheduleLastRun): Promise<void>;
}
