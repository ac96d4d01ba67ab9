/**
 * A progress display for long jobs (downloads in bytes, ingestion in items): a bar redrawn in
 * place on a terminal, a line every few seconds in logs, or JSON lines for machines. It only
 * writes to the stream it is given; the caller decides which (stderr, usually, so stdout stays
 * clean for results).
 */
import {
  formatProgressJson,
  formatProgressLine,
  type ProgressEvent,
  type ProgressSnapshot,
  type ProgressUnit,
} from './format.ts';
import { RateMeter } from './rate.ts';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'silent';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'json', 'silent'];

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  unit?: ProgressUnit;
  itemName?: string;
  total?: number;
  /** `auto`: `tty` on a terminal, `plain` otherwise. */
  mode?: ProgressMode;
  stream?: ProgressStream;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
  ttyIntervalMs?: number;
  plainIntervalMs?: number;
  jsonIntervalMs?: number;
  /** Bars drawn with `#`/`-` instead of block characters. */
  ascii?: boolean;
}

export function resolveMode(mode: ProgressMode | undefined, stream: ProgressStream): Exclude<ProgressMode, 'auto'> {
  if (mode && mode !== 'auto') return mode;
  return stream.isTTY ? 'tty' : 'plain';
}

const CLEAR_LINE = '\r\x1b[K';

export class ProgressReporter {
  readonly mode: Exclude<ProgressMode, 'auto'>;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly interval: number;
  private readonly meter = new RateMeter();
  private readonly started: number;
  private lastRender = -Infinity;
  private drawn = false;
  private ended = false;
  private done = 0;
  private total: number | undefined;
  private detail: string | undefined;
  private readonly counters: Record<string, number> = {};

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.mode = resolveMode(opts.mode, this.stream);
    this.now = opts.now ?? Date.now;
    this.interval =
      this.mode === 'tty' ? (opts.ttyIntervalMs ?? 100) : this.mode === 'json' ? (opts.jsonIntervalMs ?? 1000) : (opts.plainIntervalMs ?? 5000);
    this.started = this.now();
    this.total = opts.total;
    this.meter.sample(this.started, 0);
  }

  /** Sets the absolute amount done (bytes or items). */
  update(done: number, patch: { total?: number | undefined; detail?: string | undefined } = {}): void {
    this.done = done;
    if ('total' in patch) this.total = patch.total;
    if ('detail' in patch) this.detail = patch.detail;
    this.meter.sample(this.now(), done);
    this.maybeRender();
  }

  add(n = 1): void {
    this.update(this.done + n);
  }

  /** Bumps a named tally shown beside the rate (`failed 3`). */
  count(counter: string, n = 1): void {
    this.counters[counter] = (this.counters[counter] ?? 0) + n;
    this.maybeRender();
  }

  setTotal(total: number | undefined): void {
    this.total = total;
    this.maybeRender();
  }

  snapshot(): ProgressSnapshot {
    return {
      label: this.opts.label,
      unit: this.opts.unit ?? 'items',
      itemName: this.opts.itemName,
      done: this.done,
      total: this.total,
      ratePerSec: this.ended ? this.averageRate() : this.meter.rate(),
      elapsedS: (this.now() - this.started) / 1000,
      counters: { ...this.counters },
      detail: this.detail,
    };
  }

  /** Prints a message without garbling the bar: it goes above it on a terminal. */
  log(message: string): void {
    if (this.mode === 'silent') return;
    if (this.mode === 'json') {
      this.stream.write(JSON.stringify({ event: 'log', label: this.opts.label, message }) + '\n');
      return;
    }
    if (this.mode === 'tty' && this.drawn) {
      this.stream.write(`${CLEAR_LINE}${message}\n`);
      this.draw();
      return;
    }
    this.stream.write(message + '\n');
  }

  finish(message?: string): void {
    this.end('done', message);
  }

  fail(message?: string): void {
    this.end('failed', message);
  }

  private averageRate(): number | undefined {
    const elapsed = (this.now() - this.started) / 1000;
    return elapsed > 0 ? this.done / elapsed : undefined;
  }

  private end(event: Exclude<ProgressEvent, 'progress'>, message?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.mode === 'silent') return;
    if (this.mode === 'json') {
      this.stream.write(formatProgressJson(this.snapshot(), event, message) + '\n');
      return;
    }
    if (this.mode === 'tty') {
      this.draw();
      this.stream.write('\n');
    } else {
      this.stream.write(this.line() + '\n');
    }
    if (message) this.stream.write(message + '\n');
  }

  private maybeRender(): void {
    if (this.ended || this.mode === 'silent') return;
    const t = this.now();
    if (t - this.lastRender < this.interval) return;
    this.lastRender = t;
    if (this.mode === 'tty') this.draw();
    else if (this.mode === 'json') this.stream.write(formatProgressJson(this.snapshot(), 'progress') + '\n');
    else this.stream.write(this.line() + '\n');
  }

  private line(): string {
    return formatProgressLine(this.snapshot(), { bar: false });
  }

  private draw(): void {
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(CLEAR_LINE + formatProgressLine(this.snapshot(), { bar: true, width, ascii: this.opts.ascii }));
    this.drawn = true;
  }
}

export function createProgress(opts: ProgressOptions): ProgressReporter {
  return new ProgressReporter(opts);
}
