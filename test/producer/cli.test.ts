/**
 * The commands as a user runs them: `clipstream ingest` on a local folder (embedded runner,
 * embedded store under DATA_DIR, encoder thread), `--json` events and exit codes, and
 * `clipstream status` for a queued run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { MODEL_DIR, productImage } from '../pipeline/harness.ts';

let dir: string;
let dataDir: string;

function clipstream(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/clipstream.mjs', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), MODEL_DIR, DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-cli-catalogue-'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-cli-data-'));
  fs.mkdirSync(path.join(dir, 'products', 'A1'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'products', 'A2'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'products', 'A1', 'front.jpg'), await productImage([200, 30, 30], 1));
  fs.writeFileSync(path.join(dir, 'products', 'A2', 'front.png'), await productImage([30, 30, 200], 2, 'png'));
  fs.writeFileSync(
    path.join(dir, 'titles.jsonl'),
    [
      JSON.stringify({ id: 'A1-en', text: 'red sneaker', lang: 'en', product_id: 'A1' }),
      JSON.stringify({ id: 'A1-de', text: 'roter Turnschuh', lang: 'de', product_id: 'A1' }),
      '{"id": "broken",',
      JSON.stringify({ id: 'A2-fr', text: 'basket bleue', lang: 'fr', product_id: 'A2' }),
    ].join('\n'),
  );
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('ingest --json: progress, one failure event per bad entry, a summary; a re-run finds everything unchanged', async () => {
  const first = await clipstream(['ingest', dir, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const events = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const failures = events.filter((e) => e.event === 'failure');
  assert.deepEqual(failures.map((f) => [f.item, f.code]), [[`${path.join(dir, 'titles.jsonl')}:3`, 'RECORD_INVALID']]);
  const summary = events.at(-1)!;
  assert.equal(summary.event, 'summary');
  assert.deepEqual([summary.mode, summary.total, summary.indexed, summary.skipped, summary.failed], ['embedded', 6, 5, 0, 1]);
  assert.ok(events.some((e) => e.event === 'done' || e.event === 'progress'));

  const second = await clipstream(['ingest', dir, '--json', '--strict']);
  assert.equal(second.code, 1, 'a failed item makes --strict exit 1');
  const again = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual([again.indexed, again.skipped, again.failed], [0, 5, 1]);
});

test('ingest without --json prints a summary naming each failure; a missing source fails at once', async () => {
  const run = await clipstream(['ingest', dir, '--no-progress', '--force']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /titles\.jsonl:3: RECORD_INVALID: malformed JSON/);
  assert.match(run.stderr, /5 indexed, 0 unchanged, 1 failed/);
  const missing = await clipstream(['ingest', path.join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope: no such file or folder \[SOURCE_NOT_FOUND\]/);
});

test('status shows a queued run with its counts; worker and status explain themselves', async () => {
  const redis: TestRedis = await testRedis(`${import.meta.url}-status`);
  try {
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix };
    const queued = await clipstream(['ingest', dir, '--no-wait', '--json'], env);
    assert.equal(queued.code, 0, queued.stderr);
    const summary = JSON.parse(queued.stdout.trim().split('\n').at(-1)!) as { runId: string; mode: string; enqueued: number };
    assert.equal(summary.mode, 'distributed');
    assert.equal(summary.enqueued, 5);
    const status = await clipstream(['status', summary.runId, '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const { run, queues } = JSON.parse(status.stdout) as { run: { state: string; counts: Record<string, { enqueued: number }>; sourceFailures: number }; queues: Record<string, { waiting: number }> };
    assert.equal(run.state, 'processing');
    assert.deepEqual([run.counts.image!.enqueued, run.counts.text!.enqueued, run.sourceFailures], [2, 3, 1]);
    assert.deepEqual([queues['embed-image']!.waiting, queues['embed-text']!.waiting], [2, 3]);
    const list = await clipstream(['status'], env);
    assert.match(list.stdout, new RegExp(`${summary.runId}\\s+processing`));
  } finally {
    await redis.cleanup();
  }
  const help = await clipstream(['worker', '--help']);
  assert.match(help.stdout, /--queues <list>/);
  assert.match(help.stdout, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  const noRedis = await clipstream(['worker']);
  assert.equal(noRedis.code, 2);
  assert.match(noRedis.stderr, /REDIS_URL is not set/);
});

test('embedded: status lists the runs of state.db; other dims make sync refuse and status say a rebuild is required', async () => {
  const runs = await clipstream(['status', '--json']);
  assert.equal(runs.code, 0, runs.stderr);
  const listed = JSON.parse(runs.stdout) as { runs: Array<{ kind: string; mode: string; outcome?: string }> };
  assert.ok(listed.runs.length >= 2, 'the ingests of the tests above are recorded');
  assert.ok(listed.runs.every((r) => r.kind === 'ingest' && r.mode === 'embedded' && r.outcome === 'succeeded'), JSON.stringify(listed.runs));

  const wider = { MRL_DIMS: '64,512,1024' };
  const sync = await clipstream(['sync', dir], wider);
  assert.equal(sync.code, 2, sync.stderr);
  assert.match(sync.stderr, /mrl_512 is missing.*clipstream rebuild/);
  const status = await clipstream(['status'], wider);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /rebuild required: collection catalogue_v1 \(alias catalogue\): vector mrl_512 is missing.*run `clipstream rebuild`/);
  const fine = await clipstream(['status']);
  assert.doesNotMatch(fine.stdout, /rebuild required/);
});
