/**
 * Ingest runs in Redis: what `clipstream status [RUN]` shows. The producer creates a run and
 * counts what it queued or skipped; workers count what they finished or gave up on, using the
 * run id carried in each job. A run is finished once the producer has listed everything and
 * every queued item is done or failed; the increment that completes it stamps `finishedAt`
 * atomically (one Lua script), so concurrent workers cannot miss or double-stamp it.
 *
 * Keys under `<QUEUE_PREFIX>:`: `runs` (sorted set, score = start time), `run:<id>` (hash of
 * metadata and counters), `run:<id>:failures` (list of the most recent failures, capped).
 * Counters are at-least-once: a job that runs twice (a worker died after encoding, before
 * acknowledging) counts twice; the point itself is idempotent.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ItemFailure, Modality } from '../catalogue/types.ts';
import { MODALITIES, type ModalityCounts, type RunEnd, type RunFailure, type RunKind, type RunLog, type RunRecord, type RunStart, type SyncCounts } from '../state/types.ts';

export type { RunRecord } from '../state/types.ts';

export interface IngestRunsOptions {
  /** Failures kept per run (counters stay exact beyond it). */
  maxFailures?: number;
  /** Runs kept; the oldest are deleted when a new one starts. */
  maxRuns?: number;
}

const COUNT_FIELDS = ['enqueued', 'skipped', 'done', 'failed'] as const;

// Increments one counter (if the run exists) and stamps finishedAt when production has ended
// and every enqueued item of both modalities is done or failed.
// With an item key (the job id), an item is counted once however often its job runs: a worker
// that dies between counting and acknowledging makes BullMQ run the job again.
const COUNT_AND_MAYBE_FINISH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[4] ~= '' and redis.call('SADD', KEYS[2], ARGV[4]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2])) end
local f = redis.call('HMGET', KEYS[1], 'producedAt', 'finishedAt',
  'image:enqueued', 'image:done', 'image:failed', 'text:enqueued', 'text:done', 'text:failed')
local function n(x) if x then return tonumber(x) else return 0 end end
if f[1] and not f[2] and n(f[4]) + n(f[5]) >= n(f[3]) and n(f[7]) + n(f[8]) >= n(f[6]) then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[3])
  redis.call('DEL', KEYS[2])
end
return 1
`;

/** A sortable, readable run id without `:` (it ends up in Redis keys and CLI arguments): `20260127T025009Z-3fa9c1`. */
export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export class IngestRuns implements RunLog {
  readonly mode = 'distributed' as const;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #maxFailures: number;
  readonly #maxRuns: number;

  constructor(redis: Redis, prefix: string, options: IngestRunsOptions = {}) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#maxFailures = options.maxFailures ?? 1_000;
    this.#maxRuns = options.maxRuns ?? 500;
  }

  #runKey(id: string): string {
    return `${this.#prefix}:run:${id}`;
  }
  #failuresKey(id: string): string {
    return `${this.#prefix}:run:${id}:failures`;
  }
  #countedKey(id: string): string {
    return `${this.#prefix}:run:${id}:counted`;
  }
  get #indexKey(): string {
    return `${this.#prefix}:runs`;
  }

  async createRun(
    sources: readonly string[],
    options: { id?: string; now?: Date | undefined; kind?: RunKind; collection?: string | undefined; trigger?: string | undefined } = {},
  ): Promise<string> {
    const now = options.now ?? new Date();
    const id = options.id ?? newRunId(now);
    const fields: Record<string, string> = { id, kind: options.kind ?? 'ingest', sources: JSON.stringify(sources), startedAt: now.toISOString(), sourceFailures: '0' };
    if (options.collection) fields.collection = options.collection;
    if (options.trigger) fields.trigger = options.trigger;
    for (const m of MODALITIES) for (const c of COUNT_FIELDS) fields[`${m}:${c}`] = '0';
    await this.#redis.multi().hset(this.#runKey(id), fields).zadd(this.#indexKey, now.getTime(), id).exec();
    await this.#prune();
    return id;
  }

  async create(run: RunStart): Promise<void> {
    await this.createRun(run.sources, { id: run.id, now: run.startedAt, kind: run.kind, collection: run.collection, trigger: run.trigger });
  }

  /** The run as a whole ended (after its deletions or alias swap): how, and what a sync found. */
  async finish(id: string, end: RunEnd): Promise<void> {
    const fields: Record<string, string> = { endedAt: new Date().toISOString(), outcome: end.outcome };
    if (end.error) fields.error = end.error;
    if (end.sync) fields.sync = JSON.stringify(end.sync);
    // A run that ended has produced all it will (a failed or skipped one, a rebuild whose passes
    // are runs of their own), so it stops counting as in progress.
    const multi = this.#redis.multi().hset(this.#runKey(id), fields).hsetnx(this.#runKey(id), 'producedAt', fields.endedAt!);
    // Counts and failures were recorded as they happened (by the producer and the workers).
    await multi.exec();
    // Stamps finishedAt once nothing it queued is outstanding (at once when it queued nothing).
    await this.#count(id, '', 0);
  }

  read(id: string, options: { failures?: number } = {}): Promise<RunRecord | undefined> {
    return this.readRun(id, options);
  }

  list(limit = 20): Promise<RunRecord[]> {
    return this.listRuns(limit);
  }

  async #prune(): Promise<void> {
    const stale = await this.#redis.zrange(this.#indexKey, 0, String(-this.#maxRuns - 1));
    if (stale.length === 0) return;
    await this.#redis
      .multi()
      .del(...stale.flatMap((id) => [this.#runKey(id), this.#failuresKey(id), this.#countedKey(id)]))
      .zrem(this.#indexKey, ...stale)
      .exec();
  }

  /** Returns false when the run is unknown or `itemKey` was already counted. */
  async #count(id: string, field: string, n: number, itemKey = ''): Promise<boolean> {
    const counted = await this.#redis.eval(COUNT_AND_MAYBE_FINISH, 2, this.#runKey(id), this.#countedKey(id), field, String(n), new Date().toISOString(), itemKey);
    return counted === 1;
  }

  async recordEnqueued(id: string, modality: Modality, n = 1): Promise<void> {
    await this.#count(id, `${modality}:enqueued`, n);
  }

  async recordSkipped(id: string, modality: Modality, n = 1): Promise<void> {
    await this.#count(id, `${modality}:skipped`, n);
  }

  /** One item done; with `itemKey` (its job id) a re-run of the same job is not counted again. */
  async recordDone(id: string, modality: Modality, itemKey?: string): Promise<void> {
    await this.#count(id, `${modality}:done`, 1, itemKey);
  }

  /**
   * A failed item. With `modality`, an item that was queued and gave up (counts towards the
   * run's completion); without, one the source rejected before it became an item.
   */
  async recordFailed(id: string, failure: ItemFailure, modality?: Modality, itemKey?: string): Promise<void> {
    const entry: RunFailure = { item: failure.item, code: failure.code, reason: failure.reason, at: new Date().toISOString() };
    if (modality) entry.modality = modality;
    if (!(await this.#count(id, modality ? `${modality}:failed` : 'sourceFailures', 1, itemKey))) return;
    await this.#redis
      .multi()
      .lpush(this.#failuresKey(id), JSON.stringify(entry))
      .ltrim(this.#failuresKey(id), 0, this.#maxFailures - 1)
      .exec();
  }

  /** The producer has listed every source; the run finishes when the queued work has. */
  async finishProducing(id: string, now: Date = new Date()): Promise<void> {
    await this.#redis.hsetnx(this.#runKey(id), 'producedAt', now.toISOString());
    await this.#count(id, '', 0);
  }

  async readRun(id: string, options: { failures?: number } = {}): Promise<RunRecord | undefined> {
    const wanted = Math.max(0, options.failures ?? this.#maxFailures);
    const [hash, failures] = await Promise.all([
      this.#redis.hgetall(this.#runKey(id)),
      // LRANGE 0 -1 would mean "all": asking for none must not fetch the whole list.
      wanted === 0 ? Promise.resolve([] as string[]) : this.#redis.lrange(this.#failuresKey(id), 0, wanted - 1),
    ]);
    if (!hash || !hash.id) return undefined;
    return toRunRecord(hash, failures.map((f) => JSON.parse(f) as RunFailure));
  }

  /** The most recent runs first, without their failure lists. */
  async listRuns(limit = 20): Promise<RunRecord[]> {
    const ids = await this.#redis.zrevrange(this.#indexKey, 0, limit - 1);
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.#runKey(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([err, hash]) => (err || !hash || !(hash as Record<string, string>).id ? [] : [toRunRecord(hash as Record<string, string>, [])]));
  }

  /** The latest run's id, for `clipstream status` without an argument. */
  async latestRunId(): Promise<string | undefined> {
    const [id] = await this.#redis.zrevrange(this.#indexKey, 0, 0);
    return id;
  }
}

function toRunRecord(hash: Record<string, string>, failures: RunFailure[]): RunRecord {
  const num = (k: string) => Number(hash[k] ?? 0);
  const counts = {} as Record<Modality, ModalityCounts>;
  for (const m of MODALITIES) {
    counts[m] = { enqueued: num(`${m}:enqueued`), skipped: num(`${m}:skipped`), done: num(`${m}:done`), failed: num(`${m}:failed`) };
  }
  const record: RunRecord = {
    id: hash.id!,
    kind: (hash.kind as RunKind | undefined) ?? 'ingest',
    mode: 'distributed',
    sources: JSON.parse(hash.sources ?? '[]') as string[],
    startedAt: hash.startedAt!,
    state: hash.finishedAt ? 'finished' : hash.producedAt ? 'processing' : 'producing',
    counts,
    sourceFailures: num('sourceFailures'),
    failures,
  };
  if (hash.collection) record.collection = hash.collection;
  if (hash.trigger) record.trigger = hash.trigger;
  if (hash.producedAt) record.producedAt = hash.producedAt;
  if (hash.finishedAt) record.finishedAt = hash.finishedAt;
  if (hash.endedAt) record.endedAt = hash.endedAt;
  if (hash.outcome) record.outcome = hash.outcome as NonNullable<RunRecord['outcome']>;
  if (hash.error) record.error = hash.error;
  if (hash.sync) record.sync = JSON.parse(hash.sync) as SyncCounts;
  return record;
}
