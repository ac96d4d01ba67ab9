import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ImageObject, ItemFailure, CatalogueItem, TextRecord } from '../../shared/catalogue/types.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { fetchObjectBytes, listImageObjects, listObjects } from '../../shared/sources/s3.ts';
import { isItemFailureEntry, openSource } from '../../shared/sources/index.ts';
import { startS3rver } from '../support/s3rver.ts';

const s3 = await startS3rver({ faults: true });
test.after(() => s3.stop());

const BUCKET = 'catalogue';
const md5 = (b: string) => createHash('md5').update(b).digest('hex');
await s3.createBucket(BUCKET);
await s3.createBucket('elsewhere');
const objects: Array<[string, string, string?]> = [
  ['cat/products/P1/front.jpg', 'jpeg-bytes-1', 'image/jpeg'],
  ['cat/products/P1/back.PNG', 'png-bytes-1', 'image/png'],
  ['cat/products/P2/side.webp', 'webp-bytes', 'image/webp'],
  ['cat/loose/banner.gif', 'gif-bytes', 'image/gif'],
  ['cat/raw/abc123', 'png-without-extension', 'image/png'],
  ['cat/raw/def456', 'plain text', 'text/plain'],
  ['cat/docs/readme.txt', 'not an image', 'text/plain'],
  ['cat/texts/products.jsonl', '{"id":"p1","text":"red shoe","product_id":"P1"}\nnot json\n{"id":"p2","text":"blue shirt"}\n', 'application/x-ndjson'],
  ['other/outside.jpg', 'outside the prefix', 'image/jpeg'],
];
for (let i = 0; i < 12; i++) objects.push([`cat/many/img-${String(i).padStart(2, '0')}.jpg`, `many-${i}`, 'image/jpeg']);
for (const [key, body, type] of objects) await s3.put(BUCKET, key, body, type);
await s3.put(BUCKET, 'cat/emptydir/', '', undefined); // a "folder" placeholder

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('lists every image under the prefix across pages, with ETag version, size, date and product', async () => {
  const images = await all(listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/', pageSize: 3 }));
  const expected = objects.filter(([k]) => k.startsWith('cat/') && /\.(jpg|png|webp|gif)$/i.test(k)).map(([k]) => k).sort();
  assert.deepEqual(images.map((i) => i.sourceUri), expected.map((k) => `s3://${BUCKET}/${k}`));
  const front = images.find((i) => i.sourceUri.endsWith('front.jpg'))!;
  assert.equal(front.version, md5('jpeg-bytes-1'), 'ETag with its quotes stripped');
  assert.equal(front.bytes, 'jpeg-bytes-1'.length);
  assert.equal(front.contentType, 'image/jpeg');
  assert.equal(front.productId, 'P1');
  assert.ok(front.lastModified && !Number.isNaN(Date.parse(front.lastModified)));
  assert.equal(images.find((i) => i.sourceUri.endsWith('back.PNG'))!.contentType, 'image/png', 'extension case does not matter');
  assert.equal(images.find((i) => i.sourceUri.endsWith('banner.gif'))!.productId, undefined);
});

test('pagination: a small page size still yields every key exactly once', async () => {
  const entries = await all(listObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/many/', pageSize: 5 }));
  assert.equal(entries.length, 12);
  assert.equal(new Set(entries.map((e) => e.key)).size, 12);
  assert.equal(entries[0]!.relativeKey, 'img-00.jpg');
});

test('include/exclude globs apply to keys relative to the prefix', async () => {
  const images = await all(
    listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/', include: ['products/**', 'loose/*'], exclude: ['**/*.{png,PNG}'] }),
  );
  assert.deepEqual(
    images.map((i) => i.sourceUri.replace(`s3://${BUCKET}/cat/`, '')),
    ['loose/banner.gif', 'products/P1/front.jpg', 'products/P2/side.webp'],
  );
});

test('content types: extensionless keys are kept when their stored type matches; patterns also narrow extensions', async () => {
  const images = await all(listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/', contentTypes: ['image/*'], exclude: ['many/**'] }));
  const raw = images.filter((i) => i.sourceUri.includes('/raw/'));
  assert.deepEqual(raw.map((i) => [i.sourceUri, i.contentType]), [[`s3://${BUCKET}/cat/raw/abc123`, 'image/png']]);
  const jpegOnly = await all(listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/products/', contentTypes: ['image/jpeg'] }));
  assert.deepEqual(jpegOnly.map((i) => i.sourceUri), [`s3://${BUCKET}/cat/products/P1/front.jpg`]);
});

test('a missing bucket ends the listing with SOURCE_NOT_FOUND naming it', async () => {
  await assert.rejects(all(listObjects({ client: s3.client, bucket: 'no-such-bucket', prefix: 'x/' })), (e) =>
    isClipstreamError(e, 'SOURCE_NOT_FOUND') && e.message.includes('s3://no-such-bucket/x/'),
  );
});

test('fetchObjectBytes retries 503 SlowDown with backoff, then succeeds', async () => {
  const uri = `s3://${BUCKET}/cat/products/P1/front.jpg`;
  const before = s3.faults!.objectGets;
  s3.faults!.slowDownNextGets(2);
  const retries: string[] = [];
  const bytes = await fetchObjectBytes(s3.client, uri, {
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    onRetry: (err) => retries.push((err as Error).name),
  });
  assert.equal(bytes.toString(), 'jpeg-bytes-1');
  assert.deepEqual(retries, ['SlowDown', 'SlowDown']);
  assert.equal(s3.faults!.objectGets - before, 3);
});

test('fetchObjectBytes gives up with SOURCE_UNREACHABLE after its attempts, naming the object', async () => {
  const uri = `s3://${BUCKET}/cat/products/P2/side.webp`;
  const before = s3.faults!.objectGets;
  s3.faults!.slowDownNextGets(100);
  try {
    await assert.rejects(fetchObjectBytes(s3.client, uri, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }), (e) => {
      assert.ok(isClipstreamError(e, 'SOURCE_UNREACHABLE'));
      assert.equal(e.item, uri);
      assert.match(e.message, /after 3 attempts.*503.*SlowDown/);
      return true;
    });
    assert.equal(s3.faults!.objectGets - before, 3, 'no hidden SDK retries on top of ours');
  } finally {
    s3.faults!.slowDownNextGets(0);
  }
});

test('a key deleted between list and get is SOURCE_NOT_FOUND for that item, not retried', async () => {
  await s3.put(BUCKET, 'cat/vanishing/soon.jpg', 'short-lived', 'image/jpeg');
  const [listed] = await all(listImageObjects({ client: s3.client, bucket: BUCKET, prefix: 'cat/vanishing/' }));
  assert.equal(listed!.sourceUri, `s3://${BUCKET}/cat/vanishing/soon.jpg`);
  await s3.remove(BUCKET, 'cat/vanishing/soon.jpg');
  const before = s3.faults!.objectGets;
  await assert.rejects(fetchObjectBytes(s3.client, listed!.sourceUri), (e) =>
    isClipstreamError(e, 'SOURCE_NOT_FOUND') && e.item === listed!.sourceUri && e.message.startsWith(`s3://${BUCKET}/cat/vanishing/soon.jpg`),
  );
  assert.equal(s3.faults!.objectGets - before, 1);
});

test('fetchObjectBytes refuses objects over maxBytes', async () => {
  await assert.rejects(fetchObjectBytes(s3.client, `s3://${BUCKET}/cat/products/P1/front.jpg`, { maxBytes: 4 }), (e) =>
    isClipstreamError(e, 'IMAGE_TOO_LARGE'),
  );
});

test('openSource on a prefix yields its images and the records files under it, with per-line failures', async () => {
  const source = openSource(`s3://${BUCKET}/cat`, { s3Client: s3.client, exclude: ['many/**'], pageSize: 2, concurrency: 3 });
  assert.deepEqual(source.spec, { kind: 's3-prefix', spec: `s3://${BUCKET}/cat`, bucket: BUCKET, prefix: 'cat/' });
  const items: Array<CatalogueItem | ItemFailure> = await all(source.items);
  const images = items.filter((x): x is ImageObject => !isItemFailureEntry(x) && x.kind === 'image');
  const texts = items.filter((x): x is TextRecord => !isItemFailureEntry(x) && x.kind === 'text');
  const failures = items.filter(isItemFailureEntry);
  assert.equal(images.length, 4);
  assert.deepEqual(texts.map((t) => t.sourceUri), ['record:products/p1', 'record:products/p2']);
  assert.deepEqual(failures.map((f) => [f.item, f.code]), [[`s3://${BUCKET}/cat/texts/products.jsonl:2`, 'RECORD_INVALID']]);
  assert.match(source.describe(), /4 images, 2 records from 1 records files, 1 failures/);
});

test('openSource on a single records object and a single image object', async () => {
  const recs = await all(openSource(`s3://${BUCKET}/cat/texts/products.jsonl`, { s3Client: s3.client }).items);
  assert.equal(recs.filter((x) => !isItemFailureEntry(x)).length, 2);
  const [img] = await all(openSource(`s3://${BUCKET}/cat/products/P1/front.jpg`, { s3Client: s3.client }).items);
  assert.deepEqual(
    { ...(img as ImageObject), lastModified: undefined },
    {
      kind: 'image',
      sourceUri: `s3://${BUCKET}/cat/products/P1/front.jpg`,
      version: md5('jpeg-bytes-1'),
      bytes: 12,
      contentType: 'image/jpeg',
      productId: 'P1',
      lastModified: undefined,
      // A single-object source is its own root.
      sourceRoot: `s3://${BUCKET}/cat/products/P1/front.jpg`,
    },
  );
});

test('a records file deleted after listing is one SOURCE_NOT_FOUND failure; the source goes on', async () => {
  await s3.put(BUCKET, 'gone/a.jpg', 'a', 'image/jpeg');
  await s3.put(BUCKET, 'gone/b.jsonl', '{"id":"1","text":"x"}\n', 'application/x-ndjson');
  await s3.put(BUCKET, 'gone/c.jpg', 'c', 'image/jpeg');
  const it = openSource(`s3://${BUCKET}/gone/`, { s3Client: s3.client, concurrency: 1 }).items[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal((first.value as ImageObject).sourceUri, `s3://${BUCKET}/gone/a.jpg`);
  await s3.remove(BUCKET, 'gone/b.jsonl');
  const rest: Array<CatalogueItem | ItemFailure> = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  assert.equal(rest.length, 2);
  const failure = rest[0] as ItemFailure;
  assert.equal(failure.item, `s3://${BUCKET}/gone/b.jsonl`);
  assert.equal(failure.code, 'SOURCE_NOT_FOUND');
  assert.ok(!failure.reason.startsWith('s3://'), 'the reason does not repeat the item');
  assert.equal((rest[1] as ImageObject).sourceUri, `s3://${BUCKET}/gone/c.jpg`);
});
