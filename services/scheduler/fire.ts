/**
 * One firing of a schedule, the same in both modes: it becomes a sync or rebuild run, or — when
 * the schedule's previous run is still going, or another run holds one of its sources — a
 * skipped one. Either way it leaves a run record (`clipstream status`) and becomes the
 * schedule's last run (`clipstream schedule list`).
 *
 * Two locks decide a skip, both leases that expire when their holder dies:
 * - `schedule|<id>`, held for the whole firing: the previous run of this schedule;
 * - the run's own leases on its sources (composeRun) or on the alias (a rebuild): any other run
 *   of the same sources, scheduled or from the shell. Refused before the run recorded anything,
 *   it throws RUN_LOCKED; that is turned into the skipped record here.
 */
import type { Config } from '../../shared/config/index.ts';
import { describeError, isClipstreamError } from '../../shared/errors.ts';
import { newRunId } from '../../shared/queue/runs.ts';
import { isLease, type Locks, type RunLog, type RunOutcome, type Schedule, type Schedules } from '../../shared/state/types.ts';
import { runSync, type SyncOptions } from '../producer/ingest.ts';
import { runRebuild, type RebuildOptions } from '../producer/rebuild.ts';
import { scheduleSelection } from './schedule-spec.ts';

/** What a firing runs; tests replace them (a run that waits until the test lets it go on). */
export interface ScheduledRunners {
  sync(config: Config, sources: readonly string[], options: SyncOptions): Promise<{ outcome: RunOutcome; error?: string }>;
  rebuild(config: Config, sources: readonly string[], options: RebuildOptions): Promise<{ outcome: RunOutcome; error?: string }>;
}

export const DEFAULT_RUNNERS: ScheduledRunners = { sync: runSync, rebuild: runRebuild };

export interface FiringContext {
  /** Where the mode records runs and takes leases (the same the run itself uses). */
  runs: RunLog;
  locks: Locks;
  schedules: Pick<Schedules, 'recordRun'>;
  /** What the process already holds and every run shares: mode, encoder, store, state, queues. */
  shared: Pick<SyncOptions, 'mode' | 'encoder' | 'store' | 'state' | 'queueContext'>;
  /** Aborting interrupts the run (items in flight finish; the record says interrupted). */
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  runners?: ScheduledRunners | undefined;
}

export interface Firing {
  scheduleId: string;
  runId: string;
  outcome: RunOutcome;
  error?: string;
}

export async function fireSchedule(config: Config, schedule: Schedule, ctx: FiringContext): Promise<Firing> {
  const runId = newRunId();
  const log = (line: string) => ctx.log?.(`schedule ${schedule.id}: ${line}`);
  const guard = await ctx.locks.acquire(`schedule|${schedule.id}`, { holder: `run ${runId}`, leaseMs: config.runs.leaseMs });
  if (!isLease(guard)) {
    return conclude(ctx, schedule, { scheduleId: schedule.id, runId, outcome: 'skipped', error: `its previous run (${guard.heldBy}) is still going` }, { record: true }, log);
  }
  try {
    const runners = ctx.runners ?? DEFAULT_RUNNERS;
    const options = {
      ...ctx.shared,
      trigger: `schedule:${schedule.id}`,
      runId,
      selection: scheduleSelection(schedule),
      allowMassDelete: schedule.options?.allowMassDelete === true,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      listener: { notice: log },
    };
    log(`${schedule.mode} run ${runId} started`);
    try {
      const summary = schedule.mode === 'rebuild' ? await runners.rebuild(config, schedule.sources, options) : await runners.sync(config, schedule.sources, options);
      return await conclude(ctx, schedule, { scheduleId: schedule.id, runId, outcome: summary.outcome, ...(summary.error ? { error: summary.error } : {}) }, { record: false }, log);
    } catch (err) {
      // Did the run get as far as recording itself? If not, this firing's record is written here.
      const recorded = (await ctx.runs.read(runId, { failures: 0 }).catch(() => undefined)) !== undefined;
      const skipped = !recorded && isClipstreamError(err, 'RUN_LOCKED');
      return await conclude(ctx, schedule, { scheduleId: schedule.id, runId, outcome: skipped ? 'skipped' : 'failed', error: describeError(err) }, { record: !recorded }, log);
    }
  } finally {
    await guard.release();
  }
}

/** Records the firing as the schedule's last run (and as a run record when the run left none). */
async function conclude(ctx: FiringContext, schedule: Schedule, firing: Firing, o: { record: boolean }, log: (line: string) => void): Promise<Firing> {
  try {
    if (o.record) {
      await ctx.runs.create({ id: firing.runId, kind: schedule.mode === 'rebuild' ? 'rebuild' : 'sync', sources: schedule.sources, trigger: `schedule:${schedule.id}` });
      await ctx.runs.finish(firing.runId, { outcome: firing.outcome, ...(firing.error ? { error: firing.error } : {}) });
    }
    await ctx.schedules.recordRun(schedule.id, { runId: firing.runId, outcome: firing.outcome, at: new Date().toISOString(), ...(firing.error ? { error: firing.error } : {}) });
  } catch (err) {
    // The state store is unreachable: the firing still happened; say so rather than lose it silently.
    log(`could not record run ${firing.runId}: ${describeError(err)}`);
  }
  log(`run ${firing.runId} ${firing.outcome}${firing.error ? `: ${firing.error}` : ''}`);
  return firing;
}
