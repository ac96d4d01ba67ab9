/**
 * Request-body validation against Qdrant's own schemas (qdrant-schemas.json, generated from the
 * OpenAPI document). Failures are reported the way Qdrant reports them: a shape error is
 * 400 "Format error in JSON body: …", a value out of its allowed range is
 * 422 "Validation error in JSON body: [field: …]"; both name the offending field.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { StoreError } from '../engine/errors.ts';

const require = createRequire(import.meta.url);
const schemas = require('./qdrant-schemas.json') as { $id: string; definitions: Record<string, unknown> };

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false, code: { optimize: true } });
ajv.addSchema(schemas);

const compiled = new Map<string, ValidateFunction>();
const RANGE_KEYWORDS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems']);

export type BodySchema = keyof typeof schemas.definitions & string;

function validator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const found = ajv.getSchema(`qdrant#/definitions/${name}`);
    if (!found) throw new Error(`no schema ${name} in qdrant-schemas.json`);
    compiled.set(name, (v = found));
  }
  return v;
}

/** Compiles every schema up front so the first request of each kind is not slowed down. */
export function warmUp(names: readonly string[]): void {
  for (const n of names) validator(n);
}

export function validateBody(name: string, body: unknown): void {
  const v = validator(name);
  if (v(body)) return;
  throw toStoreError(v.errors ?? [], name, body);
}

/** "/points/0/vector" → "points[0].vector" (Qdrant's field notation). */
function fieldName(instancePath: string): string {
  let out = '';
  for (const part of instancePath.split('/').slice(1)) {
    const p = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  }
  return out;
}

function toStoreError(errors: ErrorObject[], schemaName: string, body: unknown): StoreError {
  if (errors.length === 0) return new StoreError(400, `Format error in JSON body: does not match ${schemaName}`);
  // The deepest error is the most specific one; among equals, prefer a range violation.
  let best = errors[0]!;
  for (const e of errors) {
    const deeper = e.instancePath.length > best.instancePath.length;
    const sameDepthRange = e.instancePath.length === best.instancePath.length && RANGE_KEYWORDS.has(e.keyword) && !RANGE_KEYWORDS.has(best.keyword);
    if (deeper || sameDepthRange) best = e;
  }
  const field = fieldName(best.instancePath) || schemaName;
  if (RANGE_KEYWORDS.has(best.keyword)) {
    const value = valueAt(body, best.instancePath);
    if (best.keyword === 'minimum' && typeof value === 'number' && value < 0 && Number.isInteger(value) && (best.params as { limit: number }).limit >= 0) {
      // Qdrant's deserializer rejects a negative unsigned integer before validation runs.
      return new StoreError(400, `Format error in JSON body: ${field}: invalid value: integer \`${value}\`, expected an unsigned integer`);
    }
    return new StoreError(422, `Validation error in JSON body: [${field}: ${rangeMessage(best, value)}]`);
  }
  if (best.keyword === 'required') {
    const missing = (best.params as { missingProperty: string }).missingProperty;
    return new StoreError(400, `Format error in JSON body: ${field}: missing field \`${missing}\``);
  }
  if (best.keyword === 'additionalProperties') {
    const extra = (best.params as { additionalProperty: string }).additionalProperty;
    return new StoreError(400, `Format error in JSON body: ${field}: unknown field \`${extra}\``);
  }
  return new StoreError(400, `Format error in JSON body: ${field}: ${best.message ?? 'invalid value'}`);
}

function rangeMessage(e: ErrorObject, value: unknown): string {
  const limit = (e.params as { limit: number }).limit;
  switch (e.keyword) {
    case 'minimum':
      return `value ${JSON.stringify(value)} invalid, must be ${limit} or larger`;
    case 'maximum':
      return `value ${JSON.stringify(value)} invalid, must be ${limit} or smaller`;
    case 'minItems':
    case 'minLength':
      return `length must be at least ${limit}`;
    case 'maxItems':
    case 'maxLength':
      return `length must be at most ${limit}`;
    default:
      return e.message ?? 'invalid value';
  }
}

function valueAt(body: unknown, instancePath: string): unknown {
  let v = body;
  for (const part of instancePath.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}
