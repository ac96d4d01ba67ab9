/**
 * The embedded mode's bookkeeping in `DATA_DIR/state.db` (SQLite, WAL): run records, leases and
 * schedules. SQLite rather than JSON files because several local processes share it — `serve`
 * running schedules while a `sync` is started from the shell — and a lease must be taken
 * atomically across them. Writes are small and rare (a run's start and end, a lease renewal).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ClipstreamError } from '../errors.ts';
import { nextFireTime } from './next-fire.ts';
import {
  emptyCounts,
  type Lease,
  type LeaseOptions,
  type Locks,
  type RunEnd,
  type RunFailure,
  type RunLog,
  type RunRecord,
  type RunStart,
  type Schedule,
  type ScheduleLastRun,
  type Schedules,
  type ScheduleView,
} from './types.ts';

const MAX_RUNS = 500;
const MAX_FAILURES = 1000;
export const DEFAULT_LEASE_MS = 60_000;

type Db = InstanceType<typeof Database>;

export class LocalState {
  readonly file: string;
  readonly runs: LocalRunLog;
  readonly locks: LocalLocks;
  readonly schedules: LocalSchedules;
  private readonly db: Db;

  private constructor(file: string, db: Db) {
    this.file = file;
    this.db = db;
    this.runs = new LocalRunLog(db);
    this.locks = new LocalLocks(db);
    this.schedules = new LocalSchedules(db);
  }

  /** Opens (creating) `<dataDir>/state.db`. */
  static open(dataDir: string): LocalState {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'state.db');
    let db: Db;
    try {
      db = new Database(file, { timeout: 10_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, record TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
        CREATE TABLE IF NOT EXISTS run_failures (run_id TEXT NOT NULL, seq INTEGER NOT NULL, failure TEXT NOT NULL, PRIMARY KEY (run_id, seq));
        CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, holder TEXT NOT NULL, token TEXT NOT NULL, expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, spec TEXT NOT NULL, last TEXT, next_at INTEGER);
      `);
      // state.db files made before schedules fired from it lack next_at.
      const columns = db.prepare('PRAGMA table_info(schedules)').all() as Array<{ name: string }>;
      if (!columns.some((c) => c.name === 'next_at')) db.exec('ALTER TABLE schedules ADD COLUMN next_at INTEGER');
    } catch (err) {
      throw new ClipstreamError('CONFIG_INVALID', `cannot open the state database: ${(err as Error).message}`, { item: file, cause: err });
    }
    return new LocalState(file, db);
  }

  close(): void {
    this.locks.stopRenewing();
    if (this.db.open) this.db.close();
  }
}

class LocalRunLog implements RunLog {
  readonly mode = 'embedded' as const;

  constructor(private readonly db: Db) {}

  async create(run: RunStart): Promise<void> {
    const startedAt = (run.startedAt ?? new Date()).toISOString();
    const record: RunRecord = {
      id: run.id,
      kind: run.kind,
      mode: 'embedded',
      sources: [...run.sources],
      startedAt,
      state: 'producing',
      counts: emptyCounts(),
      sourceFailures: 0,
      failures: [],
      ...(run.collection ? { collection: run.collection } : {}),
      ...(run.trigger ? { trigger: run.trigger } : {}),
    };
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO runs (id, started_at, record) VALUES (?, ?, ?)').run(run.id, startedAt, JSON.stringify(record));
      const stale = this.db.prepare('SELECT id FROM runs ORDER BY started_at DESC LIMIT -1 OFFSET ?').all(MAX_RUNS) as Array<{ id: string }>;
      for (const { id } of stale) {
        this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
        this.db.prepare('DELETE FROM run_failures WHERE run_id = ?').run(id);
      }
    })();
  }

  async finish(id: string, end: RunEnd): Promise<void> {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT record FROM runs WHERE id = ?').get(id) as { record: string } | undefined;
      if (!row) return;
      const record = JSON.parse(row.record) as RunRecord;
      const now = new Date().toISOString();
      record.endedAt = now;
      record.producedAt ??= now;
      record.finishedAt ??= now;
      record.state = 'finished';
      record.outcome = end.outcome;
      if (end.error) record.error = end.error;
      if (end.sync) record.sync = end.sync;
      if (end.counts) record.counts = end.counts;
      if (end.sourceFailures !== undefined) record.sourceFailures = end.sourceFailures;
      this.db.prepare('UPDATE runs SET record = ? WHERE id = ?').run(JSON.stringify(record), id);
      const insert = this.db.prepare('INSERT INTO run_failures (run_id, seq, failure) VALUES (?, ?, ?)');
      (end.failures ?? []).slice(0, MAX_FAILURES).forEach((f, seq) => insert.run(id, seq, JSON.stringify({ ...f, at: now })));
    })();
  }

  async read(id: string, options: { failures?: number } = {}): Promise<RunRecord | undefined> {
    const row = this.db.prepare('SELECT record FROM runs WHERE id = ?').get(id) as { record: string } | undefined;
    if (!row) return undefined;
    const record = JSON.parse(row.record) as RunRecord;
    const wanted = Math.max(0, options.failures ?? MAX_FAILURES);
    const rows = this.db.prepare('SELECT failure FROM run_failures WHERE run_id = ? ORDER BY seq DESC LIMIT ?').all(id, wanted) as Array<{ failure: string }>;
    record.failures = rows.map((r) => JSON.parse(r.failure) as RunFailure);
    return record;
  }

  async list(limit = 20): Promise<RunRecord[]> {
    const rows = this.db.prepare('SELECT record FROM runs ORDER BY started_at DESC, id DESC LIMIT ?').all(limit) as Array<{ record: string }>;
    return rows.map((r) => JSON.parse(r.record) as RunRecord);
  }

}

class LocalLocks implements Locks {
  private readonly leases = new Set<LocalLease>();

  constructor(private readonly db: Db) {}

  stopRenewing(): void {
    for (const lease of this.leases) lease.stopRenewing();
    this.leases.clear();
  }

  async acquire(key: string, options: LeaseOptions): Promise<Lease | { heldBy: string }> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const token = randomBytes(12).toString('hex');
    const taken = this.db.transaction(() => {
      const now = Date.now();
      const row = this.db.prepare('SELECT holder, expires_at FROM locks WHERE key = ?').get(key) as { holder: string; expires_at: number } | undefined;
      if (row && row.expires_at > now) return { heldBy: row.holder };
      this.db.prepare('INSERT OR REPLACE INTO locks (key, holder, token, expires_at) VALUES (?, ?, ?, ?)').run(key, options.holder, token, now + leaseMs);
      return undefined;
    })();
    if (taken) return taken;
    const lease = new LocalLease(this.db, key, token, leaseMs, () => this.leases.delete(lease));
    this.leases.add(lease);
    return lease;
  }

}

/**
 * Schedules in state.db. Each row keeps its next firing time (`next_at`), like a BullMQ job
 * scheduler keeps its next delayed job: `list` shows it, the in-process scheduler claims a due
 * row by advancing it in one UPDATE (so two processes on one DATA_DIR never fire it twice), and a
 * scheduler that was down fires an overdue schedule once when it starts again.
 */
class LocalSchedules implements Schedules {
  constructor(private readonly db: Db) {}

  async add(schedule: Schedule): Promise<void> {
    // The first firing: at once for `every` (BullMQ's rule), the next occurrence for a pattern.
    const next = nextFireTime(schedule, Date.parse(schedule.createdAt) - 1) ?? null;
    this.db
      .prepare('INSERT INTO schedules (id, spec, next_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, next_at = excluded.next_at')
      .run(schedule.id, JSON.stringify(schedule), next);
  }

  async remove(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM schedules WHERE id = ?').run(id).changes > 0;
  }

  async list(): Promise<ScheduleView[]> {
    const rows = this.db.prepare('SELECT spec, last, next_at FROM schedules ORDER BY id').all() as Array<{ spec: string; last: string | null; next_at: number | null }>;
    return rows.map((r) => {
      const view: ScheduleView = { ...(JSON.parse(r.spec) as Schedule) };
      if (r.next_at !== null) view.next = new Date(r.next_at).toISOString();
      if (r.last) view.last = JSON.parse(r.last) as ScheduleLastRun;
      return view;
    });
  }

  async recordRun(id: string, last: ScheduleLastRun): Promise<void> {
    this.db.prepare('UPDATE schedules SET last = ? WHERE id = ?').run(JSON.stringify(last), id);
  }

  /**
   * The schedules due at `now`, each claimed by moving its `next_at` to the first slot after
   * `now` (missed slots are not made up one by one). Rows claimed meanwhile by another process
   * are left out.
   */
  takeDue(now: number = Date.now()): Schedule[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT spec, next_at FROM schedules WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, id').all(now) as Array<{ spec: string; next_at: number }>;
      const claim = this.db.prepare('UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?');
      const due: Schedule[] = [];
      for (const row of rows) {
        const schedule = JSON.parse(row.spec) as Schedule;
        if (claim.run(nextFireTime(schedule, now) ?? null, schedule.id, row.next_at).changes === 1) due.push(schedule);
      }
      return due;
    })();
  }

  /** When the earliest schedule fires next (ms since the epoch), if any does. */
  nextDue(): number | undefined {
    const row = this.db.prepare('SELECT MIN(next_at) AS at FROM schedules').get() as { at: number | null };
    return row.at ?? undefined;
  }
}

class LocalLease implements Lease {
  private timer: NodeJS.Timeout | undefined;
  private lostFlag = false;

  constructor(
    private readonly db: Db,
    readonly key: string,
    private readonly token: string,
    leaseMs: number,
    private readonly forget: () => void,
  ) {
    // Renewed at a third of the lease, so two missed renewals still leave it held.
    this.timer = setInterval(() => {
      try {
        const changed = this.db.prepare('UPDATE locks SET expires_at = ? WHERE key = ? AND token = ?').run(Date.now() + leaseMs, key, token).changes;
        if (changed === 0) this.lostFlag = true;
      } catch {
        this.lostFlag = true;
      }
    }, Math.max(50, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  get lost(): boolean {
    return this.lostFlag;
  }

  stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async release(): Promise<void> {
    this.stopRenewing();
    this.forget();
    if (this.db.open) this.db.prepare('DELETE FROM locks WHERE key = ? AND token = ?').run(this.key, this.token);
  }
}
