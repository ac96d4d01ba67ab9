/** Small TypeBox helpers that keep the JSON Schema exactly as Ajv and the OpenAPI document expect it. */
import { Type, type TUnsafe } from 'typebox';

/** `{ type: 'string', enum: [...] }` typed as the union of its values (Type.Enum leaves out `type`). */
export function stringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}
