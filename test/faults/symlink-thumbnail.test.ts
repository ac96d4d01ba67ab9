/**
 * The symlink drill end to end: a catalogue folder with a link to a file outside it is ingested
 * (the link is refused, with its reason), then files and folders are swapped for links after
 * ingest, and thumbnails never serve what the links point to — with QUERY_THUMBNAIL_ROOTS unset
 * (no link followed at all) or set to the catalogue (links that stay inside it are).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildQueryApp } from '../../services/query/app.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { loadConfig, type Config } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { fileUri } from '../../shared/sources/local.ts';
import { pointId } from '../../shared/store/ids.ts';
import { startTestStore, type TestStore } from '../support/store.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'clipstream-symlink-'));
const cat = path.join(work, 'cat');
const p1 = path.join(cat, 'products/P1');
const outside = path.join(work, 'outside');
let store: TestStore;
let encoder: ClipEncoder;
let config: Config;
const apps: FastifyInstance[] = [];

/** Two visibly different example photos: the catalogue's, and the "secret" one elsewhere on the disk. */
function examplePhotos(): [string, string] {
  const dir = path.join(repoRoot, 'examples/catalogue/products');
  const files = readdirSync(dir).flatMap((p) => readdirSync(path.join(dir, p)).filter((f) => f.endsWith('.jpg')).map((f) => path.join(dir, p, f)));
  return [files[0]!, files[1]!];
}

before(async () => {
  const [photo, secret] = examplePhotos();
  mkdirSync(p1, { recursive: true });
  mkdirSync(outside);
  copyFileSync(photo, path.join(p1, 'real.jpg'));
  copyFileSync(secret, path.join(outside, 'secret.jpg'));
  symlinkSync(path.join(p1, 'real.jpg'), path.join(p1, 'alias.jpg'));
  symlinkSync(path.join(outside, 'secret.jpg'), path.join(p1, 'link.jpg'));
  store = await startTestStore();
  config = loadConfig({ DATA_DIR: path.join(work, 'data'), MODEL_DIR: path.join(repoRoot, 'models/test-tiny'), QDRANT_COLLECTION: store.name('catalogue') });
  encoder = await openEncoder(config);
});

after(async () => {
  for (const app of apps) await app.close();
  await encoder?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

async function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const c = loadConfig({ DATA_DIR: config.store.dataDir, MODEL_DIR: path.join(repoRoot, 'models/test-tiny'), QDRANT_COLLECTION: config.store.collection, ...env });
  const built = await buildQueryApp({ config: c, encoder, store: { client: store.client, url: store.url } });
  apps.push(built);
  return built;
}

const idOf = (file: string) => pointId(fileUri(file));

async function thumbnail(service: FastifyInstance, file: string) {
  return service.inject({ url: `/v1/items/${idOf(file)}/thumbnail?size=64` });
}

test('ingest takes the file and the link that stays inside; the link out of the folder is a failure with its reason', async () => {
  const summary = await runIngest(config, [cat], { mode: 'embedded', encoder, store: { client: store.client, url: store.url } });
  assert.equal(summary.indexed, 2, JSON.stringify(summary.failures));
  assert.deepEqual(summary.failures.map((f) => [f.item, f.code]), [[fileUri(path.join(p1, 'link.jpg')), 'BAD_REQUEST']]);
  assert.match(summary.failures[0]!.reason, /outside the source folder: not followed \(--follow-symlinks/);
  const stored = await store.client.retrieve(config.store.collection, { ids: [idOf(path.join(p1, 'link.jpg')), idOf(path.join(p1, 'real.jpg'))] });
  assert.deepEqual(stored.map((p) => p.id), [idOf(path.join(p1, 'real.jpg'))]);
});

test('thumbnails: the real file is served; a link is served only under QUERY_THUMBNAIL_ROOTS', async () => {
  const strict = await app();
  const rooted = await app({ QUERY_THUMBNAIL_ROOTS: cat });
  const real = await thumbnail(strict, path.join(p1, 'real.jpg'));
  assert.equal(real.statusCode, 200, real.body);
  assert.equal((await sharp(real.rawPayload).metadata()).format, 'webp');
  const alias = await thumbnail(strict, path.join(p1, 'alias.jpg'));
  assert.equal(alias.statusCode, 404, 'no root configured: no link is followed');
  assert.match(alias.json().error.message, /symbolic link that leaves the folders it may be read from/);
  assert.equal((await thumbnail(rooted, path.join(p1, 'alias.jpg'))).statusCode, 200, 'the alias stays inside the configured root');
});

test('a file swapped for a link after ingest does not carry its thumbnail out of the catalogue', async () => {
  const strict = await app();
  const rooted = await app({ QUERY_THUMBNAIL_ROOTS: cat });
  const real = path.join(p1, 'real.jpg');
  renameSync(real, path.join(work, 'real.jpg.orig'));
  symlinkSync(path.join(outside, 'secret.jpg'), real);
  try {
    for (const service of [strict, rooted]) {
      const res = await thumbnail(service, real);
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().error.code, 'NOT_FOUND');
      assert.doesNotMatch(res.body, /secret|outside/, 'the answer does not say where the link points');
    }
  } finally {
    rmSync(real);
    renameSync(path.join(work, 'real.jpg.orig'), real);
  }
  assert.equal((await thumbnail(await app(), real)).statusCode, 200, 'the file back in place is served again');
});

test('a folder on the path swapped for a link to elsewhere is refused too', async () => {
  const decoy = path.join(outside, 'P1');
  mkdirSync(decoy);
  copyFileSync(path.join(outside, 'secret.jpg'), path.join(decoy, 'real.jpg'));
  renameSync(p1, path.join(work, 'P1.orig'));
  symlinkSync(decoy, p1, 'dir');
  try {
    for (const service of [await app(), await app({ QUERY_THUMBNAIL_ROOTS: cat })]) {
      assert.equal((await thumbnail(service, path.join(p1, 'real.jpg'))).statusCode, 404);
    }
  } finally {
    rmSync(p1);
    renameSync(path.join(work, 'P1.orig'), p1);
  }
});

test('a FIFO or device swapped in is refused without blocking', async () => {
  const real = path.join(p1, 'real.jpg');
  renameSync(real, path.join(work, 'real.jpg.orig'));
  try {
    execFileSync('mkfifo', [real]);
    const fifo = await thumbnail(await app(), real);
    assert.equal(fifo.statusCode, 404);
    assert.match(fifo.json().error.message, /not a regular file/);
    rmSync(real);
    symlinkSync('/dev/zero', real);
    assert.equal((await thumbnail(await app({ QUERY_THUMBNAIL_ROOTS: '/' }), real)).statusCode, 404, 'even with / as a root, a device is no image file');
  } finally {
    rmSync(real, { force: true });
    renameSync(path.join(work, 'real.jpg.orig'), real);
  }
});
