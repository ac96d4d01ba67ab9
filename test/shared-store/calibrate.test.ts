import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { calibrate, loadCalibration, saveCalibration } from '../../shared/store/calibrate.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { MatryoshkaData, syntheticPoint } from '../../bench/store/synthetic.ts';
import { startTestStore, type TestStore } from '../support/store.ts';

const DIMS = [64, 256, 1024];
const N = 1200;
let store: TestStore;
let collection: string;
let dataDir: string;

before(async () => {
  store = await startTestStore();
  collection = store.name('cal');
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'calibrate-'));
  // Many small clusters and wide noise: the 64-d prefix alone ranks poorly, so tiny stage limits lose recall.
  const data = new MatryoshkaData({ clusters: 40, sigma: 0.8, tau: 0.25, seed: 5 });
  await ensureCollection(store.client, { alias: collection, dims: DIMS, model: 'synthetic-matryoshka' });
  const up = new BatchUpserter(store.client, { collection, storeUrl: store.url, batchSize: 200, concurrency: 2 });
  await Promise.all(Array.from({ length: N }, (_, i) => up.add(syntheticPoint(data, i))));
});
after(async () => {
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('calibration measures each pair against exact search and picks the cheapest reaching the target; the query path loads it', async () => {
  const grid = [[10, 10], [20, 10], [100, 30], [400, 100], [1200, 400]];
  const result = await calibrate({ client: store.client, collection, dims: DIMS }, { k: 10, target: 0.99, samples: 25, grid });
  assert.equal(result.samples, 25);
  assert.deepEqual(result.grid.map((m) => m.stage_limits), grid);
  // [1200, 400] keeps every point at both stages: it must equal exact search.
  assert.equal(result.grid.at(-1)!.recall, 1);
  // 10 candidates from the 64-d index alone cannot match the 1024-d top-10 on this data.
  assert.ok(result.grid[0]!.recall < 0.99, `recall at 10:10 was ${result.grid[0]!.recall}`);
  assert.equal(result.reached, true);
  assert.ok(result.chosen.recall >= 0.99);
  // Nothing cheaper than the chosen pair reached the target (the grid is in cost order).
  const chosenAt = result.grid.indexOf(result.chosen);
  assert.ok(chosenAt >= 1);
  assert.ok(result.grid.slice(0, chosenAt).every((m) => m.recall < 0.99));
  assert.ok(result.grid.every((m) => m.latency_p50_ms > 0 && m.latency_p99_ms >= m.latency_p50_ms));

  const file = await saveCalibration(dataDir, result);
  assert.equal(file, path.join(dataDir, 'calibration.json'));
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).chosen, result.chosen);
  const loaded = loadCalibration(dataDir, DIMS);
  assert.deepEqual(loaded.stageLimits, result.chosen.stage_limits);
  assert.equal(loaded.source, 'calibration');
});
