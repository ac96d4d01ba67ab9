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
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { parse as createCsvParser, type Options as CsvOptions } from 'csv-parse';
import type { ItemFailure, TextRecord } from '../catalogue/types.ts';
import { ClipstreamError, type ErrorCode } from '../errors.ts';
import { decodeLine, firstInvalidUtf8Offset, splitLines, type RawLine } from './lines.ts';
import { recordFormatOf, type RecordFormat } from './keys.ts';

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

/** One step of a records stream: a record (with its line) or a reported, skipped line. */
export type RecordOutcome = { record: TextRecord; line: number } | { failure: ItemFailure };

/** The bytes to read and the name used in failure messages (a path or an `s3://` URI). */
export interface RecordSource {
  name: string;
  body: AsyncIterable<Uint8Array>;
}

interface Settings {
  name: string;
  dataset: string;
  idField: string;
  textField: string;
  textFallbackFields: readonly string[];
  langField: string;
  productIdField: string;
  maxTextBytes: number;
  maxLineBytes: number;
  csvDelimiter: string;
  maxRecordLines: number;
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

// ─── CSV ────────────────────────────────────────────────────────────────────────────────────

/**
 * CSV is read in two layers. A small quote-aware scanner groups physical lines into records
 * (a quoted field may span lines) and rejects what would derail a streaming parser — an
 * invalid closing quote or a quote never closed — so one broken row costs one row, not the rest
 * of the file: an unclosed quote is reported on its line and reading resumes on the next line.
 * The records that pass are fed to csv-parse's streaming parser, which splits the fields
 * (escaped quotes, delimiters inside quotes, stray quotes inside unquoted fields — `12" screen`).
 * The first record is the header.
 */
async function* readCsv(source: AsyncIterable<RawLine>, s: Settings): AsyncGenerator<RecordOutcome> {
  const lines = new PushbackLines(source);
  // Slots keep outcomes in file order: csv-parse emits a record only once it sees the next bytes.
  const slots: Array<{ outcome?: RecordOutcome | 'header'; line: number; done: boolean }> = [];
  let header: string[] | undefined;
  let headerProblem: string | undefined;
  let headerWritten = false;

  const csvOptions: CsvOptions = {
    delimiter: s.csvDelimiter,
    record_delimiter: '\n',
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    bom: false,
    max_record_size: 0, // our own per-record byte limit already applies
    on_record: (fields: string[]) => {
      settle((slot) => {
        if (header === undefined) {
          headerProblem = checkHeader(fields, s);
          header = fields.map((f) => f.trim());
          return 'header';
        }
        if (fields.length !== header.length) {
          return fail(`${s.name}:${slot.line}`, 'RECORD_INVALID', `row has ${fields.length} fields, the header has ${header.length}`);
        }
        const obj: Record<string, unknown> = {};
        header.forEach((name, i) => (obj[name] = fields[i]));
        return toTextRecord(obj, slot.line, s);
      });
      return undefined;
    },
    on_skip: (err) => {
      settle((slot) => fail(`${s.name}:${slot.line}`, 'RECORD_INVALID', `bad CSV row: ${stripCsvLine(err?.message ?? 'unparseable')}`));
      return undefined;
    },
  };
  const parser = createCsvParser(csvOptions);
  let parserError: unknown;
  parser.on('error', (err) => (parserError = err));

  function settle(make: (slot: (typeof slots)[number]) => RecordOutcome | 'header'): void {
    const slot = slots.find((x) => !x.done);
    if (!slot) return;
    slot.outcome = make(slot);
    slot.done = true;
  }
  function* drain(): Generator<RecordOutcome> {
    while (slots.length > 0 && slots[0]!.done) {
      const { outcome } = slots.shift()!;
      if (outcome && outcome !== 'header') yield outcome;
    }
  }

  try {
    for (;;) {
      const first = await lines.next();
      if (!first) break;
      const record = await collectCsvRecord(first, lines, s);
      if (record === 'blank') continue;
      if ('failure' in record && !headerWritten) {
        headerProblem = `${record.failure.reason} (line ${first.lineNo})`;
        break;
      }
      if ('failure' in record) {
        slots.push({ outcome: record, line: first.lineNo, done: true });
      } else {
        slots.push({ line: first.lineNo, done: false });
        parser.write(record.text + '\n');
        headerWritten = true;
        if (parserError) throw parserError;
      }
      if (headerProblem !== undefined) break;
      yield* drain();
    }
    if (headerProblem === undefined) {
      await new Promise<void>((resolve) => parser.end(resolve));
      if (parserError) throw parserError;
    }
    if (headerProblem !== undefined) {
      // Without a usable header no row can be interpreted; one failure for the file beats one per row.
      slots.length = 0;
      yield fail(`${s.name}:1`, 'RECORD_INVALID', `bad CSV header: ${headerProblem}`);
      return;
    }
    for (const slot of slots) if (!slot.done) slot.done = true;
    yield* drain();
  } finally {
    parser.destroy();
  }
}

function checkHeader(fields: string[], s: Settings): string | undefined {
  const names = fields.map((f) => f.trim());
  if (names.some((n) => n === '')) return 'a column has an empty name';
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) return `column ${JSON.stringify(dup)} appears twice`;
  if (!names.includes(s.idField)) return `no ${JSON.stringify(s.idField)} column (columns: ${names.join(', ')})`;
  return undefined;
}

function stripCsvLine(message: string): string {
  return message.replace(/\s*(at|on) line \d+/g, '');
}

class PushbackLines {
  readonly #iterator: AsyncIterator<RawLine>;
  readonly #back: RawLine[] = [];
  constructor(source: AsyncIterable<RawLine>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }
  async next(): Promise<RawLine | undefined> {
    const back = this.#back.pop();
    if (back) return back;
    const r = await this.#iterator.next();
    return r.done ? undefined : r.value;
  }
  /** Lines to read again, in file order. */
  unread(lines: RawLine[]): void {
    for (let i = lines.length - 1; i >= 0; i--) this.#back.push(lines[i]!);
  }
}

interface QuoteState {
  inQuotes: boolean;
  atFieldStart: boolean;
}

/**
 * Advances the quote state over one physical line. Returns the column of an invalid closing
 * quote (a closing quote followed by something other than the delimiter or the line end).
 */
function scanCsvLine(text: string, state: QuoteState, delimiter: string): number | undefined {
  if (!state.inQuotes) state.atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state.inQuotes) {
      if (c !== '"') continue;
      if (text[i + 1] === '"') {
        i++;
        continue;
      }
      const after = text[i + 1];
      if (after !== undefined && after !== delimiter) return i;
      state.inQuotes = false;
      state.atFieldStart = false;
    } else if (c === delimiter) {
      state.atFieldStart = true;
    } else {
      if (c === '"' && state.atFieldStart) state.inQuotes = true;
      state.atFieldStart = false;
    }
  }
  return undefined;
}

async function collectCsvRecord(
  first: RawLine,
  lines: PushbackLines,
  s: Settings,
): Promise<'blank' | { text: string } | { failure: ItemFailure }> {
  const start = first.lineNo;
  const where = `${s.name}:${start}`;
  if (first.oversize) return fail(where, 'RECORD_INVALID', `line is ${first.length} bytes, over the ${s.maxLineBytes}-byte limit`);
  const state: QuoteState = { inQuotes: false, atFieldStart: true };
  const taken: RawLine[] = [first];
  const texts: string[] = [];
  let invalidUtf8: { line: number; offset: number } | undefined;
  let bytes = 0;
  let line: RawLine = first;
  for (;;) {
    if (line.oversize) break; // only reachable for continuation lines; handled as unclosed below
    let text = decodeLine(line);
    if (text === undefined) {
      invalidUtf8 ??= { line: line.lineNo, offset: firstInvalidUtf8Offset(line.bytes) };
      text = line.bytes.toString('utf8'); // lenient, only to keep finding the record's end
    }
    if (line === first && text.trim() === '' && invalidUtf8 === undefined) return 'blank';
    texts.push(text);
    bytes += line.bytes.length + 1;
    const badQuote = scanCsvLine(text, state, s.csvDelimiter);
    if (badQuote !== undefined) {
      if (taken.length > 1) lines.unread(taken.slice(1));
      // The quote opened on `start` is the likelier culprit; resuming after it recovers the rows in between.
      const found = `a quote is followed by ${JSON.stringify(text[badQuote + 1])}, not ${JSON.stringify(s.csvDelimiter)} or the line end`;
      return fail(
        where,
        'RECORD_INVALID',
        line.lineNo === start
          ? `bad CSV quoting: ${found.replace('a quote', 'a closing quote')}`
          : `bad CSV quoting: the quoted field opened on this line is not closed properly (on line ${line.lineNo} ${found})`,
      );
    }
    if (!state.inQuotes) break;
    if (taken.length >= s.maxRecordLines || bytes > s.maxLineBytes) break;
    const next = await lines.next();
    if (!next) break;
    taken.push(next);
    line = next;
    if (next.oversize) break;
  }
  if (state.inQuotes || line.oversize) {
    lines.unread(taken.slice(1));
    return fail(where, 'RECORD_INVALID', 'bad CSV quoting: the quoted field opened on this line is not closed before the end of the file');
  }
  if (invalidUtf8) {
    return fail(`${s.name}:${invalidUtf8.line}`, 'TEXT_INVALID_UTF8', `invalid UTF-8 at byte ${invalidUtf8.offset} of the line`);
  }
  return { text: texts.join('\n') };
}

// ─── records ────────────────────────────────────────────────────────────────────────────────

function fail(item: string, code: ErrorCode, reason: string, sourceUri?: string): { failure: ItemFailure } {
  return { failure: sourceUri ? { item, code, reason, sourceUri } : { item, code, reason } };
}

const CONTROL = /[\u0000-\u001f\u007f]/;

function idOf(value: unknown): string | { problem: string } {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? String(value) : { problem: `id ${value} is not an integer` };
  }
  if (typeof value !== 'string') return { problem: value === undefined || value === null ? 'missing' : `is a ${Array.isArray(value) ? 'array' : typeof value}` };
  const id = value.trim();
  if (id === '') return { problem: 'empty' };
  if (CONTROL.test(id)) return { problem: 'contains control characters' };
  return id;
}

/** Empty CSV cells and JSON nulls count as absent for the optional fields. */
function optionalString(value: unknown, name: string, allowNumber: boolean): string | undefined | { problem: string } {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && allowNumber && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return { problem: `${JSON.stringify(name)} must be a string, got ${Array.isArray(value) ? 'an array' : typeof value}` };
  const v = value.trim();
  return v === '' ? undefined : v;
}

function toTextRecord(obj: Record<string, unknown>, line: number, s: Settings): RecordOutcome {
  const where = `${s.name}:${line}`;
  const id = idOf(obj[s.idField]);
  if (typeof id !== 'string') return fail(where, 'RECORD_INVALID', `id field ${JSON.stringify(s.idField)} ${id.problem}`);
  const about = `record ${JSON.stringify(id)}: `;
  const sourceUri = `record:${s.dataset}/${id}`;
  // From here on the record is known: its failures name it, so a sync keeps its point.
  const failRecord = (code: ErrorCode, reason: string) => fail(where, code, about + reason, sourceUri);

  const rawText = obj[s.textField];
  if (rawText !== undefined && rawText !== null && typeof rawText !== 'string') {
    return failRecord('RECORD_INVALID', `${JSON.stringify(s.textField)} must be a string, got ${Array.isArray(rawText) ? 'an array' : typeof rawText}`);
  }
  let text = typeof rawText === 'string' ? rawText.trim() : '';
  if (text === '') {
    text = s.textFallbackFields
      .map((f) => obj[f])
      .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
      .map((v) => v.trim())
      .join('\n');
  }
  if (text === '') {
    const names = [s.textField, ...s.textFallbackFields].map((f) => JSON.stringify(f)).join(', ');
    return failRecord('TEXT_EMPTY', `no text: ${names} are all missing or empty`);
  }
  const textBytes = Buffer.byteLength(text, 'utf8');
  if (textBytes > s.maxTextBytes) {
    return failRecord('TEXT_TOO_LONG', `text is ${textBytes} bytes, over the ${s.maxTextBytes}-byte limit (TEXT_MAX_BYTES)`);
  }

  const lang = optionalString(obj[s.langField], s.langField, false);
  if (typeof lang === 'object') return failRecord('RECORD_INVALID', lang.problem);
  const productId = optionalString(obj[s.productIdField], s.productIdField, true);
  if (typeof productId === 'object') return failRecord('RECORD_INVALID', productId.problem);

  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === s.idField || k === s.textField || k === s.langField || k === s.productIdField) continue;
    fields[k] = v;
  }

  const record: TextRecord = {
    kind: 'text',
    sourceUri,
    version: recordVersion(text, lang, productId, fields),
    recordId: id,
    text,
    fields,
  };
  if (lang !== undefined) record.lang = lang;
  if (productId !== undefined) record.productId = productId;
  return { record, line };
}

/** SHA-256 (hex) of the canonical JSON of what the point is built from. */
export function recordVersion(text: string, lang: string | undefined, productId: string | undefined, fields: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson({ text, lang: lang ?? null, product_id: productId ?? null, fields }))
    .digest('hex');
}

/** JSON with object keys sorted at every depth, so equal values always serialise identically. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}
