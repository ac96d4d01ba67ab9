/**
 * `npm run bench -- snapshots [--points N]` (default 20,000 points of the three clipstream
 * vectors, 64/256/1024 dims): the time to take a collection snapshot (copy of the log prefix,
 * checksums, tar, fsync) against a plain copy of the same log file in the same run, and the time
 * to recover it (extract, verify, replay) against opening the source collection's directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../services/store/engine/store.ts';
import { report } from '../report.ts';

export async function main(args: string[]): Promise<void> {
  const at = args.indexOf('--points');
  const n = at >= 0 ? Number(args[at + 1]) : 20_000;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--points ${args[at + 1]}: expected a positive integer`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-bench-snap-'));
  try {
    let store = Store.open(dir);
    store.createCollection('c', { vectors: { mrl_64: { size: 64, distance: 'Cosine' }, mrl_256: { size: 256, distance: 'Cosine' }, mrl_1024: { size: 1024, distance: 'Cosine' } } });
    let x = 1;
    const rnd = (dim: number) => {
      const v = new Float32Array(dim);
      for (let i = 0; i < dim; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        v[i] = x / 2147483648 - 0.5;
      }
      return v;
    };
    for (let i = 0; i < n; i += 500) {
      const points = [];
      for (let j = i; j < Math.min(n, i + 500); j++) {
        const v = rnd(1024);
        points.push({ id: j + 1, vector: { mrl_64: v.slice(0, 64), mrl_256: v.slice(0, 256), mrl_1024: v }, payload: { n: j } });
      }
      await store.upsert('c', { points }, { wait: i + 500 >= n });
    }
    const c = store.resolve('c');
    const log = path.join(c.dir, fs.readdirSync(c.dir).find((f) => f.endsWith('.log'))!);
    let t = performance.now();
    fs.copyFileSync(log, path.join(dir, 'copy.log'));
    const copyMs = performance.now() - t;
    t = performance.now();
    const snap = await store.snapshots.create('c');
    const createMs = performance.now() - t;
    t = performance.now();
    await store.snapshots.recover('r', `file://${path.join(dir, 'snapshots', 'c', snap.name)}`);
    const recoverMs = performance.now() - t;
    if (store.count('r', { exact: true }).count !== n) throw new Error('the recovered collection lacks points');
    await store.close();
    fs.rmSync(path.join(dir, 'snapshots'), { recursive: true, force: true });
    t = performance.now();
    store = Store.open(dir); // both collections: the source and the recovered copy
    const openMs = (performance.now() - t) / 2;
    await store.close();
    const mb = snap.size / 1e6;
    report({ suite: 'snapshots', metric: 'snapshot_create_ms', value: createMs, unit: 'ms', baseline: 'copy of the log file (no fsync)', ratio: createMs / copyMs, points: n, snapshot_mb: mb, baseline_ms: copyMs });
    report({ suite: 'snapshots', metric: 'snapshot_recover_ms', value: recoverMs, unit: 'ms', baseline: 'opening one collection of the same size', ratio: recoverMs / openMs, points: n, baseline_ms: openMs });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
