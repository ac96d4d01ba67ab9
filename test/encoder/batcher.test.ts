import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroBatcher } from '../../shared/encoder/batcher.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('concurrent submits are gathered into one batch up to maxBatchSize', async () => {
  const seen: number[][] = [];
  const b = new MicroBatcher<number, number>({
    name: 't', maxBatchSize: 4, maxWaitMs: 50, maxInFlight: 100,
    run: async (xs) => { seen.push(xs); return xs.map((x) => x * 2); },
  });
  const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.submit(x)));
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(seen[0], [1, 2, 3, 4]);
  assert.deepEqual(seen.flat().sort(), [1, 2, 3, 4, 5, 6]);
  assert.equal(b.stats().batches, 2);
  assert.deepEqual(b.stats().batchSizes, { 4: 1, 2: 1 });
});

test('a lone request is flushed after maxWaitMs', async () => {
  const b = new MicroBatcher<string, string>({ name: 't', maxBatchSize: 32, maxWaitMs: 5, maxInFlight: 10, run: async (xs) => xs.map((x) => x.toUpperCase()) });
  assert.equal(await b.submit('a'), 'A');
  assert.deepEqual(b.stats().batchSizes, { 1: 1 });
});

test('one bad item fails alone; its batch-mates succeed', async () => {
  const b = new MicroBatcher<number, number>({
    name: 't', maxBatchSize: 8, maxWaitMs: 5, maxInFlight: 100,
    run: async (xs) => xs.map((x) => (x === 3 ? new Error('item 3 is bad') : x)),
  });
  const results = await Promise.allSettled([1, 2, 3, 4].map((x) => b.submit(x)));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((results[2] as PromiseRejectedResult).reason), /item 3 is bad/);
  assert.equal(b.stats().failures, 1);
});

test('a runner that throws for the whole batch is retried item by item', async () => {
  const b = new MicroBatcher<number, number>({
    name: 't', maxBatchSize: 8, maxWaitMs: 5, maxInFlight: 100,
    run: async (xs) => { if (xs.includes(2)) throw new Error('poison 2'); return xs.map((x) => x + 1); },
  });
  const results = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : 'err')), [2, 'err', 4]);
});

test('in-flight items are bounded: extra submits wait for room', async () => {
  let maxConcurrentItems = 0;
  const b = new MicroBatcher<number, number>({
    name: 't', maxBatchSize: 2, maxWaitMs: 1, maxInFlight: 3,
    run: async (xs) => { maxConcurrentItems = Math.max(maxConcurrentItems, b.stats().inFlight); await sleep(5); return xs; },
  });
  const out = await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit(i)));
  assert.equal(out.length, 20);
  assert.ok(maxConcurrentItems <= 3, `in flight reached ${maxConcurrentItems}`);
  assert.equal(b.stats().items, 20);
});

test('requests arriving during a running batch form the next batch', async () => {
  const sizes: number[] = [];
  // The first batch signals that it runs and is held until the rest have been submitted.
  let firstRunning!: () => void; // assigned by the Promise executor below, which runs at once
  const running = new Promise<void>((r) => (firstRunning = r));
  let release!: () => void; // likewise
  const held = new Promise<void>((r) => (release = r));
  const b = new MicroBatcher<number, number>({
    name: 't', maxBatchSize: 16, maxWaitMs: 1, maxInFlight: 100,
    run: async (xs) => { sizes.push(xs.length); firstRunning(); await held; return xs; },
  });
  const first = b.submit(0);
  await running;
  const rest = Array.from({ length: 10 }, (_, i) => b.submit(i + 1));
  release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(sizes, [1, 10]);
});

test('close drains queued work and then refuses new work', async () => {
  const b = new MicroBatcher<number, number>({ name: 't', maxBatchSize: 4, maxWaitMs: 1000, maxInFlight: 10, run: async (xs) => xs });
  const p = b.submit(7);
  await b.close();
  assert.equal(await p, 7);
  await assert.rejects(b.submit(1), /closed/);
});
