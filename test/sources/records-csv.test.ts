import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRecords, type RecordOutcome, type RecordReaderOptions } from '../../shared/sources/records.ts';

async function read(name: string, content: string, options: RecordReaderOptions = {}): Promise<RecordOutcome[]> {
  const bytes = Buffer.from(content);
  const body = (async function* () {
    for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
  })();
  const out: RecordOutcome[] = [];
  for await (const x of readRecords({ name, body }, options)) out.push(x);
  return out;
}
const show = (xs: RecordOutcome[]) => xs.map((x) => ('record' in x ? [x.line, x.record.recordId, x.record.text] : [x.failure.item, x.failure.code, x.failure.reason]));

test('CSV with CRLF line ends: a quoted field across lines keeps LF only, and the header names are trimmed', async () => {
  const out = await read('crlf.csv', ' id , text \r\n1,"first\r\nsecond"\r\n2,plain\r\n');
  assert.deepEqual(show(out), [
    [2, '1', 'first\nsecond'],
    [4, '2', 'plain'],
  ]);
});

test('CSV: another delimiter splits fields and decides what may follow a closing quote', async () => {
  const out = await read('semi.csv', 'id;text\n1;"a; b, c"\n2;"quoted","not a field end"\n3;ok\n', { csvDelimiter: ';' });
  assert.deepEqual(show(out), [
    [2, '1', 'a; b, c'],
    ['semi.csv:3', 'RECORD_INVALID', 'bad CSV quoting: a closing quote is followed by ",", not ";" or the line end'],
    [4, '3', 'ok'],
  ]);
});

test('CSV: a quote opened on one line and broken on a later one fails its line; the lines in between are read again', async () => {
  const out = await read('open.csv', 'id,text\n1,"opened\n2,between\n3,b"c\n4,"x"\n');
  assert.deepEqual(show(out), [
    ['open.csv:2', 'RECORD_INVALID', 'bad CSV quoting: the quoted field opened on this line is not closed properly (on line 4 a quote is followed by "c", not "," or the line end)'],
    [3, '2', 'between'],
    [4, '3', 'b"c'],
    [5, '4', 'x'],
  ]);
});

test('CSV: a quoted field may span at most maxRecordLines lines; past that it is unclosed and reading resumes', async () => {
  const out = await read('span.csv', 'id,text\n1,"a\nb\nc"\n2,next\n', { maxRecordLines: 2 });
  // What follows is read again line by line: "b" and 'c"' are one-field rows, then row 2.
  assert.deepEqual(show(out), [
    ['span.csv:2', 'RECORD_INVALID', 'bad CSV quoting: the quoted field opened on this line is not closed before the end of the file'],
    ['span.csv:3', 'RECORD_INVALID', 'row has 1 fields, the header has 2'],
    ['span.csv:4', 'RECORD_INVALID', 'row has 1 fields, the header has 2'],
    [5, '2', 'next'],
  ]);
  const within = await read('span.csv', 'id,text\n1,"a\nb"\n2,next\n', { maxRecordLines: 2 });
  assert.deepEqual(show(within), [
    [2, '1', 'a\nb'],
    [4, '2', 'next'],
  ]);
});

test('CSV: whitespace-only lines are skipped; an oversize row fails alone', async () => {
  const out = await read('big.csv', `id,text\n   \n1,${'x'.repeat(80)}\n2,short\n`, { maxLineBytes: 40 });
  assert.deepEqual(show(out), [
    ['big.csv:3', 'RECORD_INVALID', 'line is 82 bytes, over the 40-byte limit'],
    [4, '2', 'short'],
  ]);
});

test('CSV header problems are one failure for the file, naming the problem', async () => {
  for (const [header, reason] of [
    ['id,text,', 'bad CSV header: a column has an empty name'],
    ['id, text,text', 'bad CSV header: column "text" appears twice'],
    ['sku , text', 'bad CSV header: no "id" column (columns: sku, text)'],
    ['id,"te"xt', 'bad CSV header: bad CSV quoting: a closing quote is followed by "x", not "," or the line end (line 1)'],
  ]) {
    const out = await read('h.csv', `${header}\n1,a\n2,b\n`);
    assert.deepEqual(show(out), [['h.csv:1', 'RECORD_INVALID', reason]], header);
  }
});
