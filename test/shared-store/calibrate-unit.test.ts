import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import { chooseStageLimits, defaultGrid, loadCalibration, parseGrid, recallAt, type StageMeasurement } from '../../shared/store/calibrate.ts';

const dims = [64, 256, 1024];
const m = (l: number[], recall: number, p50 = 1): StageMeasurement => ({ stage_limits: l, recall, latency_p50_ms: p50, latency_p99_ms: p50, latency_mean_ms: p50 });

test('recall@k counts the exact top-k found', () => {
  assert.equal(recallAt(['a', 'b', 'c', 'd'], ['d', 'x', 'a', 'y']), 0.5);
  assert.equal(recallAt([], ['x']), 1);
});

test('the cheapest pair reaching the target is chosen (lowest L1, then L2); else the best recall', () => {
  const measured = [m([400, 100], 1), m([100, 50], 0.995), m([100, 20], 0.97), m([200, 20], 0.992), m([50, 20], 0.9)];
  assert.deepEqual(chooseStageLimits(measured, 0.99), { chosen: measured[1], reached: true });
  assert.deepEqual(chooseStageLimits(measured, 0.999), { chosen: measured[0], reached: true });
  const low = [m([100, 20], 0.8), m([200, 50], 0.9)];
  assert.deepEqual(chooseStageLimits(low, 0.99), { chosen: low[1], reached: false });
});

test('grids are parsed, validated against k, and ordered by cost', () => {
  assert.deepEqual(parseGrid('200:50, 100:20,100:10', dims, 10), [[100, 10], [100, 20], [200, 50]]);
  assert.throws(() => parseGrid('100:5', dims, 10), (e: unknown) => isClipstreamError(e, 'BAD_REQUEST') && e.message.includes('100:5'));
  assert.throws(() => parseGrid('20:50', dims, 10), (e: unknown) => isClipstreamError(e, 'BAD_REQUEST'));
  const grid = defaultGrid(dims, 10);
  assert.ok(grid.length > 10);
  assert.ok(grid.every(([l1, l2]) => l1! >= l2! && l2! >= 10));
  assert.deepEqual(grid[0], [50, 20]);
});

test('loadCalibration falls back to defaults without a file, for other dims, or for a broken file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'calib-'));
  try {
    assert.deepEqual(loadCalibration(dir, dims).stageLimits, [400, 100]);
    assert.equal(loadCalibration(dir, dims).source, 'default');
    await writeFile(path.join(dir, 'calibration.json'), JSON.stringify({ dims, chosen: m([150, 30], 0.993) }));
    assert.deepEqual(loadCalibration(dir, dims), { stageLimits: [150, 30], source: 'calibration', recall: 0.993, file: path.join(dir, 'calibration.json') });
    assert.equal(loadCalibration(dir, [64, 1024]).source, 'default');
    await writeFile(path.join(dir, 'calibration.json'), '{not json');
    assert.equal(loadCalibration(dir, dims).source, 'default');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
