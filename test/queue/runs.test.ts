import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestRuns, newRunId } from '../../shared/queue/runs.ts';
import { testRedis } from '../support/redis.ts';

const r = await testRedis(import.meta.url);
test.after(() => r.cleanup());

test('run ids sort by start time and carry no ":"', () => {
  const a = newRunId(new Date('2026-01-27T02:50:09.123Z'));
  assert.match(a, /^20260127T025009Z-[0-9a-f]{6}$/);
  assert.ok(newRunId(new Date('2026-01-27T02:50:10Z')) > a);
});

test('a run counts per modality and finishes when production ended and every queued item is done or failed', async () => {
  const runs = new IngestRuns(r.redis, `${r.prefix}:a`);
  const id = await runs.createRun(['s3://bkt/cat/', './records.jsonl']);
  await runs.recordEnqueued(id, 'image', 2);
  await runs.recordEnqueued(id, 'text');
  await runs.recordSkipped(id, 'text', 5);
  await runs.recordFailed(id, { item: 'records.jsonl:7', code: 'RECORD_INVALID', reason: 'malformed JSON' });
  await runs.recordDone(id, 'image');
  await runs.recordDone(id, 'text');

  let run = (await runs.readRun(id))!;
  assert.equal(run.state, 'producing');
  assert.deepEqual(run.sources, ['s3://bkt/cat/', './records.jsonl']);
  assert.deepEqual(run.counts, { image: { enqueued: 2, skipped: 0, done: 1, failed: 0 }, text: { enqueued: 1, skipped: 5, done: 1, failed: 0 } });
  assert.equal(run.sourceFailures, 1);

  await runs.finishProducing(id);
  run = (await runs.readRun(id))!;
  assert.equal(run.state, 'processing', 'one image still in flight');
  assert.ok(run.producedAt);
  assert.equal(run.finishedAt, undefined);

  await runs.recordFailed(id, { item: 's3://bkt/cat/b.jpg', code: 'IMAGE_DECODE_FAILED', reason: 'not an image' }, 'image');
  run = (await runs.readRun(id))!;
  assert.equal(run.state, 'finished');
  assert.ok(run.finishedAt! >= run.producedAt!);
  assert.equal(run.counts.image.failed, 1);
  assert.deepEqual(
    run.failures.map((f) => [f.item, f.code, f.modality]),
    [
      ['s3://bkt/cat/b.jpg', 'IMAGE_DECODE_FAILED', 'image'],
      ['records.jsonl:7', 'RECORD_INVALID', undefined],
    ],
  );
});

test('a run with nothing queued finishes as soon as production ends', async () => {
  const runs = new IngestRuns(r.redis, `${r.prefix}:b`);
  const id = await runs.createRun(['./empty']);
  await runs.recordSkipped(id, 'image', 3);
  await runs.finishProducing(id);
  assert.equal((await runs.readRun(id))!.state, 'finished');
});

test('the failure list is capped while the counters stay exact; unknown runs are ignored', async () => {
  const runs = new IngestRuns(r.redis, `${r.prefix}:c`, { maxFailures: 3 });
  const id = await runs.createRun(['x']);
  await runs.recordEnqueued(id, 'text', 5);
  for (let i = 0; i < 5; i++) await runs.recordFailed(id, { item: `record:x/${i}`, code: 'TEXT_EMPTY', reason: 'empty' }, 'text');
  const run = (await runs.readRun(id))!;
  assert.equal(run.counts.text.failed, 5);
  assert.deepEqual(run.failures.map((f) => f.item), ['record:x/4', 'record:x/3', 'record:x/2']);
  assert.deepEqual((await runs.readRun(id, { failures: 0 }))!.failures, []);
  assert.deepEqual((await runs.readRun(id, { failures: 1 }))!.failures.map((f) => f.item), ['record:x/4']);
  await runs.recordDone('no-such-run', 'text');
  await runs.recordFailed('no-such-run', { item: 'a', code: 'X', reason: 'y' }, 'text');
  assert.equal(await runs.readRun('no-such-run'), undefined);
  assert.ok(!(await r.keys()).some((k) => k.includes('no-such-run')), 'no stray keys for an unknown run');
});

test('listRuns: newest first; old runs are pruned past maxRuns', async () => {
  const runs = new IngestRuns(r.redis, `${r.prefix}:d`, { maxRuns: 3 });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await runs.createRun([`src-${i}`], { now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }));
  const listed = await runs.listRuns(10);
  assert.deepEqual(listed.map((x) => x.sources[0]), ['src-4', 'src-3', 'src-2']);
  assert.equal(await runs.latestRunId(), ids[4]);
  assert.equal(await runs.readRun(ids[0]!), undefined);
});

test('a job that runs twice (worker died before its ack) is counted once, done or failed', async () => {
  const runs = new IngestRuns(r.redis, `${r.prefix}:once`);
  const id = await runs.createRun(['s3://bkt/cat/']);
  await runs.recordEnqueued(id, 'image', 3);
  await runs.finishProducing(id);
  await runs.recordDone(id, 'image', 'job-a');
  await runs.recordDone(id, 'image', 'job-a');
  await runs.recordFailed(id, { item: 's3://bkt/cat/x.jpg', code: 'IMAGE_DECODE_FAILED', reason: 'bad' }, 'image', 'job-x');
  await runs.recordFailed(id, { item: 's3://bkt/cat/x.jpg', code: 'IMAGE_DECODE_FAILED', reason: 'bad' }, 'image', 'job-x');
  let run = (await runs.readRun(id, { failures: 10 }))!;
  assert.deepEqual(run.counts.image, { enqueued: 3, skipped: 0, done: 1, failed: 1 });
  assert.equal(run.failures?.length, 1);
  assert.equal(run.state, 'processing', 'the third item is still due: a double count must not finish the run early');
  await runs.recordDone(id, 'image', 'job-b');
  run = (await runs.readRun(id))!;
  assert.equal(run.state, 'finished');
  assert.equal(await r.redis.exists(`${r.prefix}:once:run:${id}:counted`), 0, 'the per-run set of counted jobs is dropped when the run finishes');
});
