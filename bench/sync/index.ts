/**
 * `npm run bench -- sync [--items N] [--changed F] [--deleted F] [--images N] [--port P]`
 *
 * What keeping an index in step costs against re-indexing it: a catalogue of N items (text
 * records, plus a few images) is ingested; then a fraction is edited and a fraction removed
 * from the source; then, in the same run, on the same modified source:
 *
 *   - `sync_seconds`: `runSync` (list, compare with the source's points, encode the changed,
 *     delete the gone), with `sync_items_per_s` = listed items ÷ time, and `sync_queued` (it
 *     must queue only the changed items) and `sync_deleted`;
 *   - the baseline `full re-ingest`: `runIngest --force` of the same source (every item encoded
 *     and written again), `reingest_seconds`;
 *   - `sync_vs_reingest` = sync ÷ re-ingest time (goal ≤ 0.05).
 *
 * Embedded mode (the in-process queue, the embedded store on `--port`, the test model on its
 * own thread). The test model encodes far faster than jina-clip-v2, so the ratio here is
 * pessimistic for sync: with the real model a re-ingest costs far more.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';
import { loadConfig } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { runIngest, runSync } from '../../services/producer/ingest.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';
import sharp from 'sharp';
import { report } from '../report.ts';

const WORDS = ['red', 'blue', 'green', 'black', 'leather', 'cotton', 'shoe', 'jacket', 'Schuh', 'Jacke', 'chemise', 'zapato', '赤い', '靴', '红色', '衬衫'];

function record(n: number, edition = 0): string {
  const text = Array.from({ length: 6 + (n % 10) }, (_, i) => WORDS[(n * 7 + i * 3 + edition) % WORDS.length]).join(' ') + ` #${n}${edition ? ` rev ${edition}` : ''}`;
  return JSON.stringify({ id: `r${n}`, text, lang: 'en', product_id: `P${n % 5000}` });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      items: { type: 'string', default: '100000' },
      changed: { type: 'string', default: '0.01' },
      deleted: { type: 'string', default: '0.01' },
      images: { type: 'string', default: '200' },
      port: { type: 'string', default: '0' },
    },
  });
  const items = Number(values.items);
  const images = Math.min(Number(values.images), items);
  const texts = items - images;
  const changed = Math.round(texts * Number(values.changed));
  const deleted = Math.round(texts * Number(values.deleted));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-bench-sync-'));
  const catalogue = path.join(work, 'catalogue');
  const config = loadConfig({
    MODEL_DIR: path.resolve('models/test-tiny'),
    DATA_DIR: path.join(work, 'data'),
    QDRANT_COLLECTION: 'bench_sync',
    // Two cores here: the default 64 in flight only adds queueing.
    WORKER_CONCURRENCY: '64',
    // Deleting 1 % is well under the guard; the bench measures the work, not the guard.
    SYNC_MAX_DELETE_SHARE: '0.5',
  });
  const store = await startEmbeddedStore({ dataDir: path.join(work, 'store'), host: '127.0.0.1', port: Number(values.port) });
  const client = new QdrantClient({ url: store.url, checkCompatibility: false, timeout: 120_000 });
  const storeRef = { client, url: store.url };
  const encoder = await EncoderThread.open(config);
  try {
    fs.mkdirSync(path.join(catalogue, 'products'), { recursive: true });
    for (let n = 0; n < images; n++) {
      fs.mkdirSync(path.join(catalogue, 'products', `P${n}`), { recursive: true });
      const background = { r: (n * 47) % 256, g: (n * 91) % 256, b: (n * 13) % 256 };
      fs.writeFileSync(path.join(catalogue, 'products', `P${n}`, 'front.jpg'), await sharp({ create: { width: 256, height: 256, channels: 3, background } }).jpeg().toBuffer());
    }
    const recordsFile = path.join(catalogue, 'records.jsonl');
    fs.writeFileSync(recordsFile, Array.from({ length: texts }, (_, n) => record(n)).join('\n') + '\n');

    const initialStarted = performance.now();
    const initial = await runIngest(config, [catalogue], { store: storeRef, encoder });
    const initialSeconds = (performance.now() - initialStarted) / 1000;
    if (initial.failed > 0) throw new Error(`initial ingest failed ${initial.failed} items: ${JSON.stringify(initial.failures.slice(0, 3))}`);

    // Between runs: every k-th record edited, every m-th (others) removed.
    const editEvery = Math.floor(texts / Math.max(1, changed));
    const dropEvery = Math.floor(texts / Math.max(1, deleted));
    const lines: string[] = [];
    let edited = 0;
    let dropped = 0;
    for (let n = 0; n < texts; n++) {
      if (dropped < deleted && n % dropEvery === dropEvery - 1) {
        dropped++;
        continue;
      }
      if (edited < changed && n % editEvery === 0) {
        edited++;
        lines.push(record(n, 1));
        continue;
      }
      lines.push(record(n));
    }
    fs.writeFileSync(recordsFile, lines.join('\n') + '\n');

    const syncStarted = performance.now();
    const sync = await runSync(config, [catalogue], { store: storeRef, encoder });
    const syncSeconds = (performance.now() - syncStarted) / 1000;
    if (sync.outcome !== 'succeeded') throw new Error(`sync ${sync.outcome}: ${sync.error}`);
    const queued = sync.sync ? sync.sync.added + sync.sync.changed : NaN;

    const reingestStarted = performance.now();
    const reingest = await runIngest(config, [catalogue], { store: storeRef, encoder, force: true });
    const reingestSeconds = (performance.now() - reingestStarted) / 1000;

    const listed = sync.total;
    const common = { suite: 'sync', items, changed: edited, deleted: dropped };
    report({ ...common, metric: 'initial_ingest_seconds', value: initialSeconds, unit: 's', baseline: null, ratio: null, note: 'context: the first ingest of the catalogue' });
    report({ ...common, metric: 'sync_seconds', value: syncSeconds, unit: 's', baseline: 'full re-ingest (ingest --force) of the same source, same run', ratio: syncSeconds / reingestSeconds });
    report({ ...common, metric: 'sync_items_per_s', value: listed / syncSeconds, unit: 'items/s', baseline: 'full re-ingest items/s', ratio: listed / syncSeconds / (reingest.total / reingestSeconds) });
    report({ ...common, metric: 'sync_queued', value: queued, unit: 'items', baseline: 'items changed in the source', ratio: queued / Math.max(1, edited), goal: 'queues only the changed items (ratio 1)' });
    report({ ...common, metric: 'sync_deleted', value: sync.sync?.deleted ?? NaN, unit: 'points', baseline: 'items removed from the source', ratio: (sync.sync?.deleted ?? NaN) / Math.max(1, dropped) });
    report({ ...common, metric: 'reingest_seconds', value: reingestSeconds, unit: 's', baseline: null, ratio: null, note: 'the baseline: every item encoded and written again' });
    report({ ...common, metric: 'sync_vs_reingest', value: syncSeconds / reingestSeconds, unit: 'ratio', baseline: 'full re-ingest', ratio: syncSeconds / reingestSeconds, goal: '≤ 0.05' });
  } finally {
    await encoder.close();
    await store.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
