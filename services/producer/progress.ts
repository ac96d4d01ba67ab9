/**
 * Progress of an ingest run, the same in both modes: counts, throughput over a sliding window,
 * and an ETA once the sources have been listed to the end. Rendering is separate from
 * counting so the CLI bar, `--json` lines and the demo all read one `IngestProgress`.
 */
import type { ItemFailure, Modality } from '../../shared/catalogue/types.ts';
import { emptyCounts, type ModalityCounts, type SyncCounts } from '../../shared/state/types.ts';
import { formatDuration, ProgressReporter, type ProgressStream } from '../../shared/progress/index.ts';

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
  /** What a sync found against the index: added, changed, deleted, unchanged. */
  sync?: SyncCounts;
  /** How the run ended, and why when it failed (or what it held back). */
  outcome?: 'succeeded' | 'failed' | 'interrupted' | 'skipped';
  error?: string;
  collection?: string;
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

  /** Per modality, as the run record keeps them. */
  readonly counts: Record<Modality, ModalityCounts> = emptyCounts();
  /** Failures of the sources themselves (bad lines, unreadable files), never queued. */
  sourceFailures = 0;

  /** One item queued, done (indexed) or left unchanged. */
  count(modality: Modality, what: 'enqueued' | 'done' | 'skipped'): void {
    this.counts[modality][what]++;
    if (what === 'done') this.indexed++;
    else if (what === 'skipped') this.skipped++;
  }

  /** With `modality`: an item that failed; without: a bad source entry. */
  addFailure(f: ItemFailure, modality?: Modality): void {
    this.failed++;
    if (modality) this.counts[modality].failed++;
    else this.sourceFailures++;
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

export function formatSummary(s: IngestSummary, maxFailures = 20): string {
  const lines = [
    `${s.interrupted ? 'interrupted' : 'done'}: ${s.total} items in ${formatDuration(s.elapsedMs / 1000)} (${s.itemsPerSec.toFixed(1)} items/s) — ` +
      `${s.indexed} indexed, ${s.skipped} unchanged, ${s.failed} failed`,
    `run ${s.runId} (${s.mode}${s.model ? `, model ${s.model}` : ''}${s.store ? `, store ${s.store}` : ''}${s.collection ? `, collection ${s.collection}` : ''})`,
  ];
  if (s.sync) lines.push(`sync: ${describeSync(s.sync)}`);
  if (s.error) lines.push(`${s.outcome === 'failed' ? 'FAILED' : 'note'}: ${s.error}`);
  if (s.failures.length > 0) {
    lines.push('failures:');
    for (const f of s.failures.slice(0, maxFailures)) lines.push(`  ${f.item}: ${f.code}: ${f.reason}`);
    if (s.failed > maxFailures) lines.push(`  … and ${s.failed - maxFailures} more${s.mode === 'distributed' ? ` (clipstream status ${s.runId})` : ' (--json lists all)'}`);
  }
  return lines.join('\n');
}

export function describeSync(c: SyncCounts): string {
  const parts = [`${c.added} added`, `${c.changed} changed`, `${c.deleted} deleted`, `${c.unchanged} unchanged`];
  if (c.deletionsHeldBack > 0) parts.push(`${c.deletionsHeldBack} deletion(s) held back`);
  if (c.duplicates > 0) parts.push(`${c.duplicates} duplicate id(s), last one wins`);
  return parts.join(', ');
}

export type IngestOutput = 'auto' | 'tty' | 'plain' | 'json' | 'silent';

/**
 * Renders an ingest run with the project's progress display: a bar on a terminal, a line every
 * few seconds in logs, or JSON lines (`--json`: `progress` events, one `failure` event per bad
 * item, then `summary`). Failures and notices go above the bar as they happen.
 */
export function ingestDisplay(
  output: IngestOutput,
  stream: ProgressStream = output === 'json' ? process.stdout : process.stderr,
): Required<ProgressListener> & { finish(summary: IngestSummary): void } {
  const reporter = new ProgressReporter({ label: 'ingest', unit: 'items', mode: output, stream, ascii: output !== 'tty' });
  const json = reporter.mode === 'json';
  const shown = { failed: 0, unchanged: 0 };
  return {
    progress(p) {
      // Counters appear only once non-zero, so a clean run's line stays short.
      for (const [name, value] of [['failed', p.failed], ['unchanged', p.skipped]] as const) {
        if (value > shown[name]) reporter.count(name, value - shown[name]);
        shown[name] = value;
      }
      reporter.update(p.done, { total: p.phase === 'listing' ? undefined : p.total, detail: p.phase === 'listing' ? `listing… ${p.total} found` : undefined });
    },
    failure(f) {
      if (json) stream.write(JSON.stringify({ event: 'failure', ...f }) + '\n');
      else if (reporter.mode !== 'silent') reporter.log(`✗ ${f.item}: ${f.code}: ${f.reason}`);
    },
    notice(line) {
      reporter.log(line);
    },
    finish(summary) {
      if (json) {
        reporter.finish();
        stream.write(JSON.stringify({ event: 'summary', ...summary }) + '\n');
        return;
      }
      reporter.finish(reporter.mode === 'silent' ? undefined : formatSummary(summary));
    },
  };
}
