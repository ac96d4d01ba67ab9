/**
 * Embedded schedules: the schedules of DATA_DIR/state.db fired inside `clipstream serve` (and
 * `npm start`'s demo), with the same timing rules as BullMQ's (next-fire.ts). The runs use the
 * process's own encoder, store connection and state.db — the embedded store belongs to one
 * process, so a scheduled run could not open another.
 *
 * The table is read again at every tick (at most SCHEDULE_POLL_MS apart, sooner when a firing is
 * due), so `clipstream schedule add|remove` from another shell takes effect without a restart. A
 * due row is claimed by advancing its next firing time in one UPDATE, so a firing is never run
 * twice, and one that fell due while no process ran is fired once at start.
 */
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import type { EncoderStats } from '../../shared/encoder/index.ts';
import type { PipelineEncoder, PipelineStore } from '../../shared/pipeline/index.ts';
import { LocalState } from '../../shared/state/local.ts';
import type { Schedule } from '../../shared/state/types.ts';
import { connectStore, type StoreConnection } from '../store-connect.ts';
import { fireSchedule, type Firing, type ScheduledRunners } from './fire.ts';

export interface EmbeddedSchedulerOptions {
  encoder: PipelineEncoder & { stats?(): EncoderStats };
  store: PipelineStore;
  /** state.db already open; left open. Default: opened under DATA_DIR (and closed by `close`). */
  state?: LocalState | undefined;
  /** Default SCHEDULE_POLL_MS. */
  pollMs?: number | undefined;
  log?: ((line: string) => void) | undefined;
  /** Called when a firing has ended (ran or skipped) and is recorded. */
  onFired?: ((firing: Firing) => void) | undefined;
  runners?: ScheduledRunners | undefined;
}

export class EmbeddedScheduler {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private closed = false;

  private constructor(
    private readonly config: Config,
    private readonly o: EmbeddedSchedulerOptions,
    private readonly state: LocalState,
    private readonly ownsState: boolean,
  ) {}

  static start(config: Config, options: EmbeddedSchedulerOptions): EmbeddedScheduler {
    const state = options.state ?? LocalState.open(config.store.dataDir);
    const scheduler = new EmbeddedScheduler(config, options, state, !options.state);
    options.log?.(`schedules: from ${state.file}, read every ${scheduler.pollMs} ms`);
    scheduler.tick();
    return scheduler;
  }

  private get pollMs(): number {
    return this.o.pollMs ?? this.config.runs.schedulePollMs;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    let wait = this.pollMs;
    try {
      for (const schedule of this.state.schedules.takeDue(Date.now())) this.fire(schedule);
      const next = this.state.schedules.nextDue();
      if (next !== undefined) wait = Math.max(0, Math.min(wait, next - Date.now()));
    } catch (err) {
      // state.db busy or unreadable for a moment: try again at the next tick.
      this.o.log?.(`schedules: cannot read ${this.state.file}: ${describeError(err)}`);
    }
    this.timer = setTimeout(() => this.tick(), wait);
    // Serving keeps the process alive, not the schedules.
    this.timer.unref();
  }

  private fire(schedule: Schedule): void {
    const task = fireSchedule(this.config, schedule, {
      runs: this.state.runs,
      locks: this.state.locks,
      schedules: this.state.schedules,
      shared: { mode: 'embedded', encoder: this.o.encoder, store: this.o.store, state: this.state },
      signal: this.abort.signal,
      log: this.o.log,
      runners: this.o.runners,
    }).then(
      (firing) => this.o.onFired?.(firing),
      (err: unknown) => this.o.log?.(`schedule ${schedule.id}: ${describeError(err)}`),
    );
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }

  /** Stops firing, interrupts the runs going on (they record themselves) and waits for them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort(new Error('the scheduler is stopping'));
    await Promise.all([...this.running]);
    if (this.ownsState) this.state.close();
  }
}

export interface EmbeddedScheduling {
  encoder: EncoderThread;
  store: StoreConnection;
  scheduler: EmbeddedScheduler;
  /** The scheduler (its runs interrupted and recorded), then the store and the encoder. */
  close(): Promise<void>;
}

/**
 * For `clipstream serve`: the encoder and the store it serves with, opened here so that the
 * scheduled runs share them, and the scheduler started on them.
 */
export async function openEmbeddedScheduling(config: Config, options: { allowTestModel?: boolean | undefined; onNotice?: ((line: string) => void) | undefined } = {}): Promise<EmbeddedScheduling> {
  const notice = options.onNotice;
  // Off the main thread: inference is synchronous and would stall every request.
  const encoder = await EncoderThread.open(config, { allowTestModel: options.allowTestModel, onNotice: notice });
  let store: StoreConnection | undefined;
  try {
    store = await connectStore(config);
    if (store.embedded) notice?.(`store: embedded, ${store.url}`);
    const scheduler = EmbeddedScheduler.start(config, { encoder, store, log: notice });
    const opened = store;
    return {
      encoder,
      store,
      scheduler,
      async close() {
        await scheduler.close();
        await opened.close();
        await encoder.close();
      },
    };
  } catch (err) {
    await store?.close();
    await encoder.close();
    throw err;
  }
}
