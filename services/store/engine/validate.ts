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
// Dense vectors may arrive as Float32Arrays (see json-body.ts); the schemas' "array of numbers"
// is checked by one keyword that accepts both forms.
ajv.addKeyword({
  keyword: 'denseVector',
  schemaType: 'boolean',
  errors: false,
  validate: (_schema: boolean, data: unknown) => data instanceof Float32Array || (Array.isArray(data) && data.every((x) => typeof x === 'number')),
});
ajv.addSchema(withDenseVectors(schemas) as typeof schemas);

function withDenseVectors(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withDenseVectors);
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const items = o.items as Record<string, unknown> | undefined;
  if (o.type === 'array' && items && items.type === 'number' && Object.keys(items).length === 1) {
    const { type: _t, items: _i, ...rest } = o;
    return { ...rest, denseVector: true };
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, withDenseVectors(v)]));
}

const compiled = new Map<string, ValidateFunction>();
const RANGE_KEYWORDS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems']);

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
  const message = best.keyword === 'denseVector' ? 'must be an array of numbers' : (best.message ?? 'invalid value');
  return new StoreError(400, `Format error in JSON body: ${field}: ${message}`);
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
