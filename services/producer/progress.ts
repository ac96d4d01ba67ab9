/**
 * Progress of an ingest run, the same in both modes: counts, throughput over a sliding window,
 * and an ETA once the sources have been listed to the end. Rendering is separate from
 * counting so the CLI bar, `--json` lines and the demo all read one `IngestProgress`.
 */
import type { ItemFailure } from '../../shared/catalogue/types.ts';

export type IngestMode = 'embedded' | 'distributed';

export interface IngestProgress {
  runId: string;
  mode: IngestMode;
  /** `listing` while sources are still being read (the total is still growing). */
  phase: 'listing' | 'processing' | 'done';
  /** Items and bad source entries found so far; final once `phase` is not `listing`. */
  total: number;
  /** Distributed mode: jobs put on the queues (unchanged items are not). */
  enqueued?: number;
  done: number;
  indexed: number;
  skipped: number;
  failed: number;
  elapsedMs: number;
  itemsPerSec: number;
  /** Milliseconds left at the current rate; undefined while listing or before any progress. */
  etaMs?: number;
}

export interface IngestSummary extends Omit<IngestProgress, 'phase' | 'etaMs'> {
  /** Every failure, each naming its item and reason (capped; `failed` has the full count). */
  failures: ItemFailure[];
  /** True when the run stopped early (signal). */
  interrupted: boolean;
  model?: string;
  store?: string;
  /** Encoder batch sizes (size → batches), embedded mode. */
  batchSizes?: { text: Record<number, number>; image: Record<number, number> };
}

/** Receives progress as it happens. Every method is optional. */
export interface ProgressListener {
  progress?(p: IngestProgress): void;
  failure?(f: ItemFailure): void;
  notice?(line: string): void;
}

export const MAX_REPORTED_FAILURES = 10_000;

/** Counts outcomes and derives rate and ETA. */
export class ProgressTracker {
  private readonly started = Date.now();
  private readonly window: Array<[number, number]> = [];
  readonly failures: ItemFailure[] = [];
  total = 0;
  enqueued: number | undefined;
  indexed = 0;
  skipped = 0;
  failed = 0;
  listing = true;

  constructor(
    readonly runId: string,
    readonly mode: IngestMode,
    private readonly windowMs = 10_000,
  ) {}

  get done(): number {
    return this.indexed + this.skipped + this.failed;
  }

  addFailure(f: ItemFailure): void {
    this.failed++;
    if (this.failures.length < MAX_REPORTED_FAILURES) this.failures.push(f);
  }

  /** Overwrites the counts (distributed mode reads them back from the run record). */
  setCounts(c: { indexed: number; skipped: number; failed: number }): void {
    this.indexed = c.indexed;
    this.skipped = c.skipped;
    this.failed = c.failed;
  }

  snapshot(now = Date.now()): IngestProgress {
    const done = this.done;
    this.window.push([now, done]);
    while (this.window.length > 2 && now - this.window[0]![0] > this.windowMs) this.window.shift();
    const elapsedMs = now - this.started;
    const [t0, d0] = this.window[0]!;
    // Over the window once it spans a second; before that, the average since the start.
    const itemsPerSec = now - t0 >= 1000 ? ((done - d0) * 1000) / (now - t0) : elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const left = this.total - done;
    const phase = this.listing ? 'listing' : left <= 0 ? 'done' : 'processing';
    const etaMs = !this.listing && itemsPerSec > 0 ? Math.max(0, (left * 1000) / itemsPerSec) : undefined;
    return {
      runId: this.runId,
      mode: this.mode,
      phase,
      total: this.total,
      ...(this.enqueued !== undefined ? { enqueued: this.enqueued } : {}),
      done,
      indexed: this.indexed,
      skipped: this.skipped,
      failed: this.failed,
      elapsedMs,
      itemsPerSec,
      ...(etaMs !== undefined ? { etaMs } : {}),
    };
  }

  summary(extra: Partial<IngestSummary> = {}): IngestSummary {
    const { phase: _phase, etaMs: _eta, ...p } = this.snapshot();
    const elapsed = Math.max(1, p.elapsedMs);
    return { ...p, itemsPerSec: (p.done * 1000) / elapsed, failures: [...this.failures], interrupted: false, ...extra };
  }
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** One line: `[#####-----] 120/300  40% · 35.2 items/s · ETA 0:05 · 2 failed`. */
export function formatProgressLine(p: IngestProgress, width = 24): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(fraction * width);
  const bar = p.phase === 'listing' && p.total === 0 ? '-'.repeat(width) : '#'.repeat(filled) + '-'.repeat(width - filled);
  const total = p.phase === 'listing' ? `${p.total}+` : String(p.total);
  const parts = [
    `[${bar}] ${p.done}/${total}`,
    p.phase === 'listing' ? 'listing' : `${Math.floor(fraction * 100)}%`,
    `${p.itemsPerSec.toFixed(1)} items/s`,
    p.etaMs !== undefined ? `ETA ${formatDuration(p.etaMs)}` : 'ETA --:--',
    `${p.failed} failed`,
  ];
  if (p.skipped > 0) parts.push(`${p.skipped} unchanged`);
  return parts.join(' · ');
}

export function formatSummary(s: IngestSummary, maxFailures = 20): string {
  const lines = [
    `${s.interrupted ? 'interrupted' : 'done'}: ${s.total} items in ${formatDuration(s.elapsedMs)} (${s.itemsPerSec.toFixed(1)} items/s) — ` +
      `${s.indexed} indexed, ${s.skipped} unchanged, ${s.failed} failed`,
    `run ${s.runId} (${s.mode}${s.model ? `, model ${s.model}` : ''}${s.store ? `, store ${s.store}` : ''})`,
  ];
  if (s.failures.length > 0) {
    lines.push('failures:');
    for (const f of s.failures.slice(0, maxFailures)) lines.push(`  ${f.item}: ${f.code}: ${f.reason}`);
    if (s.failed > maxFailures) lines.push(`  … and ${s.failed - maxFailures} more${s.mode === 'distributed' ? ` (clipstream status ${s.runId})` : ' (--json lists all)'}`);
  }
  return lines.join('\n');
}

/** A redrawn bar on a terminal, a line every few seconds otherwise; failures printed as they come. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressListener & { end(): void } {
  const tty = stream.isTTY === true;
  let last = 0;
  let drawn = false;
  const clear = () => {
    if (tty && drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    progress(p) {
      const now = Date.now();
      const final = p.phase === 'done';
      if (!final && now - last < (tty ? 100 : 2000)) return;
      last = now;
      if (tty) {
        stream.write(`\r\x1b[K${formatProgressLine(p)}`);
        drawn = true;
      } else {
        stream.write(formatProgressLine(p) + '\n');
      }
    },
    failure(f) {
      clear();
      stream.write(`✗ ${f.item}: ${f.code}: ${f.reason}\n`);
      last = 0;
    },
    notice(line) {
      clear();
      stream.write(line + '\n');
      last = 0;
    },
    end() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}

/** `--json`: one JSON object per line on stdout (`progress` at most once a second, every `failure`, then `summary`). */
export function jsonProgress(write: (line: string) => void = (l) => process.stdout.write(l)): ProgressListener & { summary(s: IngestSummary): void } {
  let last = 0;
  return {
    progress(p) {
      const now = Date.now();
      if (p.phase !== 'done' && now - last < 1000) return;
      last = now;
      write(JSON.stringify({ type: 'progress', ...p }) + '\n');
    },
    failure(f) {
      write(JSON.stringify({ type: 'failure', ...f }) + '\n');
    },
    notice(line) {
      write(JSON.stringify({ type: 'notice', message: line }) + '\n');
    },
    summary(s) {
      write(JSON.stringify({ type: 'summary', ...s }) + '\n');
    },
  };
}
