/**
 * Where `clipstream schedule` keeps schedules: BullMQ job schedulers in Redis when REDIS_URL is
 * set (run by `clipstream scheduler`), else DATA_DIR/state.db (run by `clipstream serve` and the
 * demo). The same store in the same place whichever process asks.
 */
import type { Config } from '../../shared/config/index.ts';
import { closeRedis, connectRedis, redactRedisUrl } from '../../shared/queue/connection.ts';
import { SCHEDULES_QUEUE } from '../../shared/queue/queues.ts';
import { LocalState } from '../../shared/state/local.ts';
import type { Schedules } from '../../shared/state/types.ts';
import { RedisSchedules } from './redis-schedules.ts';

export interface OpenedSchedules {
  schedules: Schedules;
  /** Where they are kept, for messages. */
  where: string;
  /** Which process fires them, for messages. */
  runBy: string;
  close(): Promise<void>;
}

export async function openSchedules(config: Config): Promise<OpenedSchedules> {
  if (config.queue.redisUrl) {
    const redis = await connectRedis(config.queue.redisUrl, { connectionName: 'clipstream-schedule' });
    const schedules = new RedisSchedules(redis, config.queue.prefix);
    return {
      schedules,
      where: `Redis ${redactRedisUrl(config.queue.redisUrl)}, queue ${config.queue.prefix}:${SCHEDULES_QUEUE}`,
      runBy: '`clipstream scheduler`',
      async close() {
        await schedules.close();
        await closeRedis(redis);
      },
    };
  }
  const state = LocalState.open(config.store.dataDir);
  return {
    schedules: state.schedules,
    where: state.file,
    runBy: '`clipstream serve` (or `npm start`)',
    close: async () => state.close(),
  };
}
