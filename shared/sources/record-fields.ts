/**
 * One parsed row (a JSON object or a CSV record with its header) becomes a TextRecord or a
 * failure naming the line and the reason: the id, text, lang and product id rules, the payload
 * fields and the record's version. Shared by the JSONL and the CSV readers.
 */
import { createHash } from 'node:crypto';
import type { ItemFailure, TextRecord } from '../catalogue/types.ts';
import type { ErrorCode } from '../errors.ts';

/** One step of a records stream: a record (with its line) or a reported, skipped line. */
export type RecordOutcome = { record: TextRecord; line: number } | { failure: ItemFailure };

/** The reader options resolved for one file. */
export interface Settings {
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

export function fail(item: string, code: ErrorCode, reason: string, sourceUri?: string): { failure: ItemFailure } {
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

export function toTextRecord(obj: Record<string, unknown>, line: number, s: Settings): RecordOutcome {
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
