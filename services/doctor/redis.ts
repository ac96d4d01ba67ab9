/**
 * Redis as BullMQ needs it: reachable, a version BullMQ supports, `maxmemory-policy noeviction`
 * (an evicting Redis silently drops job keys under memory pressure, and jobs vanish), and
 * persistence (without AOF or RDB a restart forgets every queued job, run record and schedule).
 */
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { closeRedis, connectRedis, redactRedisUrl } from '../../shared/queue/connection.ts';
import { compareVersions, fail, ok, skip, warn, within, type Finding } from './check.ts';

/** BullMQ refuses older servers; 6.2 is the oldest it is tested on. */
const MIN_VERSION = '5.0.0';
const RECOMMENDED_VERSION = '6.2.0';

export async function checkRedis(config: Config, timeoutMs: number): Promise<Finding[]> {
  const url = config.queue.redisUrl;
  if (!url) return [skip('redis', 'REDIS_URL is not set: embedded mode (the in-process runner), no queues')];
  const shown = redactRedisUrl(url);
  let redis;
  try {
    redis = await connectRedis(url, { connectTimeoutMs: timeoutMs, maxReconnectDelayMs: 500, connectionName: 'clipstream-doctor' });
  } catch (err) {
    return [fail('redis', describeError(err), 'start Redis, or fix REDIS_URL (redis://[user:password@]host:port[/db])')];
  }
  const findings: Finding[] = [];
  try {
    const info = await within(`Redis at ${shown}`, timeoutMs, redis.info('server'));
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    findings.push(ok('redis', `reachable at ${shown}`));
    if (version === 'unknown') findings.push(warn('redis.version', 'the server did not say its version', `check that it is Redis ${RECOMMENDED_VERSION} or newer`));
    else if (compareVersions(version, MIN_VERSION) < 0) findings.push(fail('redis.version', `Redis ${version}; BullMQ needs ${MIN_VERSION} or newer`, 'upgrade Redis (7.x)'));
    else if (compareVersions(version, RECOMMENDED_VERSION) < 0) findings.push(warn('redis.version', `Redis ${version}; ${RECOMMENDED_VERSION} or newer is recommended`, 'upgrade Redis (7.x)'));
    else findings.push(ok('redis.version', `Redis ${version}`));

    let config_: Record<string, string> | undefined;
    try {
      config_ = {};
      for (const key of ['maxmemory-policy', 'appendonly', 'save']) {
        const [, value] = (await within(`Redis at ${shown}`, timeoutMs, redis.config('GET', key))) as [string, string];
        config_[key] = value ?? '';
      }
    } catch (err) {
      config_ = undefined;
      findings.push(
        warn('redis.config', `CONFIG GET is refused (${describeError(err)}): eviction policy and persistence cannot be read`, 'check in your provider\'s settings that maxmemory-policy is noeviction and persistence (AOF) is on'),
      );
    }
    if (config_) {
      const policy = config_['maxmemory-policy'];
      if (policy === 'noeviction') findings.push(ok('redis.eviction', 'maxmemory-policy noeviction'));
      else {
        findings.push(
          fail('redis.eviction', `maxmemory-policy is ${policy}: under memory pressure Redis evicts BullMQ's keys and jobs disappear`, 'set maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy noeviction, then CONFIG REWRITE)'),
        );
      }
      const aof = config_.appendonly === 'yes';
      const rdb = (config_.save ?? '').trim() !== '';
      if (aof) findings.push(ok('redis.persistence', `AOF on${rdb ? ', RDB snapshots too' : ''}`));
      else if (rdb) findings.push(warn('redis.persistence', `RDB snapshots only (save "${config_.save}"): a crash loses the jobs since the last snapshot`, 'turn AOF on: appendonly yes (appendfsync everysec)'));
      else {
        findings.push(
          warn('redis.persistence', 'persistence is off (save "" and appendonly no): a Redis restart loses the queued jobs, run records and schedules', 'turn AOF on: appendonly yes (producers that lose their run stop with QUEUE_STATE_LOST; --resume continues)'),
        );
      }
    }
  } catch (err) {
    findings.push(fail('redis', `Redis at ${shown} stopped answering: ${describeError(err)}`, 'check the Redis server and the network'));
  } finally {
    await closeRedis(redis);
  }
  return findings;
}
