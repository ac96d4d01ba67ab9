/**
 * The CSV records reader (see readCsv): a quote-aware line grouper in front of csv-parse, so one
 * broken row costs one row, not the rest of the file.
 */
import { parse as createCsvParser, type Options as CsvOptions } from 'csv-parse';
import type { ItemFailure } from '../catalogue/types.ts';
import { decodeLine, firstInvalidUtf8Offset, type RawLine } from './lines.ts';
import { fail, toTextRecord, type RecordOutcome, type Settings } from './record-fields.ts';

/**
 * CSV is read in two layers. A small quote-aware scanner groups physical lines into records
 * (a quoted field may span lines) and rejects what would derail a streaming parser — an
 * invalid closing quote or a quote never closed — so one broken row costs one row, not the rest
 * of the file: an unclosed quote is reported on its line and reading resumes on the next line.
 * The records that pass are fed to csv-parse's streaming parser, which splits the fields
 * (escaped quotes, delimiters inside quotes, stray quotes inside unquoted fields — `12" screen`).
 * The first record is the header.
 */
export async function* readCsv(source: AsyncIterable<RawLine>, s: Settings): AsyncGenerator<RecordOutcome> {
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
