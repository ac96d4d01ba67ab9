/**
 * How the contract's schemas are enforced: bodies strictly (no coercion, unknown keys refused, so
 * `"limit": "5"` is an error), URL parts — always text — coerced to the declared types. Defaults
 * are filled in, so handlers see `limit: 10` when the client sent none.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

export function schemaValidators() {
  const common = { allErrors: false, useDefaults: true, allowUnionTypes: true, strict: false } as const;
  const body = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const url = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  addFormats.default(body);
  addFormats.default(url);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : url).compile(schema);
}
