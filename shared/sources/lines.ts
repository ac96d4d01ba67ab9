/**
 * Byte-level line splitting with strict UTF-8 decoding. node:readline decodes leniently
 * (invalid bytes silently become U+FFFD), which would index corrupted text as if it were fine;
 * splitting on 0x0A first and decoding each line with a fatal decoder lets the reader report
 * the exact line instead. 0x0A never occurs inside a multi-byte UTF-8 sequence, so splitting
 * before decoding is safe.
 */

export type RawLine =
  | { lineNo: number; bytes: Buffer; oversize?: undefined }
  /** The line exceeded the limit; its bytes were discarded (counted in `length`) to bound memory. */
  | { lineNo: number; oversize: true; length: number };

/** Lines of `source` (1-based numbers), without `\n` / `\r\n`. A final line without `\n` is included. */
export async function* splitLines(source: AsyncIterable<Uint8Array>, maxLineBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let partLength = 0;
  let discarding = false;
  let lineNo = 1;

  const finish = (last: Buffer): RawLine => {
    const length = partLength + last.length;
    if (discarding || length > maxLineBytes) return { lineNo, oversize: true, length };
    const bytes = parts.length === 0 ? last : Buffer.concat([...parts, last], length);
    return { lineNo, bytes: bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes };
  };

  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl === -1) {
        const rest = buf.subarray(start);
        partLength += rest.length;
        if (!discarding && partLength > maxLineBytes) {
          discarding = true;
          parts = [];
        }
        if (!discarding && rest.length > 0) parts.push(rest);
        break;
      }
      const line = finish(buf.subarray(start, nl));
      parts = [];
      partLength = 0;
      discarding = false;
      yield line;
      lineNo++;
      start = nl + 1;
    }
  }
  if (partLength > 0) yield finish(Buffer.alloc(0));
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes a line as UTF-8, or returns undefined if it is not valid UTF-8. A byte-order mark is
 * dropped on line 1 only (editors put it there; anywhere else it is content).
 */
export function decodeLine(line: { lineNo: number; bytes: Buffer }): string | undefined {
  let text: string;
  try {
    text = strict.decode(line.bytes);
  } catch {
    return undefined;
  }
  return line.lineNo === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Byte offset of the first invalid UTF-8 sequence in `bytes` (for the failure message), or -1. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= bytes.length) return i; // truncated sequence
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}
