/**
 * Schedules firing real runs, in both modes, with the scheduler in this process: distributed —
 * BullMQ job schedulers in Redis, `startScheduler` consuming them, an embed worker encoding;
 * embedded — the schedules of state.db, `EmbeddedScheduler` running them on this process's
 * encoder and store. A short-interval schedule fires, runs and records its run; a firing while
 * another run holds its source, or while its own previous run still goes, is skipped and
 * recorded as skipped; removing it stops it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { openQueues, RedisLocks, type QueueContext } from '../../shared/queue/index.ts';
import { fileUri } from '../../shared/sources/local.ts';
import { LocalState } from '../../shared/state/local.ts';
import { isLease, type Lease, type Locks, type RunLog, type Schedules } from '../../shared/state/types.ts';
import { resolveAlias } from '../../shared/store/schema.ts';
import { startScheduler, type RunningScheduler } from '../../services/scheduler/distributed.ts';
import { EmbeddedScheduler } from '../../services/scheduler/embedded.ts';
import { RedisSchedules } from '../../services/scheduler/redis-schedules.ts';
import { defineSchedule } from '../../services/scheduler/schedule-spec.ts';
import { startEmbedWorker, type EmbedWorker } from '../../workers/embed/worker.ts';
import { allPoints, testConfig } from '../pipeline/harness.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { Firings, SlowRecordsFile } from './support.ts';

let store: TestStore;
let redis: TestRedis;
let thread: EncoderThread;
let n = 0;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-schedules-'));
const storeRef = () => ({ client: store.client, url: store.url });

before(async () => {
  [store, redis] = await Promise.all([startTestStore(), testRedis(import.meta.url)]);
  thread = await EncoderThread.open(testConfig({}));
});

after(async () => {
  await thread?.close();
  await Promise.all([store?.close(), redis?.cleanup()]);
  fs.rmSync(work, { recursive: true, force: true });
});

interface Harness {
  config: Config;
  schedules: Schedules;
  runs: RunLog;
  locks: Locks;
  firings: Firings;
  close(): Promise<void>;
}

/** A scheduler of the mode with its own alias, Redis prefix and DATA_DIR. */
async function harness(mode: 'embedded' | 'distributed'): Promise<Harness> {
  const id = `${mode}${++n}`;
  const config = testConfig({
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name(`sched_${id}`),
    ...(mode === 'distributed' ? { REDIS_URL: redis.url, QUEUE_PREFIX: `${redis.prefix}:${id}` } : {}),
  });
  const firings = new Firings();
  if (mode === 'embedded') {
    const state = LocalState.open(config.store.dataDir);
    const scheduler = EmbeddedScheduler.start(config, { encoder: thread, store: storeRef(), state, pollMs: 200, onFired: firings.onFired });
    return {
      config,
      schedules: state.schedules,
      runs: state.runs,
      locks: state.locks,
      firings,
      async close() {
        await scheduler.close();
        state.close();
      },
    };
  }
  const ctx: QueueContext = await openQueues(config.queue);
  let worker: EmbedWorker | undefined;
  let scheduler: RunningScheduler | undefined;
  const schedules = new RedisSchedules(ctx.redis, ctx.queues.prefix);
  try {
    worker = await startEmbedWorker(config, { encoder: thread, store: storeRef(), stalledIntervalMs: 1000, lockDurationMs: 5000 });
    scheduler = await startScheduler(config, { queueContext: ctx, store: storeRef(), concurrency: 2, onFired: firings.onFired });
  } catch (err) {
    await worker?.close();
    await ctx.close();
    throw err;
  }
  return {
    config,
    schedules,
    runs: ctx.runs,
    locks: new RedisLocks(ctx.redis, ctx.queues.prefix),
    firings,
    async close() {
      await scheduler?.close();
      await worker?.close();
      await schedules.close();
      await ctx.close();
    },
  };
}

function recordsFile(name: string, lines: ReadonlyArray<Record<string, unknown>>): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

const shoes = (k: number) => Array.from({ length: k }, (_, i) => ({ id: `s${i}`, text: `red running shoe number ${i}`, lang: 'en' }));

for (const mode of ['embedded', 'distributed'] as const) {
  test(`${mode}: a 1 s schedule fires, runs and records its runs; while another run holds its source it is skipped and recorded; removing it stops it`, async () => {
    const h = await harness(mode);
    let held: Lease | undefined;
    try {
      const file = recordsFile(`every-${mode}.jsonl`, shoes(3));
      await h.schedules.add(defineSchedule({ id: 'often', sources: [file], every: '1s' }));
      const byOften = (f: { scheduleId: string }) => f.scheduleId === 'often';

      // It fires, runs a sync and records it.
      const first = await h.firings.next((f) => byOften(f) && f.outcome === 'succeeded', { what: 'that succeeded' });
      const run = await h.runs.read(first.runId);
      assert.equal(run?.trigger, 'schedule:often');
      assert.equal(run?.kind, 'sync');
      assert.equal(run?.outcome, 'succeeded');
      assert.equal(run?.state, 'finished');
      assert.equal(run?.sync?.added, 3, JSON.stringify(run));
      assert.equal((await allPoints(store.client, h.config.store.collection)).length, 3, 'the sync wrote into the store');
      const view = (await h.schedules.list()).find((s) => s.id === 'often');
      assert.ok(view?.next, 'list shows the next run');
      assert.ok(view?.last, 'list shows the last run');

      // Another run holds the source: the next firings are skipped, each with a record that says why.
      const collection = await resolveAlias(store.client, h.config.store.collection);
      const key = `${collection}|${fileUri(file)}`;
      for (;;) {
        const got = await h.locks.acquire(key, { holder: 'a run started by the test', leaseMs: 60_000 });
        if (isLease(got)) {
          held = got;
          break;
        }
        await h.firings.next(byOften, { what: 'that ended (the source was in use)' });
      }
      const skipped = await h.firings.next((f) => byOften(f) && f.outcome === 'skipped' && /in use by a run started by the test/.test(f.error ?? ''), { what: 'skipped for the held source' });
      assert.match(skipped.error ?? '', /in use by a run started by the test \(one run per source at a time\)/);
      const skippedRun = await h.runs.read(skipped.runId);
      assert.equal(skippedRun?.outcome, 'skipped');
      assert.equal(skippedRun?.state, 'finished');
      assert.equal(skippedRun?.trigger, 'schedule:often');
      assert.deepEqual(skippedRun?.sources, [file]);
      assert.match(skippedRun?.error ?? '', /in use by a run started by the test/);
      // While the source is held every firing is skipped, so the last run is a skip (this one or a later one).
      assert.equal((await h.schedules.list()).find((s) => s.id === 'often')?.last?.outcome, 'skipped');

      // Released: it runs again (nothing changed, so nothing is encoded).
      await held.release();
      held = undefined;
      const again = await h.firings.next((f) => byOften(f) && f.outcome === 'succeeded', { what: 'that succeeded after the release' });
      assert.deepEqual((await h.runs.read(again.runId))?.sync, { added: 0, changed: 0, deleted: 0, unchanged: 3, deletionsHeldBack: 0, duplicates: 0 });

      // Removed: no firing of it starts any more. A second 1 s schedule firing twice is the clock.
      assert.equal(await h.schedules.remove('often'), true);
      assert.equal(await h.schedules.remove('often'), false);
      assert.deepEqual((await h.schedules.list()).map((s) => s.id), []);
      const clockFile = recordsFile(`clock-${mode}.jsonl`, shoes(1));
      await h.schedules.add(defineSchedule({ id: 'clock', sources: [clockFile], every: '1s' }));
      const tick = await h.firings.next((f) => f.scheduleId === 'clock', { what: 'of the clock' });
      const fromTick = h.firings.all.indexOf(tick) + 1;
      await h.firings.next((f) => f.scheduleId === 'clock', { what: 'of the clock, again', from: fromTick });
      const tickEnded = (await h.runs.read(tick.runId))!.endedAt!;
      const late = (await h.runs.list(100)).filter((r) => r.trigger === 'schedule:often' && r.startedAt > tickEnded);
      assert.deepEqual(late, [], 'a removed schedule fires no more');
      await h.schedules.remove('clock');
    } finally {
      await held?.release();
      await h.close();
    }
  });

  test(`${mode}: a firing while the schedule's previous run still goes is skipped and recorded; that run then ends normally`, async () => {
    const h = await harness(mode);
    const slow = new SlowRecordsFile(path.join(work, `slow-${mode}.jsonl`));
    try {
      await h.schedules.add(defineSchedule({ id: 'slow', sources: [slow.path], every: '1s' }));
      // The first firing's run waits in the listing (the pipe has no writer yet); the next one is skipped.
      const skipped = await h.firings.next((f) => f.scheduleId === 'slow', { what: 'of the slow schedule' });
      assert.equal(skipped.outcome, 'skipped', JSON.stringify(skipped));
      const m = /its previous run \(run (\S+)\) is still going/.exec(skipped.error ?? '');
      assert.ok(m, skipped.error);
      const longRunId = m[1]!;
      const skippedRun = await h.runs.read(skipped.runId);
      assert.equal(skippedRun?.outcome, 'skipped');
      assert.equal(skippedRun?.trigger, 'schedule:slow');
      assert.match(skippedRun?.error ?? '', /is still going/);
      const going = await h.runs.read(longRunId);
      assert.equal(going?.trigger, 'schedule:slow', 'the run still going is recorded too');
      assert.equal(going?.outcome, undefined, 'and has not ended');
      assert.equal((await h.schedules.list())[0]?.last?.outcome, 'skipped');

      await h.schedules.remove('slow');
      await slow.release(shoes(2));
      const ended = await h.firings.next((f) => f.runId === longRunId, { what: 'of the long run' });
      assert.equal(ended.outcome, 'succeeded', ended.error);
      const record = await h.runs.read(longRunId);
      assert.equal(record?.sync?.added, 2);
      assert.equal(record?.state, 'finished');
    } finally {
      slow.close();
      await h.close();
    }
  });
}
