/**
 * A schedule as `clipstream schedule add` defines it, checked before it is kept anywhere: the
 * timing (cron pattern and time zone, or an interval), the mode, the sources and how they are
 * read. Whatever is wrong is refused here with the flag and the reason, not at 3 a.m. when it
 * fires.
 */
import { ClipstreamError } from '../../shared/errors.ts';
import { checkScheduleTiming, parseInterval } from '../../shared/state/next-fire.ts';
import type { Schedule, ScheduledRunOptions, ScheduleMode } from '../../shared/state/types.ts';
import { parseSources, selectionOptions, compactSelection, type SourceSelection } from '../producer/sources.ts';

/** Readable on a command line and safe as a Redis key part and in `schedule:<id>` triggers. */
const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ScheduleInput {
  id: string;
  sources: readonly string[];
  mode?: string | undefined;
  cron?: string | undefined;
  tz?: string | undefined;
  /** `30s`, `15m`, `6h`, `1d`. */
  every?: string | undefined;
  selection?: SourceSelection | undefined;
  allowMassDelete?: boolean | undefined;
  /** Local paths are resolved against it and kept absolute (the scheduler runs elsewhere). */
  cwd?: string | undefined;
  now?: Date | undefined;
}

export function defineSchedule(input: ScheduleInput): Schedule {
  if (!SCHEDULE_ID.test(input.id)) {
    throw new ClipstreamError('BAD_REQUEST', `schedule id ${JSON.stringify(input.id)}: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)`);
  }
  const mode = (input.mode ?? 'sync') as ScheduleMode;
  if (mode !== 'sync' && mode !== 'rebuild') {
    throw new ClipstreamError('BAD_REQUEST', `--mode ${JSON.stringify(input.mode)}: expected sync or rebuild`);
  }
  if (mode === 'sync' && input.sources.length === 0) {
    throw new ClipstreamError('BAD_REQUEST', `schedule ${input.id}: a sync needs at least one source (a rebuild without sources rebuilds the ones the live collection has registered)`);
  }
  if (input.tz !== undefined && input.cron === undefined) {
    throw new ClipstreamError('BAD_REQUEST', '--tz applies to --cron patterns; an --every interval has no time zone');
  }
  const timing = {
    ...(input.cron !== undefined ? { cron: input.cron.trim() } : {}),
    ...(input.every !== undefined ? { everyMs: parseInterval(input.every) } : {}),
    ...(input.tz !== undefined ? { tz: input.tz } : {}),
  };
  checkScheduleTiming(timing);
  // Parsed now so a typo fails here; local paths must exist and are kept absolute.
  const sources = parseSources(input.sources, input.cwd).map((s) => ('path' in s ? s.path : s.spec));
  const selection = compactSelection(input.selection);
  selectionOptions(selection); // a bad --product-id regex is refused now
  const options: ScheduledRunOptions = { ...selection, ...(input.allowMassDelete ? { allowMassDelete: true } : {}) };
  return {
    id: input.id,
    mode,
    sources,
    ...timing,
    ...(Object.keys(options).length > 0 ? { options } : {}),
    createdAt: (input.now ?? new Date()).toISOString(),
  };
}

/** How the sources of a scheduled run are read (what the flags said at `schedule add`). */
export function scheduleSelection(schedule: Schedule): SourceSelection {
  const o = schedule.options ?? {};
  return compactSelection({ include: o.include, exclude: o.exclude, contentTypes: o.contentTypes, productId: o.productId, dataset: o.dataset });
}

/** `cron 0 3 * * * (Europe/Berlin)`, `every 15m`. */
export function describeTiming(schedule: Pick<Schedule, 'cron' | 'everyMs' | 'tz'>): string {
  if (schedule.cron !== undefined) return `cron ${schedule.cron}${schedule.tz ? ` (${schedule.tz})` : ' (UTC)'}`;
  return `every ${formatInterval(schedule.everyMs ?? 0)}`;
}

function formatInterval(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
