/**
 * Text records from JSONL/NDJSON and CSV, streamed line by line from a local file or an S3
 * object: memory stays bounded by the longest record, whatever the file size. A bad line is
 * reported (file, line, reason) and skipped; every good record around it still comes through,
 * in file order.
 *
 * Record shape (field names configurable):
 * - `id` (string or integer; trimmed) — required; the point is `record:<dataset>/<id>`.
 * - text: the `text` field if it is a non-empty string; otherwise the non-empty string values
 *   of `title` and `description`, joined with a newline. Neither → TEXT_EMPTY. The text is
 *   trimmed. `title`/`description` stay in `fields` either way (the search page shows them).
 * - `lang`, `product_id` (optional; empty CSV cells count as absent).
 * - every other field → `fields`, as is (CSV values are strings).
 * - version = SHA-256 of the canonical JSON (sorted keys) of {text, lang, product_id, fields},
 *   so an edit to any of them re-encodes the record and nothing else does.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { ClipstreamError } from '../errors.ts';
import { decodeLine, firstInvalidUtf8Offset, splitLines, type RawLine } from './lines.ts';
import { fail, toTextRecord, type RecordOutcome, type Settings } from './record-fields.ts';
import { readCsv } from './records-csv.ts';
import { recordFormatOf, type RecordFormat } from './keys.ts';

export type { RecordOutcome } from './record-fields.ts';

export interface RecordReaderOptions {
  /** Dataset name in `record:<dataset>/<id>`. Default: the file's base name without extension. */
  dataset?: string | undefined;
  /** Default: from the file extension (.jsonl/.ndjson → jsonl, .csv → csv). */
  format?: RecordFormat | undefined;
  idField?: string | undefined;
  textField?: string | undefined;
  /** Joined (newline) into the text when the text field is missing or empty. */
  textFallbackFields?: readonly string[] | undefined;
  langField?: string | undefined;
  productIdField?: string | undefined;
  /** Texts longer than this (UTF-8 bytes) are reported as TEXT_TOO_LONG instead of yielded. */
  maxTextBytes?: number | undefined;
  /** A line (CSV: a record) longer than this is reported and skipped without being buffered whole. */
  maxLineBytes?: number | undefined;
  /** CSV field delimiter (one character). */
  csvDelimiter?: string | undefined;
  /** CSV: a quoted field still open after this many lines is treated as an unterminated quote. */
  maxRecordLines?: number | undefined;
}

/** The bytes to read and the name used in failure messages (a path or an `s3://` URI). */
export interface RecordSource {
  name: string;
  body: AsyncIterable<Uint8Array>;
}

export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

/** `catalogue.fr.jsonl` → `catalogue.fr`; characters a record URI cannot hold (`/`, spaces) → `-`. */
export function datasetFromName(name: string): string {
  const base = path.posix.basename(name.replace(/\\/g, '/'));
  const ext = path.posix.extname(base);
  const stem = ext && recordFormatOf(base) ? base.slice(0, -ext.length) : base;
  return stem.replace(/[\s/]+/g, '-') || 'records';
}

function settingsFor(name: string, o: RecordReaderOptions): Settings {
  const dataset = o.dataset ?? datasetFromName(name);
  if (dataset === '' || /[\s/]/.test(dataset)) {
    throw new ClipstreamError('BAD_REQUEST', `dataset name ${JSON.stringify(dataset)} must be non-empty without '/' or whitespace`, {
      item: name,
    });
  }
  const csvDelimiter = o.csvDelimiter ?? ',';
  if (csvDelimiter.length !== 1 || csvDelimiter === '"' || csvDelimiter === '\n') {
    throw new ClipstreamError('BAD_REQUEST', `CSV delimiter must be one character other than '"' and newline`, { item: name });
  }
  return {
    name,
    dataset,
    idField: o.idField ?? 'id',
    textField: o.textField ?? 'text',
    textFallbackFields: o.textFallbackFields ?? ['title', 'description'],
    langField: o.langField ?? 'lang',
    productIdField: o.productIdField ?? 'product_id',
    maxTextBytes: o.maxTextBytes ?? Number.POSITIVE_INFINITY,
    maxLineBytes: o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    csvDelimiter,
    maxRecordLines: o.maxRecordLines ?? 1000,
  };
}

/** Records of one source, in file order. Throws only for a bad option or a failing stream. */
export async function* readRecords(source: RecordSource, options: RecordReaderOptions = {}): AsyncGenerator<RecordOutcome> {
  const format = options.format ?? recordFormatOf(source.name);
  if (!format) {
    throw new ClipstreamError('BAD_REQUEST', 'unknown records format (expected .jsonl, .ndjson or .csv, or pass format)', {
      item: source.name,
    });
  }
  const s = settingsFor(source.name, options);
  const lines = splitLines(source.body, s.maxLineBytes);
  yield* format === 'csv' ? readCsv(lines, s) : readJsonl(lines, s);
}

/** Records of a local file, streamed. A missing file is SOURCE_NOT_FOUND. */
export async function* readRecordsFile(file: string, options: RecordReaderOptions = {}): AsyncGenerator<RecordOutcome> {
  const stream = createReadStream(file);
  try {
    yield* readRecords({ name: file, body: withFileErrors(stream, file) }, options);
  } finally {
    stream.destroy();
  }
}

async function* withFileErrors(stream: AsyncIterable<Buffer>, file: string): AsyncGenerator<Buffer> {
  try {
    yield* stream;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ClipstreamError('SOURCE_NOT_FOUND', 'no such file', { item: file, cause: err });
    throw new ClipstreamError('SOURCE_UNREACHABLE', `cannot read: ${(err as Error).message}`, { item: file, cause: err });
  }
}

// ─── JSONL ──────────────────────────────────────────────────────────────────────────────────

async function* readJsonl(lines: AsyncIterable<RawLine>, s: Settings): AsyncGenerator<RecordOutcome> {
  for await (const line of lines) {
    const where = `${s.name}:${line.lineNo}`;
    if (line.oversize) {
      yield fail(where, 'RECORD_INVALID', `line is ${line.length} bytes, over the ${s.maxLineBytes}-byte limit`);
      continue;
    }
    const text = decodeLine(line);
    if (text === undefined) {
      yield fail(where, 'TEXT_INVALID_UTF8', `invalid UTF-8 at byte ${firstInvalidUtf8Offset(line.bytes)} of the line`);
      continue;
    }
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield fail(where, 'RECORD_INVALID', `malformed JSON: ${(err as Error).message}`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield fail(where, 'RECORD_INVALID', `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
      continue;
    }
    yield toTextRecord(value as Record<string, unknown>, line.lineNo, s);
  }
}
