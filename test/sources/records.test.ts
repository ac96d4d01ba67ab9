import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, statSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { datasetFromName, readRecords, readRecordsFile, type RecordOutcome } from '../../shared/sources/records.ts';
import { canonicalJson, recordVersion } from '../../shared/sources/record-fields.ts';
import { splitLines } from '../../shared/sources/lines.ts';
import { isClipstreamError } from '../../shared/errors.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'clipstream-records-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function collect(it: AsyncIterable<RecordOutcome>): Promise<RecordOutcome[]> {
  const out: RecordOutcome[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const records = (xs: RecordOutcome[]) => xs.flatMap((x) => ('record' in x ? [x.record] : []));
const failures = (xs: RecordOutcome[]) => xs.flatMap((x) => ('failure' in x ? [x.failure] : []));

/** Feeds bytes in tiny chunks so line and record boundaries fall inside chunks. */
function chunked(bytes: Buffer, size = 5): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  })();
}

test('JSONL: good records come through in order; every bad line is reported with its line number', async () => {
  const content = Buffer.concat([
    Buffer.from(
      [
        '{"id":"a1","text":"red running shoe","lang":"en","product_id":"P1","brand":"Acme"}',
        '{"id":"a2","text":"chaussure rouge"', // 2: malformed JSON
        '{"text":"no id here"}', // 3: missing id
        '', // 4: blank, skipped silently
        '{"id":"a5","text":"   "}', // 5: empty text
        '[1,2,3]', // 6: not an object
        '{"id":"a7","title":"Laufschuh","description":"rot, leicht","lang":"de"}', // 7: text from title+description
        '',
      ].join('\n'),
    ),
    Buffer.from('{"id":"a8","text":"caf'), // 8: invalid UTF-8 (0xE9 is Latin-1, not UTF-8)
    Buffer.from([0xe9]),
    Buffer.from('"}\r\n{"id":9,"text":"赤いランニングシューズ","lang":"ja"}\n'), // CRLF line endings, numeric id
  ]);
  const out = await collect(readRecords({ name: 'cat.jsonl', body: chunked(content) }));
  const recs = records(out);
  assert.deepEqual(
    recs.map((r) => r.recordId),
    ['a1', 'a7', '9'],
  );
  assert.deepEqual(recs[0], {
    kind: 'text',
    sourceUri: 'record:cat/a1',
    // SHA-256 of {"fields":{"brand":"Acme"},"lang":"en","product_id":"P1","text":"red running shoe"}
    version: '624829a4321123f8f5d4062d3b07019816a621dc70e098caace98a78e096fabf',
    recordId: 'a1',
    text: 'red running shoe',
    lang: 'en',
    productId: 'P1',
    fields: { brand: 'Acme' },
  });
  assert.equal(recs[1]!.text, 'Laufschuh\nrot, leicht');
  assert.deepEqual(recs[1]!.fields, { title: 'Laufschuh', description: 'rot, leicht' });
  assert.equal(recs[2]!.text, '赤いランニングシューズ');

  const fails = failures(out);
  assert.deepEqual(
    fails.map((f) => [f.item, f.code]),
    [
      ['cat.jsonl:2', 'RECORD_INVALID'],
      ['cat.jsonl:3', 'RECORD_INVALID'],
      ['cat.jsonl:5', 'TEXT_EMPTY'],
      ['cat.jsonl:6', 'RECORD_INVALID'],
      ['cat.jsonl:8', 'TEXT_INVALID_UTF8'],
    ],
  );
  assert.match(fails[0]!.reason, /malformed JSON/);
  assert.match(fails[1]!.reason, /id field "id" missing/);
  assert.match(fails[2]!.reason, /^record "a5": no text/);
  assert.match(fails[4]!.reason, new RegExp(`invalid UTF-8 at byte ${'{"id":"a8","text":"caf'.length}`));
  // Failures and records interleave in file order.
  assert.deepEqual(
    out.map((x) => ('record' in x ? x.line : Number(x.failure.item.split(':')[1]))),
    [1, 2, 3, 5, 6, 7, 8, 9],
  );
});

test('version depends on text, lang, product and fields, not on key order or the record id', () => {
  const a = recordVersion('t', 'en', undefined, { b: 1, a: { y: 2, x: [1, { q: 1, p: 2 }] } });
  const b = recordVersion('t', 'en', undefined, { a: { x: [1, { p: 2, q: 1 }], y: 2 }, b: 1 });
  assert.equal(a, b);
  assert.notEqual(a, recordVersion('t', 'de', undefined, { b: 1, a: { y: 2, x: [1, { q: 1, p: 2 }] } }));
  assert.notEqual(a, recordVersion('t', 'en', 'P', { b: 1, a: { y: 2, x: [1, { q: 1, p: 2 }] } }));
  assert.notEqual(a, recordVersion('t2', 'en', undefined, { b: 1, a: { y: 2, x: [1, { q: 1, p: 2 }] } }));
  assert.equal(canonicalJson({ z: 1, a: [true, null], m: 'x' }), '{"a":[true,null],"m":"x","z":1}');
});

test('dataset defaults to the base name; options rename fields and the dataset', async () => {
  assert.equal(datasetFromName('/data/EU catalogue.fr.jsonl'), 'EU-catalogue.fr');
  assert.equal(datasetFromName('s3://bucket/x/products.ndjson'), 'products');
  const p = file('custom.ndjson', '{"sku":"S-1","body":"blue jacket","language":"en","group":"G7"}\n');
  const out = await collect(
    readRecordsFile(p, { dataset: 'shop', idField: 'sku', textField: 'body', langField: 'language', productIdField: 'group' }),
  );
  const [r] = records(out);
  assert.equal(r!.sourceUri, 'record:shop/S-1');
  assert.equal(r!.lang, 'en');
  assert.equal(r!.productId, 'G7');
  assert.deepEqual(r!.fields, {});
  await assert.rejects(collect(readRecordsFile(p, { dataset: 'has space' })), (e) => isClipstreamError(e, 'BAD_REQUEST'));
});

test('maxTextBytes and maxLineBytes refuse oversize records without stopping the stream', async () => {
  const long = 'x'.repeat(300);
  const content = `{"id":"1","text":"${long}"}\n{"id":"2","text":"ok"}\n{"id":"3","text":"ok too"}\n`;
  const out = await collect(readRecords({ name: 'big.jsonl', body: chunked(Buffer.from(content), 64) }, { maxTextBytes: 100 }));
  assert.deepEqual(records(out).map((r) => r.recordId), ['2', '3']);
  assert.equal(failures(out)[0]!.code, 'TEXT_TOO_LONG');

  const out2 = await collect(readRecords({ name: 'big.jsonl', body: chunked(Buffer.from(content), 64) }, { maxLineBytes: 200 }));
  assert.deepEqual(records(out2).map((r) => r.recordId), ['2', '3']);
  assert.match(failures(out2)[0]!.reason, /over the 200-byte limit/);
});

test('CSV: header row, quoted fields across lines, and bad rows reported by line while the rest goes on', async () => {
  const content = Buffer.concat([
    Buffer.from('\uFEFFid,text,lang,product_id,price\n'), // 1 (BOM)
    Buffer.from('1,"red shoe, size 42",en,P1,10\n'), // 2
    Buffer.from('2,"multi\nline ""quoted"" text",de,,20\n'), // 3-4
    Buffer.from('3,"bad "quote" here,en,P3,30\n'), // 5: invalid closing quote
    Buffer.from('4,too,many,fields,here,now\n'), // 6: field count
    Buffer.from('5,'), // 7: invalid UTF-8
    Buffer.from([0xc3, 0x28]),
    Buffer.from(',fr,P5,50\n'),
    Buffer.from('6,27" monitor,en,P6,60\n'), // 8: stray quote inside an unquoted field is fine
    Buffer.from('7,,en,P7,70\n'), // 9: empty text
    Buffer.from('\n'), // 10: blank
    Buffer.from('8,"never closed,en,P8,80\n'), // 11: unterminated quote
    Buffer.from('9,after the broken one,ja,P9,90\n'), // 12
    Buffer.from('10,"last, no newline",ko,P10,100'), // 13
  ]);
  const out = await collect(readRecords({ name: 'cat.csv', body: chunked(content, 7) }));
  const recs = records(out);
  assert.deepEqual(recs.map((r) => r.recordId), ['1', '2', '6', '9', '10']);
  assert.deepEqual(recs.map((r) => r.text), ['red shoe, size 42', 'multi\nline "quoted" text', '27" monitor', 'after the broken one', 'last, no newline']);
  assert.deepEqual(recs[0]!.fields, { price: '10' });
  assert.equal(recs[0]!.productId, 'P1');
  assert.equal(recs[1]!.productId, undefined, 'an empty CSV cell is absent');
  assert.equal(recs[0]!.sourceUri, 'record:cat/1');
  const fails = failures(out);
  assert.deepEqual(
    fails.map((f) => [f.item, f.code]),
    [
      ['cat.csv:5', 'RECORD_INVALID'],
      ['cat.csv:6', 'RECORD_INVALID'],
      ['cat.csv:7', 'TEXT_INVALID_UTF8'],
      ['cat.csv:9', 'TEXT_EMPTY'],
      ['cat.csv:11', 'RECORD_INVALID'],
    ],
  );
  assert.match(fails[0]!.reason, /a closing quote is followed by "q"/);
  assert.match(fails[1]!.reason, /6 fields, the header has 5/);
  assert.match(fails[4]!.reason, /quoted field opened on this line is not closed/);
  // In file order.
  const lineOf = (x: RecordOutcome) => ('record' in x ? x.line : Number(x.failure.item.split(':')[1]));
  assert.deepEqual(out.map(lineOf), [2, 3, 5, 6, 7, 8, 9, 11, 12, 13]);
});

test('CSV: a header without the id column is one failure for the file', async () => {
  const out = await collect(readRecords({ name: 'nohead.csv', body: chunked(Buffer.from('sku,text\n1,a\n2,b\n')) }));
  assert.equal(out.length, 1);
  assert.equal(failures(out)[0]!.item, 'nohead.csv:1');
  assert.match(failures(out)[0]!.reason, /no "id" column/);
});

test('a large JSONL is streamed: the first record arrives before the file is read, memory stays bounded', async () => {
  const n = 50_000;
  const p = path.join(dir, 'large.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ id: `r${i}`, text: `product number ${i} in a long catalogue`, lang: 'en' }));
  writeFileSync(p, lines.join('\n') + '\n');
  const size = statSync(p).size;
  const stream = createReadStream(p, { highWaterMark: 64 * 1024 });
  let count = 0;
  let bytesReadAtFirst = -1;
  let last = '';
  for await (const x of readRecords({ name: p, body: stream })) {
    assert.ok('record' in x);
    if (count === 0) bytesReadAtFirst = stream.bytesRead;
    last = x.record.recordId;
    count++;
  }
  assert.equal(count, n);
  assert.equal(last, `r${n - 1}`);
  assert.ok(size > 1_000_000, `fixture should be large (${size} bytes)`);
  assert.ok(bytesReadAtFirst > 0 && bytesReadAtFirst <= 2 * 64 * 1024, `first record after ${bytesReadAtFirst} of ${size} bytes`);
});

test('a missing file is SOURCE_NOT_FOUND naming the file', async () => {
  const missing = path.join(dir, 'nope.jsonl');
  await assert.rejects(collect(readRecordsFile(missing)), (e) => isClipstreamError(e, 'SOURCE_NOT_FOUND') && e.message.includes(missing));
});

test('splitLines handles a final line without newline, CRLF, and lines split across chunks', async () => {
  const got: string[] = [];
  for await (const l of splitLines(chunked(Buffer.from('ab\r\ncd\n\nef'), 1), 100)) got.push(l.oversize ? '!' : l.bytes.toString());
  assert.deepEqual(got, ['ab', 'cd', '', 'ef']);
  const again: unknown[] = [];
  for await (const l of splitLines(Readable.from([Buffer.from('x'.repeat(30) + '\nshort\n')]), 10)) again.push(l.oversize ? ['big', l.lineNo, l.length] : l.bytes.toString());
  assert.deepEqual(again, [['big', 1, 30], 'short']);
});

test('a record id with a control character is refused, naming the line and the reason', async () => {
  const content = ['{"id":"ok-1","text":"blue scarf"}', '{"id":"bad\\u0001id","text":"red scarf"}', '{"id":"tab\\tid","text":"green scarf"}', ''].join('\n');
  const out = await collect(readRecords({ name: 'ids.jsonl', body: chunked(Buffer.from(content)) }));
  assert.deepEqual(records(out).map((r) => r.recordId), ['ok-1']);
  const fails = failures(out);
  assert.deepEqual(fails.map((f) => [f.item, f.code]), [['ids.jsonl:2', 'RECORD_INVALID'], ['ids.jsonl:3', 'RECORD_INVALID']]);
  for (const f of fails) assert.match(f.reason, /control characters/);
});
