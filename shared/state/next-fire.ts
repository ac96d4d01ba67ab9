/**
 * When a schedule fires next, with BullMQ's own rules so an embedded schedule and a distributed
 * one behave alike: a cron pattern is read by cron-parser (the library BullMQ uses) in the
 * schedule's time zone; a fixed interval fires when the schedule is added and then every
 * interval after that (BullMQ 6's `every`: the grid is anchored at the first firing, and a
 * process that was down catches up with one firing, not one per missed slot), so restarting a
 * process does not shift the grid.
 */
import { CronExpressionParser } from 'cron-parser';
import { ClipstreamError } from '../errors.ts';
import type { Schedule } from './types.ts';

/**
 * Milliseconds since the epoch of the first firing strictly after `afterMs`, or undefined if none.
 * `every` slots are `createdAt + k·every` (k ≥ 0); without `createdAt`, multiples of the interval.
 */
export function nextFireTime(schedule: Pick<Schedule, 'cron' | 'everyMs' | 'tz'> & { createdAt?: string }, afterMs: number): number | undefined {
  if (schedule.everyMs !== undefined) {
    const every = schedule.everyMs;
    const created = schedule.createdAt ? Date.parse(schedule.createdAt) : Number.NaN;
    const anchor = Number.isNaN(created) ? 0 : created;
    if (afterMs < anchor) return anchor;
    return anchor + (Math.floor((afterMs - anchor) / every) + 1) * every;
  }
  if (!schedule.cron) return undefined;
  try {
    const it = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(afterMs), tz: schedule.tz ?? 'UTC' });
    return it.hasNext() ? it.next().getTime() : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses a pattern cron-parser cannot read, an unknown time zone, or neither/both of cron and every. */
export function checkScheduleTiming(schedule: Pick<Schedule, 'cron' | 'everyMs' | 'tz'>): void {
  if ((schedule.cron === undefined) === (schedule.everyMs === undefined)) {
    throw new ClipstreamError('BAD_REQUEST', 'a schedule needs exactly one of --cron and --every');
  }
  if (schedule.everyMs !== undefined && !(Number.isInteger(schedule.everyMs) && schedule.everyMs >= 1000)) {
    throw new ClipstreamError('BAD_REQUEST', `--every must be at least 1 s, got ${schedule.everyMs} ms`);
  }
  if (schedule.tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: schedule.tz });
    } catch {
      throw new ClipstreamError('BAD_REQUEST', `unknown time zone ${JSON.stringify(schedule.tz)} (use an IANA name such as Europe/Berlin)`);
    }
  }
  if (schedule.cron !== undefined) {
    try {
      CronExpressionParser.parse(schedule.cron, { tz: schedule.tz ?? 'UTC' });
    } catch (err) {
      throw new ClipstreamError('BAD_REQUEST', `--cron ${JSON.stringify(schedule.cron)} is not a cron pattern: ${(err as Error).message}`);
    }
  }
}

/** `30s`, `5m`, `2h`, `1d` or plain milliseconds → milliseconds. */
export function parseInterval(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) throw new ClipstreamError('BAD_REQUEST', `--every ${JSON.stringify(text)}: expected a duration such as 30s, 15m, 6h or 1d`);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * factor);
}
