import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CatalogueItem, ImageObject, ItemFailure, TextRecord } from '../../shared/catalogue/types.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { isItemFailureEntry, openSource, parseSourceSpec, parseProductIdRule, productIdOf } from '../../shared/sources/index.ts';
import { listLocalImages, readConfinedLocalBytes, readLocalBytes, walkLocalFolder } from '../../shared/sources/local.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'clipstream-local-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');

function put(rel: string, content: string): string {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}
put('catalogue/products/P1/front.jpg', 'front');
put('catalogue/products/P1/back.JPEG', 'back');
put('catalogue/products/P2/top view.png', 'top');
put('catalogue/banner.webp', 'banner');
put('catalogue/notes.txt', 'ignored');
put('catalogue/.DS_Store', 'ignored');
put('catalogue/._front.jpg', 'apple double, ignored');
put('catalogue/.git/x.jpg', 'hidden folder, ignored');
put('catalogue/texts/items.jsonl', '{"id":"t1","text":"green scarf","product_id":"P2"}\n{"id":"t2"}\n');
put('catalogue/texts/more.csv', 'id,title,description\nc1,Mug,ceramic 300 ml\n');
symlinkSync(path.join(root, 'catalogue'), path.join(root, 'catalogue', 'loop'), 'dir');

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('walk: images and records files in name order; hidden files, other types and linked folders skipped', async () => {
  const entries = await all(walkLocalFolder(path.join(root, 'catalogue')));
  assert.deepEqual(
    entries.map((e) => [e.kind, e.relativeKey]),
    [
      ['image', 'banner.webp'],
      ['image', 'products/P1/back.JPEG'],
      ['image', 'products/P1/front.jpg'],
      ['image', 'products/P2/top view.png'],
      ['records', 'texts/items.jsonl'],
      ['records', 'texts/more.csv'],
    ],
  );
  const globbed = await all(walkLocalFolder(path.join(root, 'catalogue'), { include: ['products/**'], exclude: ['**/back.*'] }));
  assert.deepEqual(globbed.map((e) => e.relativeKey), ['products/P1/front.jpg', 'products/P2/top view.png']);
});

test('local images: file:// URI, SHA-256 of the bytes as version, product from the key', async () => {
  const images = await all(listLocalImages(path.join(root, 'catalogue'), { concurrency: 2 }));
  const top = images.find((i) => i.sourceUri.endsWith('top%20view.png'))!;
  assert.equal(top.sourceUri, pathToFileURL(path.join(root, 'catalogue/products/P2/top view.png')).href);
  assert.ok(top.sourceUri.startsWith('file:///'));
  assert.equal(top.version, sha256('top'));
  assert.equal(top.bytes, 3);
  assert.equal(top.contentType, 'image/png');
  assert.equal(top.productId, 'P2');
  assert.equal(images.find((i) => i.sourceUri.endsWith('banner.webp'))!.productId, undefined);
});

test('readLocalBytes: bytes, SOURCE_NOT_FOUND for a missing file, IMAGE_TOO_LARGE over the limit', async () => {
  const uri = pathToFileURL(path.join(root, 'catalogue/banner.webp')).href;
  assert.equal((await readLocalBytes(uri)).toString(), 'banner');
  await assert.rejects(readLocalBytes(uri, 3), (e) => isClipstreamError(e, 'IMAGE_TOO_LARGE') && e.item === uri);
  const gone = pathToFileURL(path.join(root, 'nope.jpg')).href;
  await assert.rejects(readLocalBytes(gone), (e) => isClipstreamError(e, 'SOURCE_NOT_FOUND') && e.message.includes(gone));
});

test('openSource on a folder: images, then records from each records file, failures in place', async () => {
  const source = openSource(path.join(root, 'catalogue'), { concurrency: 2 });
  const items: Array<CatalogueItem | ItemFailure> = await all(source.items);
  const kinds = items.map((x) => (isItemFailureEntry(x) ? `fail:${x.item.replace(root, '')}` : `${x.kind}:${x.kind === 'text' ? x.sourceUri : path.basename(x.sourceUri)}`));
  assert.deepEqual(kinds, [
    'image:banner.webp',
    'image:back.JPEG',
    'image:front.jpg',
    'image:top%20view.png',
    'text:record:items/t1',
    'fail:/catalogue/texts/items.jsonl:2',
    'text:record:more/c1',
  ]);
  const mug = items.find((x): x is TextRecord => !isItemFailureEntry(x) && x.kind === 'text' && x.recordId === 'c1')!;
  assert.equal(mug.text, 'Mug\nceramic 300 ml');
  assert.match(source.describe(), /4 images, 2 records from 2 records files, 1 failures/);
});

test('openSource on a single local image and records file', async () => {
  const [img] = (await all(openSource(path.join(root, 'catalogue/products/P1/front.jpg')).items)) as ImageObject[];
  assert.equal(img!.version, sha256('front'));
  const recs = await all(openSource(pathToFileURL(path.join(root, 'catalogue/texts/more.csv')).href).items);
  assert.equal(recs.length, 1);
});

test('parseSourceSpec', () => {
  assert.deepEqual(parseSourceSpec('s3://b1/photos/'), { kind: 's3-prefix', spec: 's3://b1/photos/', bucket: 'b1', prefix: 'photos/' });
  assert.deepEqual(parseSourceSpec('s3://b1'), { kind: 's3-prefix', spec: 's3://b1', bucket: 'b1', prefix: '' });
  assert.deepEqual(parseSourceSpec('s3://b1/photos'), { kind: 's3-prefix', spec: 's3://b1/photos', bucket: 'b1', prefix: 'photos/' });
  assert.deepEqual(parseSourceSpec('s3://b1/x/items.NDJSON'), { kind: 's3-records', spec: 's3://b1/x/items.NDJSON', bucket: 'b1', key: 'x/items.NDJSON', format: 'jsonl' });
  assert.deepEqual(parseSourceSpec('s3://b1/x/t.csv'), { kind: 's3-records', spec: 's3://b1/x/t.csv', bucket: 'b1', key: 'x/t.csv', format: 'csv' });
  assert.deepEqual(parseSourceSpec('s3://b1/x/a.tiff'), { kind: 's3-image', spec: 's3://b1/x/a.tiff', bucket: 'b1', key: 'x/a.tiff' });
  assert.throws(() => parseSourceSpec('s3:///nobucket'), (e) => isClipstreamError(e, 'BAD_REQUEST'));
  assert.deepEqual(parseSourceSpec('catalogue', root), { kind: 'local-folder', spec: 'catalogue', path: path.join(root, 'catalogue') });
  assert.equal(parseSourceSpec('catalogue/texts/more.csv', root).kind, 'local-records');
  assert.equal(parseSourceSpec('catalogue/banner.webp', root).kind, 'local-image');
  assert.throws(() => parseSourceSpec('catalogue/notes.txt', root), (e) => isClipstreamError(e, 'BAD_REQUEST') && e.message.includes('notes.txt'));
  assert.throws(() => parseSourceSpec('missing-folder', root), (e) => isClipstreamError(e, 'SOURCE_NOT_FOUND') && e.message.includes('missing-folder'));
});

test('product id rules', () => {
  assert.equal(productIdOf('products/AB12/front.jpg'), 'AB12');
  assert.equal(productIdOf('shoes/AB12/front.jpg'), undefined, 'default rule needs the products/ layout');
  assert.equal(productIdOf('products/front.jpg'), undefined);
  assert.equal(productIdOf('shoes/AB12/front.jpg', 'parent-dir'), 'AB12');
  assert.equal(productIdOf('front.jpg', 'parent-dir'), undefined);
  assert.equal(productIdOf('x/AB12_front.jpg', 'stem-prefix'), 'AB12');
  assert.equal(productIdOf('x/AB12-front.jpg', 'stem-prefix'), undefined);
  assert.equal(productIdOf('sku=77/a.jpg', parseProductIdRule('regex:sku=(?<product>\\d+)/')), '77');
  assert.equal(productIdOf('products/AB12/front.jpg', parseProductIdRule('none')), undefined);
  assert.throws(() => parseProductIdRule('by-magic'), (e) => isClipstreamError(e, 'BAD_REQUEST'));
});

test('file symlinks: followed inside the folder, refused with a reason when they leave it, unless followSymlinks', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'clipstream-links-'));
  try {
    const write = (rel: string, content: string) => {
      mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
      writeFileSync(path.join(base, rel), content);
    };
    write('cat/products/P1/front.jpg', 'front');
    write('outside/secret.jpg', 'secret');
    write('outside/notes.txt', 'not a catalogue file');
    symlinkSync(path.join(base, 'cat/products/P1/front.jpg'), path.join(base, 'cat/products/P1/alias.jpg'));
    symlinkSync('../../../outside/secret.jpg', path.join(base, 'cat/products/P1/link.jpg'));
    symlinkSync(path.join(base, 'outside/notes.txt'), path.join(base, 'cat/notes.txt'));
    symlinkSync(path.join(base, 'nowhere.jpg'), path.join(base, 'cat/dangling.jpg'));
    // The folder named through a link of its own: "inside" means inside its real path.
    symlinkSync(path.join(base, 'cat'), path.join(base, 'cat-link'), 'dir');

    for (const root of ['cat', 'cat-link']) {
      const entries = await all(walkLocalFolder(path.join(base, root)));
      assert.deepEqual(
        entries.map((e) => [e.kind, e.relativeKey]),
        [
          ['image', 'products/P1/alias.jpg'],
          ['image', 'products/P1/front.jpg'],
          ['refused', 'products/P1/link.jpg'],
        ],
        root,
      );
      const refused = entries.find((e) => e.kind === 'refused');
      assert.match(refused?.kind === 'refused' ? refused.reason : '', /symbolic link to a file outside the source folder: not followed \(--follow-symlinks to take it\)/);
    }
    const followed = await all(walkLocalFolder(path.join(base, 'cat'), { followSymlinks: true }));
    assert.deepEqual(followed.map((e) => [e.kind, e.relativeKey]), [
      ['image', 'products/P1/alias.jpg'],
      ['image', 'products/P1/front.jpg'],
      ['image', 'products/P1/link.jpg'],
    ]);

    // openSource reports the refused link as that item's failure; the rest goes on.
    const items = await all(openSource(path.join(base, 'cat')).items);
    const failures = items.filter(isItemFailureEntry);
    assert.deepEqual(failures, [
      {
        item: pathToFileURL(path.join(base, 'cat/products/P1/link.jpg')).href,
        code: 'BAD_REQUEST',
        reason: 'symbolic link to a file outside the source folder: not followed (--follow-symlinks to take it)',
      },
    ]);
    assert.equal(items.length - failures.length, 2);
    const taken = await all(openSource(path.join(base, 'cat'), { followSymlinks: true }).items);
    assert.equal(taken.filter(isItemFailureEntry).length, 0);
    assert.ok(taken.some((i) => !isItemFailureEntry(i) && i.sourceUri.endsWith('/link.jpg') && i.version === sha256('secret')));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('readConfinedLocalBytes: the real path of what was opened decides, on every read', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'clipstream-confined-'));
  try {
    mkdirSync(path.join(base, 'cat'));
    mkdirSync(path.join(base, 'outside'));
    writeFileSync(path.join(base, 'cat/a.jpg'), 'a');
    writeFileSync(path.join(base, 'cat/b.jpg'), 'b');
    writeFileSync(path.join(base, 'outside/secret.jpg'), 'secret');
    const uri = (rel: string) => pathToFileURL(path.join(base, rel)).href;
    const strict = { maxBytes: 100, roots: [] };
    const rooted = { maxBytes: 100, roots: [path.join(base, 'cat')] };
    assert.equal((await readConfinedLocalBytes(uri('cat/a.jpg'), strict)).toString(), 'a');
    assert.equal((await readConfinedLocalBytes(uri('cat/a.jpg'), rooted)).toString(), 'a');
    // Replaced by a link after it was indexed.
    rmSync(path.join(base, 'cat/a.jpg'));
    symlinkSync(path.join(base, 'outside/secret.jpg'), path.join(base, 'cat/a.jpg'));
    for (const options of [strict, rooted]) {
      await assert.rejects(readConfinedLocalBytes(uri('cat/a.jpg'), options), (e) => isClipstreamError(e, 'NOT_FOUND') && /symbolic link that leaves/.test(e.message) && !e.message.includes('secret'));
    }
    // A link that stays inside the roots is fine with roots, refused without (no link at all then).
    rmSync(path.join(base, 'cat/a.jpg'));
    symlinkSync(path.join(base, 'cat/b.jpg'), path.join(base, 'cat/a.jpg'));
    assert.equal((await readConfinedLocalBytes(uri('cat/a.jpg'), rooted)).toString(), 'b');
    await assert.rejects(readConfinedLocalBytes(uri('cat/a.jpg'), strict), (e) => isClipstreamError(e, 'NOT_FOUND'));
    await assert.rejects(readConfinedLocalBytes(uri('cat/gone.jpg'), strict), (e) => isClipstreamError(e, 'SOURCE_NOT_FOUND'));
    await assert.rejects(readConfinedLocalBytes(uri('outside/secret.jpg'), rooted), (e) => isClipstreamError(e, 'NOT_FOUND'));
    // A sibling folder whose name starts like the root's is not inside it.
    mkdirSync(path.join(base, 'cat-private'));
    writeFileSync(path.join(base, 'cat-private/x.jpg'), 'x');
    await assert.rejects(readConfinedLocalBytes(uri('cat-private/x.jpg'), rooted), (e) => isClipstreamError(e, 'NOT_FOUND'));
    assert.equal((await readConfinedLocalBytes(uri('cat/b.jpg'), { ...rooted, maxBytes: 100 })).toString(), 'b');
    await assert.rejects(readConfinedLocalBytes(uri('cat/b.jpg'), { ...rooted, maxBytes: 0 }), (e) => isClipstreamError(e, 'IMAGE_TOO_LARGE'));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
