import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLine, firstInvalidUtf8Offset, splitLines, type RawLine } from '../../shared/sources/lines.ts';

async function split(chunks: (string | Buffer | Uint8Array)[], max = 100): Promise<RawLine[]> {
  const source = (async function* () {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  })();
  const out: RawLine[] = [];
  for await (const l of splitLines(source, max)) out.push(l);
  return out;
}

const show = (ls: RawLine[]) => ls.map((l) => (l.oversize ? { lineNo: l.lineNo, oversize: l.length } : { lineNo: l.lineNo, text: l.bytes.toString('latin1') }));

test('splitLines numbers lines from 1, strips LF and CRLF, keeps empty lines and a last line without newline', async () => {
  assert.deepEqual(show(await split(['a\r\n\nb\r\r\nc'])), [
    { lineNo: 1, text: 'a' },
    { lineNo: 2, text: '' },
    { lineNo: 3, text: 'b\r' }, // only the one CR before LF belongs to the line ending
    { lineNo: 4, text: 'c' },
  ]);
  assert.deepEqual(show(await split(['x\n'])), [{ lineNo: 1, text: 'x' }], 'a trailing newline adds no empty line');
  assert.deepEqual(show(await split([])), []);
  assert.deepEqual(show(await split(['', ''])), [], 'empty chunks yield nothing');
  assert.deepEqual(show(await split(['\r'])), [{ lineNo: 1, text: '' }], 'a lone CR at the end is a line ending');
  assert.deepEqual(show(await split(['a\rb\n'])), [{ lineNo: 1, text: 'a\rb' }], 'a CR inside a line is content');
});

test('splitLines joins a line split over many chunks, including a CR and LF in different chunks', async () => {
  assert.deepEqual(show(await split(['ab', 'c', 'd\r', '\nef', 'g', '\n', 'h'])), [
    { lineNo: 1, text: 'abcd' },
    { lineNo: 2, text: 'efg' },
    { lineNo: 3, text: 'h' },
  ]);
  // A Uint8Array view into a larger buffer: only the viewed bytes count.
  const backing = Buffer.from('XXXline one\nline twoYYY');
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, backing.length - 6);
  assert.deepEqual(show(await split([view])), [{ lineNo: 1, text: 'line one' }, { lineNo: 2, text: 'line two' }]);
});

test('splitLines reports oversize lines with their full length and number, and recovers on the next line', async () => {
  // Exactly at the limit is fine; one byte over is oversize, whether it arrives in one chunk or many.
  assert.deepEqual(show(await split(['12345\n123456\nok\n'], 5)), [
    { lineNo: 1, text: '12345' },
    { lineNo: 2, oversize: 6 },
    { lineNo: 3, text: 'ok' },
  ]);
  assert.deepEqual(show(await split(['123', '45', '\n', '123', '4', '56', '789', '\nok'], 5)), [
    { lineNo: 1, text: '12345' },
    { lineNo: 2, oversize: 9 },
    { lineNo: 3, text: 'ok' },
  ]);
  // Oversize last line without newline, and one whose overflow comes only with the newline's chunk.
  assert.deepEqual(show(await split(['ok\n', '1234', '5678'], 5)), [{ lineNo: 1, text: 'ok' }, { lineNo: 2, oversize: 8 }]);
  assert.deepEqual(show(await split(['1234', '56\nz'], 5)), [{ lineNo: 1, oversize: 6 }, { lineNo: 2, text: 'z' }]);
  // The CR of a CRLF counts towards the limit (the limit is on the bytes read).
  assert.deepEqual(show(await split(['12345\r\n'], 5)), [{ lineNo: 1, oversize: 6 }]);
  // A very long line: many chunks, discarded, then normal lines continue.
  const big = Array.from({ length: 200 }, () => 'y'.repeat(1000));
  assert.deepEqual(show(await split(['a\n', ...big, '\nb\n'], 4096)), [
    { lineNo: 1, text: 'a' },
    { lineNo: 2, oversize: 200_000 },
    { lineNo: 3, text: 'b' },
  ]);
});

test('decodeLine: strict UTF-8, a BOM dropped on line 1 only', () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]);
  assert.equal(decodeLine({ lineNo: 1, bytes: bom }), 'hi');
  assert.equal(decodeLine({ lineNo: 2, bytes: bom }), '\ufeffhi');
  assert.equal(decodeLine({ lineNo: 1, bytes: Buffer.from('héllo ✓ 😀') }), 'héllo ✓ 😀');
  assert.equal(decodeLine({ lineNo: 1, bytes: Buffer.alloc(0) }), '');
  assert.equal(decodeLine({ lineNo: 1, bytes: Buffer.from([0x61, 0xff]) }), undefined);
  assert.equal(decodeLine({ lineNo: 3, bytes: Buffer.from([0xc3]) }), undefined, 'a truncated sequence is invalid');
});

test('firstInvalidUtf8Offset finds the first bad sequence and accepts every valid form', () => {
  const at = (...bytes: number[]) => firstInvalidUtf8Offset(Uint8Array.from(bytes));
  assert.equal(at(), -1);
  assert.equal(firstInvalidUtf8Offset(Buffer.from('ascii, é, ✓, 😀, \u{10ffff}, \u07ff, \u0800, \uffff, \u{10000}')), -1);
  assert.equal(at(0x00, 0x7f), -1);
  // Lead bytes that can never start a sequence.
  assert.equal(at(0x61, 0x80), 1, 'continuation byte alone');
  assert.equal(at(0x61, 0xbf), 1);
  assert.equal(at(0xc0, 0x80), 0, 'C0 is always overlong');
  assert.equal(at(0xc1, 0xbf), 0, 'C1 is always overlong');
  assert.equal(at(0xf5, 0x80, 0x80, 0x80), 0, 'F5 and above start no valid sequence');
  assert.equal(at(0xff), 0);
  // Boundary lead bytes that are valid.
  assert.equal(at(0xc2, 0x80), -1);
  assert.equal(at(0xdf, 0xbf), -1);
  assert.equal(at(0xe0, 0xa0, 0x80), -1);
  assert.equal(at(0xef, 0xbf, 0xbf), -1);
  assert.equal(at(0xf0, 0x90, 0x80, 0x80), -1);
  assert.equal(at(0xf4, 0x8f, 0xbf, 0xbf), -1, 'U+10FFFF');
  // Truncated at the end of the line, by one byte and by more.
  assert.equal(at(0x61, 0x62, 0xc3), 2);
  assert.equal(at(0x61, 0xe2, 0x9c), 1);
  assert.equal(at(0xf0, 0x9f, 0x98), 0);
  assert.equal(at(0xf0), 0);
  // A bad continuation byte in each position.
  assert.equal(at(0x61, 0xc3, 0x41), 1);
  assert.equal(at(0xe2, 0x41, 0x9c), 0);
  assert.equal(at(0xe2, 0x9c, 0xc0), 0);
  assert.equal(at(0xf0, 0x9f, 0x98, 0x41), 0);
  // Overlong, surrogate and out-of-range code points.
  assert.equal(at(0xe0, 0x9f, 0xbf), 0, 'overlong 3-byte U+07FF');
  assert.equal(at(0xf0, 0x8f, 0xbf, 0xbf), 0, 'overlong 4-byte U+FFFF');
  assert.equal(at(0xed, 0xa0, 0x80), 0, 'U+D800');
  assert.equal(at(0xed, 0xbf, 0xbf), 0, 'U+DFFF');
  assert.equal(at(0xed, 0x9f, 0xbf), -1, 'U+D7FF is fine');
  assert.equal(at(0xee, 0x80, 0x80), -1, 'U+E000 is fine');
  assert.equal(at(0xf4, 0x90, 0x80, 0x80), 0, 'past U+10FFFF');
  // The offset is of the first bad sequence, after valid multi-byte ones.
  assert.equal(at(0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80, 0x61, 0xff, 0xff), 10);
  // Agrees with the strict decoder on the lines it rejects.
  for (const bytes of [[0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0xbc], [0xed, 0xa0, 0x80]]) {
    assert.equal(decodeLine({ lineNo: 2, bytes: Buffer.from(bytes) }), undefined);
    assert.equal(firstInvalidUtf8Offset(Uint8Array.from(bytes)), 0);
  }
});
