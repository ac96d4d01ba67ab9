/**
 * Strict mode's `read_rate_limit` / `write_rate_limit`: a token bucket per collection and kind
 * holding at most `limit` tokens, refilled at `limit` per minute. A request costs tokens by its
 * size (see strict-mode.ts: 1 plus a token per filter condition for a search or scroll, one per
 * id for a retrieve, one per point for a write); one that costs more than the bucket holds, or
 * than it holds now, is answered 429 with Qdrant's message and a Retry-After in seconds.
 */
import { StoreError } from './errors.ts';

/** 429 with the seconds after which the request can succeed (the server sends Retry-After). */
export class RateLimitError extends StoreError {
  readonly retryAfterSeconds: number | null;

  constructor(message: string, retryAfterSeconds: number | null) {
    super(429, `Rate limiting exceeded: ${message}`);
    this.name = 'RateLimitError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(readonly capacity: number) {
    this.tokens = capacity;
    this.at = Date.now();
  }

  /** Takes `cost` tokens or throws; `label` is "Read" or "Write". */
  take(cost: number, label: string): void {
    if (cost > this.capacity) throw new RateLimitError(`${label} rate limit exceeded, request larger than rate limiter capacity, please try to split your request`, null);
    const now = Date.now();
    const perMs = this.capacity / 60_000;
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * perMs);
    this.at = now;
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return;
    }
    const wait = Math.max(1, Math.ceil((cost - this.tokens) / perMs / 1000));
    throw new RateLimitError(`${label} rate limit exceeded: Operation requires ${cost} tokens but only ${(Math.floor(this.tokens * 10) / 10).toFixed(1)} were available. Retry after ${wait}s`, wait);
  }
}

const buckets = new WeakMap<object, { read?: TokenBucket; write?: TokenBucket }>();

/** Charges `cost` against the collection's read or write limit (a new limit starts a full bucket). */
export function charge(owner: object, kind: 'read' | 'write', limit: number, cost: number): void {
  let pair = buckets.get(owner);
  if (!pair) buckets.set(owner, (pair = {}));
  let bucket = pair[kind];
  if (!bucket || bucket.capacity !== limit) pair[kind] = bucket = new TokenBucket(limit);
  bucket.take(cost, kind === 'read' ? 'Read' : 'Write');
}
