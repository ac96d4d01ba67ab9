import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import { loadConfig } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { ItemProcessor } from '../../shared/pipeline/processor.ts';
import type { SourceSpec } from '../../shared/sources/index.ts';
import { LocalState } from '../../shared/state/local.ts';
import { InProcessQueue } from '../../services/producer/in-process.ts';
import { formatSummary, ingestDisplay, type IngestProgress, type ProgressListener } from '../../services/producer/progress.ts';
import { ReadAhead } from '../../services/producer/read-ahead.ts';
import { composeRun } from '../../services/producer/run.ts';
import { DIMS, FakeEncoder, FakeSink, textRecord } from '../pipeline/fakes.ts';

async function* entries(list: Array<CatalogueItem | ItemFailure>): AsyncGenerator<CatalogueItem | ItemFailure> {
  for (const e of list) {
    await new Promise((r) => setImmediate(r));
    yield e;
  }
}

function processorWith(sink: FakeSink, encoder = new FakeEncoder()) {
  return new ItemProcessor({
    encoder,
    sink,
    model: encoder.model.modelId,
    dims: DIMS,
    storedVersions: sink.versions,
    fetchSlots: 4,
    fetchBytes: async () => ({ bytes: new Uint8Array([1]) }),
  });
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-embedded-run-'));
const config = loadConfig({ DATA_DIR: dataDir });
const state = LocalState.open(dataDir);
test.after(() => {
  state.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
const SOURCE: SourceSpec = { kind: 'local-folder', spec: 'test-catalogue', path: path.join(dataDir, 'catalogue') };

/** One embedded run of `list` through `processor`: composeRun with the in-process queue, no store. */
async function runEmbedded(
  list: Array<CatalogueItem | ItemFailure>,
  processor: Pick<ItemProcessor, 'process'>,
  options: { concurrency: number; listener?: ProgressListener; signal?: AbortSignal },
) {
  const queue = new InProcessQueue({
    pipeline: { target: { collection: 'c' }, forCollection: async () => ({ processor }), close: async () => {} },
    state,
    model: 'fake/clip@test',
    concurrency: options.concurrency,
  });
  return composeRun(config, { kind: 'ingest', sources: [SOURCE], entries: () => entries(list), listener: options.listener, signal: options.signal }, { queue });
}

test('runs every item with bounded concurrency, counts outcomes and reports failures with their item', async () => {
  const sink = new FakeSink();
  let active = 0;
  let peak = 0;
  const inner = processorWith(sink);
  const processor = {
    process: async (item: CatalogueItem) => {
      active++;
      peak = Math.max(peak, active);
      try {
        return await inner.process(item);
      } finally {
        active--;
      }
    },
  };
  const list: Array<CatalogueItem | ItemFailure> = [];
  for (let i = 0; i < 30; i++) list.push(textRecord(`r${i}`, `item number ${i}`));
  list.push(textRecord('blank', '   '));
  list.push({ item: 'records.jsonl:7', code: 'RECORD_INVALID', reason: 'not valid JSON' });
  const failures: ItemFailure[] = [];
  const seen: IngestProgress[] = [];
  const s = await runEmbedded(list, processor, {
    concurrency: 5,
    listener: { failure: (f) => failures.push(f), progress: (p) => seen.push(p) },
  });
  assert.equal(s.interrupted, false);
  assert.equal(peak, 5);
  assert.equal(sink.points.size, 30);
  assert.deepEqual([s.total, s.done, s.indexed, s.skipped, s.failed], [32, 32, 30, 0, 2]);
  assert.deepEqual(failures.map((f) => [f.item, f.code]).sort(), [['record:test/blank', 'TEXT_EMPTY'], ['records.jsonl:7', 'RECORD_INVALID']]);
  assert.equal(seen.at(-1)?.phase, 'done');

  // Second run over the same entries: everything is unchanged.
  const again = await runEmbedded(list, processorWith(sink), { concurrency: 5 });
  assert.deepEqual([again.indexed, again.skipped, again.failed], [0, 30, 2]);
  assert.equal(sink.writes, 30);
});

test('an infrastructure failure stops the run after in-flight items settle, and is thrown', async () => {
  const sink = new FakeSink();
  const processor = processorWith(sink);
  const list = Array.from({ length: 50 }, (_, i) => textRecord(`r${i}`, `text ${i}`));
  let n = 0;
  const flaky = {
    process: async (item: CatalogueItem) => {
      if (++n === 10) throw new ClipstreamError('STORE_UNAVAILABLE', 'store at http://x unavailable');
      return processor.process(item);
    },
  };
  await assert.rejects(runEmbedded(list, flaky, { concurrency: 3 }), /unavailable/);
  assert.ok(n < 50, `stopped taking items (took ${n})`);
});

test('an abort signal stops taking items and reports an interrupted run', async () => {
  const sink = new FakeSink();
  const processor = processorWith(sink);
  const ac = new AbortController();
  let n = 0;
  const slow = {
    process: async (item: CatalogueItem) => {
      if (++n === 5) ac.abort();
      await new Promise((r) => setTimeout(r, 2));
      return processor.process(item);
    },
  };
  const list = Array.from({ length: 100 }, (_, i) => textRecord(`r${i}`, `text ${i}`));
  const result = await runEmbedded(list, slow, { concurrency: 2, signal: ac.signal });
  assert.equal(result.interrupted, true);
  assert.ok(sink.points.size < 100);
  // Whatever was started finished and was counted.
  assert.equal(result.indexed, sink.points.size);
});

test('read-ahead lists up to its limit before the consumer pulls, then resumes', async () => {
  let read = 0;
  async function* source() {
    for (let i = 0; i < 20; i++) {
      read++;
      yield i;
    }
  }
  const ra = new ReadAhead(source(), 5);
  // Let the read-ahead run until it has filled its window, then some more turns to see it stop there.
  for (let turns = 0; read < 5 && turns < 10_000; turns++) await new Promise((r) => setImmediate(r));
  for (let turns = 0; turns < 50; turns++) await new Promise((r) => setImmediate(r));
  assert.equal(read, 5);
  const got: number[] = [];
  for await (const x of ra) got.push(x);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
});

test('the display shows counts, failures as they happen and a summary; --json emits one event per line', () => {
  const progress: IngestProgress = {
    runId: 'r', mode: 'embedded', phase: 'processing', total: 300, done: 120, indexed: 110, skipped: 8, failed: 2,
    elapsedMs: 4000, itemsPerSec: 30, etaMs: 6000,
  };
  const summary = {
    runId: 'r', mode: 'embedded' as const, total: 3, done: 3, indexed: 2, skipped: 0, failed: 1, elapsedMs: 1000, itemsPerSec: 3,
    interrupted: false, failures: [{ item: 's3://b/k.jpg', code: 'IMAGE_DECODE_FAILED', reason: 'corrupt JPEG' }],
  };
  let text = '';
  const plain = ingestDisplay('plain', { write: (c: string) => (text += c) });
  plain.progress(progress);
  plain.failure(summary.failures[0]!);
  plain.finish(summary);
  assert.match(text, /120\/300/);
  assert.match(text, /failed 2/);
  assert.match(text, /✗ s3:\/\/b\/k\.jpg: IMAGE_DECODE_FAILED: corrupt JPEG/);
  assert.match(formatSummary(summary), /2 indexed, 0 unchanged, 1 failed/);

  let out = '';
  const json = ingestDisplay('json', { write: (c: string) => (out += c) });
  json.progress(progress);
  json.failure(summary.failures[0]!);
  json.finish(summary);
  const events = out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; item?: string; indexed?: number });
  assert.deepEqual(events.map((e) => e.event), ['progress', 'failure', 'done', 'summary']);
  assert.equal(events[1]!.item, 's3://b/k.jpg');
  assert.equal(events[3]!.indexed, 2);
});
