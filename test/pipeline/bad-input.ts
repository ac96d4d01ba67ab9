/** The bad-input catalogue shared by the embedded and distributed tests. */
import type { ErrorCode } from '../../shared/errors.ts';
import { imageCorpus } from '../support/image-corpus.ts';
import type { S3rver } from '../support/s3rver.ts';
import { BUCKET } from './harness.ts';

/** Awkward but valid: must be indexed. The rest of the corpus's good images add time, not coverage. */
const AWKWARD = new Set([
  'cmyk.jpg', 'rgb-16bit.png', 'grey.jpg', 'grey-16bit.png', 'alpha.png', 'small-alpha.png', 'exif-orientation-6.jpg',
  'small-exif-orientation-8.jpg', 'animated.gif', 'palette.png', 'image.avif', 'lossless.webp', 'lzw.tiff', 'tiny-1x1.png',
  'panorama-1200x60.png', 'progressive.jpg',
]);

export interface BadCatalogue {
  /** Items that must end up stored. */
  good: { images: string[]; records: string[] };
  /** item → expected error code. */
  failures: Map<string, ErrorCode>;
}

export async function putBadCatalogue(s3: S3rver, prefix: string): Promise<BadCatalogue> {
  const good = { images: [] as string[], records: [] as string[] };
  const failures = new Map<string, ErrorCode>();
  for (const image of await imageCorpus()) {
    if (image.expect === 'ok' && !AWKWARD.has(image.name)) continue;
    // SVGs get an image extension, as a mislabelled upload would: the lister takes them, the decoder refuses them.
    const key = `${prefix}images/${image.name.endsWith('.svg') ? `${image.name}.jpg` : image.name}`;
    await s3.put(BUCKET, key, image.bytes);
    const uri = `s3://${BUCKET}/${key}`;
    if (image.expect === 'ok') good.images.push(uri);
    else failures.set(uri, image.expect);
  }

  const jsonl = `s3://${BUCKET}/${prefix}records.jsonl`;
  const lines: Array<string | Buffer> = [
    JSON.stringify({ id: 'g1', text: 'grüne Regenjacke', lang: 'de', product_id: 'B1' }),
    JSON.stringify({ id: 'e1', text: '   ' }),
    JSON.stringify({ id: 'long1', text: 'x'.repeat(3000) }),
    Buffer.concat([Buffer.from('{"id":"u1","text":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    '{"id":"m1","text":"broken json",',
    JSON.stringify({ text: 'a record without an id', lang: 'en' }),
    JSON.stringify({ id: 'g2', text: '赤いスニーカー', lang: 'ja', product_id: 'B2' }),
  ];
  await s3.put(BUCKET, `${prefix}records.jsonl`, Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')])));
  good.records.push('record:records/g1', 'record:records/g2');
  failures.set(`${jsonl}:2`, 'TEXT_EMPTY');
  failures.set(`${jsonl}:3`, 'TEXT_TOO_LONG');
  failures.set(`${jsonl}:4`, 'TEXT_INVALID_UTF8');
  failures.set(`${jsonl}:5`, 'RECORD_INVALID');
  failures.set(`${jsonl}:6`, 'RECORD_INVALID');

  const csv = `s3://${BUCKET}/${prefix}more.csv`;
  await s3.put(
    BUCKET,
    `${prefix}more.csv`,
    ['id,text,lang', 'c1,camiseta azul,es', 'c2,"unterminated quote,fr', 'c3,maglietta rossa,it', ',no id here,en', ''].join('\n'),
  );
  good.records.push('record:more/c1', 'record:more/c3');
  failures.set(`${csv}:3`, 'RECORD_INVALID');
  failures.set(`${csv}:5`, 'RECORD_INVALID');
  return { good, failures };
}
