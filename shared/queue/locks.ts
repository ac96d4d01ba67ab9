/**
 * Leases in Redis, for the distributed mode: `SET key holder NX PX lease`, renewed by the holder
 * at a third of the lease and released only by the holder (a token compared in Lua). A process
 * that dies stops renewing, and its lease expires: a crashed run never blocks a source for good.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Lease, LeaseOptions, Locks } from '../state/types.ts';

const DEFAULT_LEASE_MS = 60_000;

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class RedisLocks implements Locks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async acquire(key: string, options: LeaseOptions): Promise<Lease | { heldBy: string }> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const redisKey = `${this.prefix}:lock:${key}`;
    // The value is the holder (for messages) and a random token (so only the holder releases).
    const token = `${randomBytes(12).toString('hex')} ${options.holder}`;
    const ok = await this.redis.set(redisKey, token, 'PX', leaseMs, 'NX');
    if (ok !== 'OK') {
      const value = (await this.redis.get(redisKey)) ?? '';
      return { heldBy: value.slice(value.indexOf(' ') + 1) || 'another run' };
    }
    return new RedisLease(this.redis, key, redisKey, token, leaseMs);
  }
}

class RedisLease implements Lease {
  private timer: NodeJS.Timeout | undefined;
  private lostFlag = false;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly redisKey: string,
    private readonly token: string,
    leaseMs: number,
  ) {
    this.timer = setInterval(() => {
      this.redis.eval(RENEW, 1, this.redisKey, this.token, String(leaseMs)).then(
        (n) => {
          if (n !== 1) this.lostFlag = true;
        },
        () => {
          // Redis unreachable for a moment: the next renewal may still make it within the lease.
        },
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  get lost(): boolean {
    return this.lostFlag;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.eval(RELEASE, 1, this.redisKey, this.token).catch(() => 0);
  }
}
