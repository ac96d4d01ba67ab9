/**
 * Schedules across processes, through the command line: `clipstream schedule add|list|remove`,
 * a `clipstream scheduler` process that is killed and started again (the schedule lives in Redis
 * and goes on firing), and `clipstream serve` firing a schedule of its DATA_DIR/state.db into the
 * store it serves.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { openQueues } from '../../shared/queue/index.ts';
import { LocalState } from '../../shared/state/local.ts';
import type { ScheduleView } from '../../shared/state/types.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { allPoints, testConfig } from '../pipeline/harness.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { childEnv, CliProcess, runCli, waitForRun } from './support.ts';

let store: TestStore;
let redis: TestRedis;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-scheduler-cli-'));

before(async () => {
  [store, redis] = await Promise.all([startTestStore(), testRedis(import.meta.url)]);
});

after(async () => {
  await Promise.all([store?.close(), redis?.cleanup()]);
  fs.rmSync(work, { recursive: true, force: true });
});

function writeRecords(file: string, k: number): void {
  fs.writeFileSync(file, Array.from({ length: k }, (_, i) => JSON.stringify({ id: `r${i}`, text: `blue linen shirt ${i}`, lang: 'en' })).join('\n') + '\n');
}

test('clipstream schedule refuses bad input with exit status 2, naming the flag and the reason', async () => {
  // Every refusal is covered by schedule-store.test.ts; here, that the command line reports them.
  const env = childEnv({ DATA_DIR: path.join(work, 'refusals') });
  const cases: Array<[string[], RegExp]> = [
    [['add', 'x', 's3://shop/x/', '--cron', '0 3 * * *', '--tz', 'Europe/Atlantis'], /unknown time zone "Europe\/Atlantis" .*\[BAD_REQUEST\]/],
    [['remove', 'nothing-here'], /no schedule "nothing-here" in .*state\.db .*\[NOT_FOUND\]/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['schedule', ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  const list = await runCli(['schedule', 'list', '--json'], env);
  assert.deepEqual((JSON.parse(list.stdout) as { schedules: unknown[] }).schedules, [], 'nothing was kept');
});

test('distributed: a schedule added with the CLI goes on firing after its scheduler process is killed and started again', async () => {
  const prefix = `${redis.prefix}:restart`;
  const env = childEnv({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name('sched_restart'),
    DATA_DIR: path.join(work, 'restart'),
    // A killed scheduler's leases run out quickly, so the restarted one is not held up for long.
    RUN_LEASE_MS: '2000',
  });
  const config = testConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('sched_restart') });
  const file = path.join(work, 'restart.jsonl');
  writeRecords(file, 2);
  const ctx = await openQueues(config.queue);
  const thread = await EncoderThread.open(config);
  const worker = await startEmbedWorker(config, { encoder: thread, store: { client: store.client, url: store.url }, stalledIntervalMs: 1000, lockDurationMs: 5000 });
  let scheduler: CliProcess | undefined;
  try {
    const added = await runCli(['schedule', 'add', 'restarts', file, '--every', '2s'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /schedule restarts added: restarts: sync, every 2s; next \S+; not run yet/);
    assert.match(added.stdout, new RegExp(`kept in Redis .*queue ${prefix}:schedules; run by \`clipstream scheduler\``));

    scheduler = new CliProcess(['scheduler'], env);
    const first = await waitForRun(ctx.runs, (r) => r.trigger === 'schedule:restarts' && r.outcome === 'succeeded', { what: 'of the first scheduler' });
    assert.equal(first.sync?.added, 2);
    assert.equal(first.mode, 'distributed');

    // Killed outright (no chance to clean up), while the source changes.
    assert.equal(await scheduler.stop('SIGKILL'), -1);
    writeRecords(file, 3);
    const restartedAt = new Date().toISOString();
    scheduler = new CliProcess(['scheduler'], env);
    const afterRestart = (r: { trigger?: string; outcome?: string; startedAt: string }) => r.trigger === 'schedule:restarts' && r.outcome === 'succeeded' && r.startedAt > restartedAt;
    await waitForRun(ctx.runs, afterRestart, { what: 'after the restart' });
    // Every 2 s: on a slow machine more than one run may have ended by now; the first saw the change.
    const [firstAfter] = (await ctx.runs.list(50)).filter(afterRestart).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const later = (await ctx.runs.read(firstAfter!.id))!;
    assert.deepEqual(later.sync, { added: 1, changed: 0, deleted: 0, unchanged: 2, deletionsHeldBack: 0, duplicates: 0 });
    assert.equal((await allPoints(store.client, config.store.collection)).length, 3);

    const list = await runCli(['schedule', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const [view] = (JSON.parse(list.stdout) as { schedules: ScheduleView[] }).schedules;
    assert.equal(view?.id, 'restarts');
    assert.equal(view?.everyMs, 2000);
    assert.ok(view?.next && Date.parse(view.next) > Date.parse(first.startedAt), 'the next run is ahead');
    assert.ok(view?.last?.runId && (await ctx.runs.read(view.last.runId))?.trigger === 'schedule:restarts', 'the last run is one of its runs');

    const text = await runCli(['schedule', 'list'], env);
    assert.match(text.stdout, /^restarts: sync, every 2s; next \S+; last (succeeded|skipped) at \S+ \(run \S+\)/m);
    assert.match(text.stdout, new RegExp(`sources: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const status = await runCli(['status', later.id], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /run \S+: sync, succeeded \(schedule:restarts\)/);

    assert.equal((await runCli(['schedule', 'remove', 'restarts'], env)).code, 0);
    assert.equal(await scheduler.stop('SIGTERM'), 0, scheduler.stderr);
    assert.match(scheduler.stderr, /SIGTERM: interrupting the scheduled runs, then closing/);
  } finally {
    await scheduler?.stop('SIGKILL');
    await worker.close();
    await thread.close();
    await ctx.close();
  }
});

test('embedded: a schedule added with the CLI runs inside clipstream serve, into the store it serves', async () => {
  const dataDir = path.join(work, 'serve');
  const file = path.join(work, 'serve.jsonl');
  writeRecords(file, 3);
  // Against a real Qdrant (QDRANT_URL) serve uses it under a collection of its own; else the embedded store under DATA_DIR.
  const env = childEnv({ DATA_DIR: dataDir, SCHEDULE_POLL_MS: '300', ...(store.external ? { QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('sched_serve') } : {}) });
  const serve = new CliProcess(['serve', '--port', '0', '--allow-test-model'], env);
  try {
    const [, url] = await serve.waitForOutput(/search page: (http:\/\/\S+?)\/\n/);
    assert.match(serve.stderr, /schedules: from .*state\.db, read every 300 ms/);

    const added = await runCli(['schedule', 'add', 'in-serve', file, '--every', '1h'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /kept in .*state\.db; run by `clipstream serve`/);

    // An interval fires once at once: serve sees it at its next look at state.db.
    const state = LocalState.open(dataDir);
    try {
      const run = await waitForRun(state.runs, (r) => r.trigger === 'schedule:in-serve' && r.state === 'finished', { what: 'of serve' });
      assert.equal(run.outcome, 'succeeded', run.error);
      assert.equal(run.mode, 'embedded');
      assert.equal(run.sync?.added, 3);
      // serve records the schedule's last firing just after the run's own record: poll for it.
      let view: ScheduleView | undefined;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        [view] = await state.schedules.list();
        if (view?.last?.runId === run.id) break;
      }
      assert.equal(view?.last?.runId, run.id);
      assert.equal(view?.last?.outcome, 'succeeded');
      assert.ok(view?.next && Date.parse(view.next) - Date.parse(run.startedAt) > 59 * 60_000, 'next in about an hour');
    } finally {
      state.close();
    }

    // The run wrote into the store serve searches.
    const res = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'blue linen shirt', limit: 5, modality: 'text' }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { hits: Array<{ payload: { source: string } }> };
    assert.deepEqual(body.hits.map((h) => h.payload.source).sort(), ['record:serve/r0', 'record:serve/r1', 'record:serve/r2']);

    const removed = await runCli(['schedule', 'remove', 'in-serve'], env);
    assert.equal(removed.code, 0, removed.stderr);
  } finally {
    assert.equal(await serve.stop('SIGTERM'), 0, serve.stderr);
  }
});
