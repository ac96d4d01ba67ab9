/**
 * An isolated Redis namespace per test file on the shared Redis (`REDIS_URL`, default
 * redis://127.0.0.1:6379): a unique key prefix (use it as QUEUE_PREFIX), and a cleanup that
 * deletes only that prefix's keys. Never FLUSHDB — other test files use the same database at
 * the same time.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../shared/queue/connection.ts';

export interface TestRedis {
  url: string;
  /** Unique per call: `test-<name>-<pid>-<random>`. */
  prefix: string;
  redis: Redis;
  /** Keys currently under the prefix (for assertions about cleanup). */
  keys(): Promise<string[]>;
  /** Deletes the prefix's keys and closes the connection. */
  cleanup(): Promise<void>;
}

export const TEST_REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** `name`: usually `import.meta.url` or the test file's name. */
export async function testRedis(name: string): Promise<TestRedis> {
  const label = path
    .basename(name)
    .replace(/\.test\.ts$|\.ts$/, '')
    .replace(/[^a-z0-9]+/gi, '-')
    .toLowerCase()
    .slice(0, 40);
  const prefix = `test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const redis = await connectRedis(TEST_REDIS_URL, { connectTimeoutMs: 5_000, connectionName: prefix });
  const keys = async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return found;
  };
  return {
    url: TEST_REDIS_URL,
    prefix,
    redis,
    keys,
    async cleanup() {
      const found = await keys();
      for (let i = 0; i < found.length; i += 500) await redis.unlink(...found.slice(i, i + 500));
      await closeRedis(redis);
    },
  };
}
