/** Pure formatting of progress figures: no clock, no stream, so every line can be tested as text. */

export type ProgressUnit = 'bytes' | 'items';

/** Everything a progress line shows, frozen at one instant. */
export interface ProgressSnapshot {
  label: string;
  unit: ProgressUnit;
  /** Plural noun for `items` (e.g. `images`); ignored for bytes. */
  itemName?: string | undefined;
  done: number;
  total?: number | undefined;
  /** Units per second over the recent window, when known. */
  ratePerSec?: number | undefined;
  elapsedS: number;
  /** Extra tallies shown after the rate, e.g. `{ failed: 3 }`; zero counts are shown too once set. */
  counters: Readonly<Record<string, number>>;
  /** What is being worked on now (a file name, a key); shortened first when the line is too long. */
  detail?: string | undefined;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '? B';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${sign}${Math.round(v)} B`;
  // Three significant figures, but never "1024.0 KiB": rounding can reach the next unit.
  let text = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  if (Number(text) >= 1024 && i < BYTE_UNITS.length - 1) {
    i++;
    text = (Number(text) / 1024).toFixed(2);
  }
  return `${sign}${text} ${BYTE_UNITS[i]}`;
}

/** Whole counts with thousands separators: `12,345`. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  return Math.round(n).toLocaleString('en-US');
}

export function formatAmount(n: number, unit: ProgressUnit): string {
  return unit === 'bytes' ? formatBytes(n) : formatCount(n);
}

export function formatRate(perSec: number | undefined, unit: ProgressUnit, itemName = 'items'): string {
  if (perSec === undefined || !Number.isFinite(perSec)) return unit === 'bytes' ? '-- B/s' : `-- ${itemName}/s`;
  if (unit === 'bytes') return `${formatBytes(perSec)}/s`;
  const text = perSec >= 100 ? formatCount(perSec) : perSec >= 10 ? perSec.toFixed(1) : perSec.toFixed(2);
  return `${text} ${itemName}/s`;
}

/** Compact durations: `7s`, `1m05s`, `2h03m`, `3d04h`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Seconds left at the current rate; undefined when the total or the rate is unknown. */
export function etaSeconds(done: number, total: number | undefined, ratePerSec: number | undefined): number | undefined {
  if (total === undefined || ratePerSec === undefined || !(ratePerSec > 0)) return undefined;
  return Math.max(0, (total - done) / ratePerSec);
}

/** Fraction done in [0, 1]; undefined without a total. A zero total counts as complete. */
export function fractionDone(done: number, total: number | undefined): number | undefined {
  if (total === undefined) return undefined;
  if (total <= 0) return 1;
  return Math.min(1, Math.max(0, done / total));
}

export function renderBar(fraction: number, width: number, ascii = false): string {
  const inner = Math.max(1, width - 2);
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * inner);
  const [on, off] = ascii ? ['#', '-'] : ['█', '░'];
  return `[${on.repeat(filled)}${off.repeat(inner - filled)}]`;
}

function formatCounters(counters: Readonly<Record<string, number>>): string[] {
  return Object.entries(counters).map(([name, n]) => `${name} ${formatCount(n)}`);
}

/** Keeps the end of a path-like detail, where the distinguishing part usually is. */
export function shortenLeft(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return text.slice(text.length - Math.max(0, max));
  return `…${text.slice(text.length - (max - 1))}`;
}

export interface LineOptions {
  /** Maximum characters; the bar shrinks first, then the detail, then the line is cut. */
  width?: number | undefined;
  /** Draw a bar (terminals); plain logs leave it out. */
  bar?: boolean | undefined;
  ascii?: boolean | undefined;
}

export function formatProgressLine(s: ProgressSnapshot, opts: LineOptions = {}): string {
  const width = opts.width ?? Infinity;
  const fraction = fractionDone(s.done, s.total);
  const figures: string[] = [];
  if (fraction !== undefined) {
    figures.push(`${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`);
    figures.push(`${formatAmount(s.done, s.unit)}/${formatAmount(s.total!, s.unit)}`);
  } else {
    figures.push(formatAmount(s.done, s.unit) + (s.unit === 'items' ? ` ${s.itemName ?? 'items'}` : ''));
  }
  figures.push(formatRate(s.ratePerSec, s.unit, s.itemName));
  const eta = etaSeconds(s.done, s.total, s.ratePerSec);
  figures.push(fraction !== undefined && fraction < 1 ? `ETA ${formatDuration(eta)}` : `in ${formatDuration(s.elapsedS)}`);
  figures.push(...formatCounters(s.counters));

  const head = s.label;
  const body = figures.join('  ');
  const compose = (barWidth: number, detail: string | undefined) =>
    [head, opts.bar && fraction !== undefined && barWidth > 0 ? renderBar(fraction, barWidth, opts.ascii) : undefined, body, detail]
      .filter((p): p is string => p !== undefined && p !== '')
      .join('  ');

  const detail = s.detail;
  const fixed = compose(0, undefined).length;
  let barWidth = opts.bar && fraction !== undefined ? Math.min(32, Math.max(0, width - fixed - 2 - (detail ? detail.length + 2 : 0))) : 0;
  if (barWidth < 10) barWidth = opts.bar && fraction !== undefined && width - fixed - 2 >= 10 ? 10 : 0;
  let line = compose(barWidth, detail);
  if (line.length > width && detail) {
    const room = width - compose(barWidth, '').length - 2;
    line = room >= 8 ? compose(barWidth, shortenLeft(detail, room)) : compose(barWidth, undefined);
  }
  if (line.length > width) line = compose(0, undefined);
  if (line.length > width) line = line.slice(0, Math.max(0, width));
  return line;
}

export type ProgressEvent = 'progress' | 'done' | 'failed';

/** One JSON line for machines: stable keys, raw numbers (bytes, seconds), no formatting. */
export function formatProgressJson(s: ProgressSnapshot, event: ProgressEvent, message?: string): string {
  const eta = etaSeconds(s.done, s.total, s.ratePerSec);
  const round = (x: number | undefined, digits: number) => (x === undefined ? null : Number(x.toFixed(digits)));
  return JSON.stringify({
    event,
    label: s.label,
    unit: s.unit === 'items' ? (s.itemName ?? 'items') : 'bytes',
    done: s.done,
    total: s.total ?? null,
    rate_per_s: round(s.ratePerSec, 3),
    eta_s: event === 'progress' ? round(eta, 1) : null,
    elapsed_s: round(s.elapsedS, 3),
    counters: s.counters,
    ...(s.detail !== undefined ? { detail: s.detail } : {}),
    ...(message !== undefined ? { message } : {}),
  });
}
