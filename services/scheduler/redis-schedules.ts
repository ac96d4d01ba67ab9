/**
 * Distributed schedules: BullMQ job schedulers on the `schedules` queue under QUEUE_PREFIX, one
 * per schedule (its id), the schedule itself as the job data and the mode as the job name. BullMQ
 * keeps the next firing as a delayed job in Redis, so a schedule survives restarts of every
 * process; `clipstream scheduler` consumes the queue. The last firing of each schedule is kept
 * beside it in a hash (`<prefix>:schedules:last`).
 */
import { Queue, type JobSchedulerTemplateOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { SCHEDULES_QUEUE } from '../../shared/queue/queues.ts';
import type { Schedule, ScheduleLastRun, Schedules, ScheduleView } from '../../shared/state/types.ts';

/** One attempt (a failed run is recorded, not retried); finished firings are trimmed, the run records keep them. */
const FIRING_OPTIONS: JobSchedulerTemplateOptions = { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

export class RedisSchedules implements Schedules {
  readonly queue: Queue<Schedule>;
  readonly #redis: Redis;
  readonly #lastKey: string;

  /** On an existing connection (left open by `close`). */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#lastKey = `${prefix}:schedules:last`;
    this.queue = new Queue<Schedule>(SCHEDULES_QUEUE, { connection: redis, prefix });
  }

  async add(schedule: Schedule): Promise<void> {
    const timing = schedule.cron !== undefined ? { pattern: schedule.cron, ...(schedule.tz ? { tz: schedule.tz } : {}) } : { every: schedule.everyMs! };
    await this.queue.upsertJobScheduler(schedule.id, timing, { name: schedule.mode, data: schedule, opts: FIRING_OPTIONS });
  }

  async has(id: string): Promise<boolean> {
    return (await this.queue.getJobScheduler(id)) !== undefined;
  }

  async remove(id: string): Promise<boolean> {
    const scheduler = await this.queue.getJobScheduler(id);
    if (!scheduler) return false;
    await this.queue.removeJobScheduler(id);
    // BullMQ drops the next firing only while it is delayed; one already due would still run.
    if (scheduler.next !== undefined) await this.queue.remove(`repeat:${id}:${scheduler.next}`).catch(() => 0);
    await this.#redis.hdel(this.#lastKey, id);
    return true;
  }

  async list(): Promise<ScheduleView[]> {
    const [schedulers, last] = await Promise.all([this.queue.getJobSchedulers(0, -1, true), this.#redis.hgetall(this.#lastKey)]);
    const views = schedulers.flatMap((s): ScheduleView[] => {
      const data = s.template?.data;
      if (!data) return []; // not one of ours
      const view: ScheduleView = { ...data, id: s.key };
      // The timing BullMQ holds is what fires; shown from there rather than from the copy in the data.
      if (s.pattern) view.cron = s.pattern;
      if (s.every) view.everyMs = s.every;
      if (s.tz) view.tz = s.tz;
      if (s.next !== undefined) view.next = new Date(s.next).toISOString();
      const l = last[s.key];
      if (l) view.last = JSON.parse(l) as ScheduleLastRun;
      return [view];
    });
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  async recordRun(id: string, last: ScheduleLastRun): Promise<void> {
    // Only while the schedule exists: a firing that ends after `remove` leaves no stale entry.
    if (await this.has(id)) await this.#redis.hset(this.#lastKey, id, JSON.stringify(last));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
