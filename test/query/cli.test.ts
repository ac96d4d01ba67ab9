/**
 * `clipstream search` from the terminal: straight against the embedded store under DATA_DIR, and
 * through a running query service (`--server`); `clipstream serve` prints its URLs and serves.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { loadConfig } from '../../shared/config/index.ts';
import { openEncoder } from '../../shared/encoder/index.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';
import { seedCatalogue, type SeededCatalogue } from './support/catalogue.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(repoRoot, 'bin/clipstream.mjs');
const work = mkdtempSync(path.join(tmpdir(), 'clipstream-query-cli-'));
const env = { ...process.env, DATA_DIR: work, MODEL_DIR: path.join(repoRoot, 'models/test-tiny'), QDRANT_URL: '', API_KEY: '' };
let catalogue: SeededCatalogue;

before(async () => {
  // Seeded through an embedded store on DATA_DIR/store, then closed: the CLI opens the same folder.
  const config = loadConfig(env);
  const store = await startEmbeddedStore({ dataDir: path.join(work, 'store'), port: 0 });
  const encoder = await openEncoder(config);
  try {
    const client = new QdrantClient({ url: store.url, checkCompatibility: false });
    catalogue = await seedCatalogue({ client, storeUrl: store.url, collection: config.store.collection, encoder, dims: config.encoder.dims, imageDir: path.join(work, 'images') });
  } finally {
    await encoder.close();
    await store.close();
  }
});

after(() => rmSync(work, { recursive: true, force: true }));

test('clipstream search queries the store directly: text as a table, image as JSON', () => {
  const table = spawnSync(process.execPath, [cli, 'search', 'rote Schuhe', '--modality', 'image', '--limit', '3', '--mode', 'dense'], { env, encoding: 'utf8' });
  assert.equal(table.status, 0, table.stderr);
  const rows = table.stdout.trim().split('\n');
  assert.match(rows[1]!, /^\s+1\s+0\.\d{4}\s+image\s+-\s+red-shoe\s+red-shoe\.png/);
  assert.match(rows.at(-1)!, /encode .* ms · search .* ms .*stages 400\/100\/3 \(default\)/);
  assert.match(table.stderr, /TEST MODEL/);

  const image = catalogue.byId.get('blue-cup')!.imagePath;
  const json = spawnSync(process.execPath, [cli, 'search', '--image', image, '--json', '--group'], { env, encoding: 'utf8' });
  assert.equal(json.status, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { groups: Array<{ product_id: string; hits: Array<{ id: string }> }> };
  assert.equal(body.groups[0]!.product_id, 'blue-cup');
  assert.equal(body.groups[0]!.hits[0]!.id, catalogue.byId.get('blue-cup')!.imagePointId);

  const bad = spawnSync(process.execPath, [cli, 'search', 'x', '--limit', '0'], { env, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--limit "0": expected a positive integer/);
});

test('clipstream serve prints its URL and serves; search --server asks it, with the API key', async () => {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0'], { env: { ...env, API_KEY: 'k1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /^search page: (http:\/\/\S+)\/$/.exec(line);
        if (m) resolve(m[1]!);
      });
    });
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [cli, 'search', ...args, '--server', url], { env });
        let stdout = '';
        let err = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('exit', (code) => resolve({ code, stdout, stderr: err }));
      });
    const denied = await run(['赤い靴']);
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /HTTP 401.*API key/);
    const ok = await run(['赤い靴', '--api-key', 'k1', '--json', '--modality', 'image', '--mode', 'dense']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { hits: Array<{ payload: { product_id: string } }> }).hits[0]!.payload.product_id, 'red-shoe');
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  assert.match(stderr, /SIGTERM, closing/);
});
