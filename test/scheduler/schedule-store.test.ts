/**
 * What a schedule is and when it fires, without running anything: `defineSchedule` refuses bad
 * input naming the flag; state.db and BullMQ (real Redis) agree on the next firing of the same
 * cron pattern in a time zone and of the same interval (fires at once, then every interval);
 * state.db hands a due schedule out once, and an overdue one once, not once per missed slot.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isClipstreamError } from '../../shared/errors.ts';
import { LocalState } from '../../shared/state/local.ts';
import { nextFireTime } from '../../shared/state/next-fire.ts';
import { RedisSchedules } from '../../services/scheduler/redis-schedules.ts';
import { defineSchedule, describeTiming, scheduleSelection, type ScheduleInput } from '../../services/scheduler/schedule-spec.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';

let redis: TestRedis;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-schedule-store-'));

before(async () => {
  redis = await testRedis(import.meta.url);
});

after(async () => {
  await redis?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

test('defineSchedule refuses bad ids, timings, modes, sources and selections, naming the flag', () => {
  const ok: ScheduleInput = { id: 'nightly', sources: ['s3://shop/catalogue/'], cron: '0 3 * * *' };
  const cases: Array<[Partial<ScheduleInput>, RegExp]> = [
    [{ id: 'a b' }, /schedule id "a b": use letters, digits/],
    [{ id: '-x' }, /schedule id "-x"/],
    [{ cron: undefined }, /exactly one of --cron and --every/],
    [{ every: '1h' }, /exactly one of --cron and --every/],
    [{ cron: 'every night' }, /--cron "every night" is not a cron pattern/],
    [{ tz: 'Europe/Atlantis' }, /unknown time zone "Europe\/Atlantis"/],
    [{ cron: undefined, every: '1h', tz: 'Europe/Berlin' }, /--tz applies to --cron patterns/],
    [{ cron: undefined, every: 'soon' }, /--every "soon": expected a duration/],
    [{ cron: undefined, every: '200ms' }, /--every must be at least 1 s/],
    [{ mode: 'ingest' }, /--mode "ingest": expected sync or rebuild/],
    [{ sources: [] }, /a sync needs at least one source/],
    [{ sources: [path.join(work, 'missing.jsonl')] }, /missing\.jsonl: no such file or folder/],
    [{ sources: ['s3://'] }, /not an S3 location/],
    [{ selection: { productId: 'regex:([' } }, /invalid product id regex "regex:\(\["/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => defineSchedule({ ...ok, ...change }), (err: unknown) => {
      assert.ok(isClipstreamError(err), String(err));
      assert.match((err as Error).message, message);
      return true;
    }, JSON.stringify(change));
  }
});

test('a schedule keeps local sources absolute and its selection; a rebuild may have no sources', () => {
  fs.writeFileSync(path.join(work, 'items.jsonl'), '{"id":"a","text":"x"}\n');
  const s = defineSchedule({
    id: 'q',
    sources: ['items.jsonl', 's3://shop/p/'],
    every: '15m',
    cwd: work,
    selection: { include: ['**/*.jpg'], exclude: [], productId: 'parent-dir' },
    allowMassDelete: true,
    now: new Date('2026-01-27T10:00:00Z'),
  });
  assert.deepEqual(s, {
    id: 'q',
    mode: 'sync',
    sources: [path.join(work, 'items.jsonl'), 's3://shop/p/'],
    everyMs: 900_000,
    options: { include: ['**/*.jpg'], productId: 'parent-dir', allowMassDelete: true },
    createdAt: '2026-01-27T10:00:00.000Z',
  });
  assert.deepEqual(scheduleSelection(s), { include: ['**/*.jpg'], productId: 'parent-dir' });
  assert.equal(describeTiming(s), 'every 15m');
  const r = defineSchedule({ id: 'weekly', sources: [], mode: 'rebuild', cron: '0 4 * * 0', tz: 'Europe/Berlin' });
  assert.deepEqual(r.sources, []);
  assert.equal(describeTiming(r), 'cron 0 4 * * 0 (Europe/Berlin)');
});

test('next firing: a pattern in its time zone (across a DST change); an interval at once, then on its own grid', () => {
  const berlin = { cron: '30 2 * * *', tz: 'Europe/Berlin' };
  // 02:30 local: 01:30Z in winter (CET), 00:30Z in summer (CEST).
  assert.equal(new Date(nextFireTime(berlin, Date.parse('2026-01-27T12:00:00Z'))!).toISOString(), '2026-01-28T01:30:00.000Z');
  assert.equal(new Date(nextFireTime(berlin, Date.parse('2026-07-01T12:00:00Z'))!).toISOString(), '2026-07-02T00:30:00.000Z');
  assert.equal(new Date(nextFireTime({ cron: '30 2 * * *' }, Date.parse('2026-07-01T12:00:00Z'))!).toISOString(), '2026-07-02T02:30:00.000Z', 'UTC without --tz');

  const every = { everyMs: 60_000, createdAt: '2026-01-27T10:00:07.500Z' };
  const created = Date.parse(every.createdAt);
  assert.equal(nextFireTime(every, created - 1), created, 'at once');
  assert.equal(nextFireTime(every, created), created + 60_000);
  assert.equal(nextFireTime(every, created + 10 * 60_000 + 5), created + 11 * 60_000, 'after a pause: the next slot of its grid');
});

test('state.db and BullMQ agree on the next firing of the same schedules', async () => {
  const state = LocalState.open(path.join(work, 'agree'));
  const remote = new RedisSchedules(redis.redis, `${redis.prefix}:agree`);
  try {
    const now = new Date();
    const cron = defineSchedule({ id: 'berlin', sources: ['s3://shop/a/'], cron: '15 3 * * *', tz: 'Europe/Berlin', now });
    const every = defineSchedule({ id: 'hourly', sources: ['s3://shop/b/'], every: '1h', mode: 'rebuild', now });
    for (const s of [cron, every]) {
      await state.schedules.add(s);
      await remote.add(s);
    }
    const local = await state.schedules.list();
    const bull = await remote.list();
    assert.deepEqual(bull.map((v) => v.id), ['berlin', 'hourly']);
    assert.deepEqual(local.map((v) => v.id), ['berlin', 'hourly']);
    assert.equal(local[0]!.next, bull[0]!.next, 'the same cron occurrence in the same time zone');
    assert.equal(local[0]!.next, new Date(nextFireTime(cron, now.getTime())!).toISOString());
    // An interval fires at once in both (BullMQ: at the moment it was added).
    assert.equal(local[1]!.next, now.toISOString());
    assert.ok(Math.abs(Date.parse(bull[1]!.next!) - now.getTime()) < 1000, bull[1]!.next);
    // What BullMQ holds is the schedule as it was defined.
    assert.deepEqual({ ...bull[0], next: undefined }, { ...cron, next: undefined });
    assert.equal(bull[1]!.mode, 'rebuild');

    await state.schedules.recordRun('hourly', { runId: 'r1', outcome: 'skipped', at: now.toISOString(), error: 'busy' });
    await remote.recordRun('hourly', { runId: 'r1', outcome: 'skipped', at: now.toISOString(), error: 'busy' });
    assert.deepEqual((await state.schedules.list())[1]!.last, (await remote.list())[1]!.last);

    assert.equal(await remote.remove('hourly'), true);
    assert.equal(await state.schedules.remove('hourly'), true);
    assert.deepEqual((await remote.list()).map((v) => v.id), ['berlin']);
    assert.deepEqual(await remote.queue.getJobCounts('waiting', 'delayed', 'prioritized'), { waiting: 0, delayed: 1, prioritized: 0 }, "only berlin's next firing is left");
    await remote.recordRun('hourly', { runId: 'r2', outcome: 'succeeded', at: now.toISOString() });
    assert.equal(await redis.redis.hexists(`${redis.prefix}:agree:schedules:last`, 'hourly'), 0, 'a firing ending after remove leaves nothing behind');
  } finally {
    await remote.close();
    state.close();
  }
});

test('state.db hands a due schedule out once, and one overdue for many slots once', async () => {
  const dir = path.join(work, 'due');
  const a = LocalState.open(dir);
  const b = LocalState.open(dir); // a second process on the same DATA_DIR
  try {
    const createdAt = new Date('2026-01-27T10:00:00Z');
    await a.schedules.add(defineSchedule({ id: 'm', sources: ['s3://shop/m/'], every: '1m', now: createdAt }));
    const t0 = createdAt.getTime();
    assert.equal(a.schedules.nextDue(), t0);
    assert.deepEqual(a.schedules.takeDue(t0 - 1), [], 'not yet');
    assert.deepEqual(a.schedules.takeDue(t0).map((s) => s.id), ['m']);
    assert.deepEqual(b.schedules.takeDue(t0), [], 'claimed once, whichever process asks');
    assert.equal(a.schedules.nextDue(), t0 + 60_000);
    // Ten slots missed (no process ran): one firing, then back on the grid.
    const late = t0 + 10 * 60_000 + 30_000;
    assert.deepEqual(b.schedules.takeDue(late).map((s) => s.id), ['m']);
    assert.deepEqual(a.schedules.takeDue(late), []);
    assert.equal(a.schedules.nextDue(), t0 + 11 * 60_000);
    assert.equal((await a.schedules.list())[0]!.next, new Date(t0 + 11 * 60_000).toISOString());
  } finally {
    a.close();
    b.close();
  }
});
