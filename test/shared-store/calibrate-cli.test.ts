import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../shared/config/index.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { BatchUpserter } from '../../shared/store/upserter.ts';
import { connectStore } from '../../services/store-connect.ts';
import { MatryoshkaData, syntheticPoint } from '../../bench/store/synthetic.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = new MatryoshkaData({ clusters: 8, sigma: 0.5, tau: 0.5, seed: 9 });
let dataDir: string;

// Only the calibrate command, in its own process (it reads the environment once, like the CLI).
function cli(args: string[], env: Record<string, string>) {
  const code = `import { Command } from 'commander';
    import * as c from ${JSON.stringify(path.join(root, 'bin/commands/calibrate.ts'))};
    import { ClipstreamError } from ${JSON.stringify(path.join(root, 'shared/errors.ts'))};
    const p = new Command().name('clipstream'); c.register(p);
    try { await p.parseAsync(['node', 'clipstream', ...${JSON.stringify(args)}]); }
    catch (e) { if (e instanceof ClipstreamError) { process.stderr.write(e.message + ' [' + e.code + ']\\n'); process.exitCode = 2; } else throw e; }`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QDRANT_')));
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env: { ...clean, ...env }, encoding: 'utf8' });
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'calibrate-cli-'));
  const store = await connectStore(loadConfig({ DATA_DIR: dataDir }));
  try {
    await ensureCollection(store.client, { alias: 'catalogue', dims: [64, 256, 1024], model: 'synthetic-matryoshka' });
    const up = new BatchUpserter(store.client, { collection: 'catalogue', storeUrl: store.url, batchSize: 100 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => up.add(syntheticPoint(data, i))));
  } finally {
    await store.close();
  }
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

test('clipstream calibrate prints the table and saves the chosen pair under DATA_DIR', async () => {
  const r = cli(['calibrate', '--samples', '15', '--pairs', '300:100,20:10'], { DATA_DIR: dataDir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /15 queries \(stored points of\) catalogue/);
  assert.match(r.stdout, /L1\s+L2\s+recall@10/);
  assert.match(r.stdout, /300\s+100\s+1\.0000.*← chosen|20\s+10\s+\S+.*← chosen/);
  assert.match(r.stdout, /exact/);
  const saved = JSON.parse(await readFile(path.join(dataDir, 'calibration.json'), 'utf8'));
  assert.equal(saved.samples, 15);
  assert.deepEqual(saved.grid.map((m: { stage_limits: number[] }) => m.stage_limits), [[20, 10], [300, 100]]);
  assert.ok(r.stdout.includes(`saved ${saved.chosen.stage_limits.join(':')} to ${path.join(dataDir, 'calibration.json')}`));
});

test('--query-vectors calibrates on given vectors (clipstream encode output); bad lines are named', async () => {
  const file = path.join(dataDir, 'queries.jsonl');
  const lines = [0, 1, 2].map((q) => JSON.stringify({ model: 'm', vectors: { 1024: data.query(q * 50, q) } }));
  await writeFile(file, lines.join('\n') + '\n' + JSON.stringify(data.query(7, 9)) + '\n');
  const r = cli(['calibrate', '--pairs', '300:100', '--query-vectors', file, '--no-save'], { DATA_DIR: dataDir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4 queries \(given vectors against\) catalogue/);

  await writeFile(file, lines[0] + '\n[1, 2, 3]\n');
  const bad = cli(['calibrate', '--query-vectors', file], { DATA_DIR: dataDir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: expected a 1024-d vector.*VECTOR_INVALID`));
});

test('calibrating before anything was ingested says so', async () => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'calibrate-cli-empty-'));
  try {
    const r = cli(['calibrate'], { DATA_DIR: empty });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no collection or alias "catalogue".*ingest something first/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
