/**
 * The search filter clients write, and its translation to a Qdrant filter.
 *
 * The public form is deliberately small so it can be documented in one table and validated by
 * schema; clients never send raw Qdrant filters, which would let them probe any payload key and
 * tie the API to one store's syntax.
 *
 *   { "lang": "de" | ["de", "en"],
 *     "product_id": "p-1" | ["p-1", "p-2"],
 *     "fields": { "brand": "acme",                    exact keyword / number / boolean
 *                 "colour": ["red", "blue"],          keyword set (any of)
 *                 "size": { "except": ["XS"] },       keyword set (none of; points without the field pass)
 *                 "price": { "gte": 10, "lt": 50 } }, numeric range
 *     "not": { …the same keys… } }                    every condition here excludes
 *
 * `fields.<name>` addresses the record's own fields, stored under payload `fields`.
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { Type, type Static } from 'typebox';
import { ClipstreamError } from '../../shared/errors.ts';

/** Field names are plain identifiers (dots for nesting), so a filter can only reach `fields.*`. */
export const FIELD_NAME = '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$';
const FIELD_NAME_RE = new RegExp(FIELD_NAME);
const MAX_SET = 256;

const keyword = Type.String({ minLength: 1, maxLength: 256 });
const keywordOrList = (description: string) => Type.Union([keyword, Type.Array(keyword, { minItems: 1, maxItems: MAX_SET })], { description });

export type Scalar = string | number | boolean;
const setItems = (description?: string) =>
  Type.Array(Type.Unsafe<string | number>({ type: ['string', 'number'] }), { minItems: 1, maxItems: MAX_SET, ...(description ? { description } : {}) });

const rangeCondition = Type.Object(
  { gt: Type.Optional(Type.Number()), gte: Type.Optional(Type.Number()), lt: Type.Optional(Type.Number()), lte: Type.Optional(Type.Number()) },
  { description: 'numeric range', additionalProperties: false, minProperties: 1 },
);
const setCondition = Type.Object(
  { any: Type.Optional(setItems()), except: Type.Optional(setItems()) },
  { description: 'keyword set: any of / none of', additionalProperties: false, minProperties: 1 },
);
const fieldCondition = Type.Union([
  Type.Unsafe<Scalar>({ type: ['string', 'number', 'boolean'], description: 'exact match' }),
  setItems('keyword set: any of'),
  rangeCondition,
  setCondition,
]);
export type RangeCondition = Static<typeof rangeCondition>;
export type FieldCondition = Static<typeof fieldCondition>;

const conditions = {
  lang: Type.Optional(keywordOrList('language code(s) of text items, e.g. "de" or ["de","en"]')),
  product_id: Type.Optional(keywordOrList('product id(s)')),
  // Keys are field names checked by pattern (propertyNames), which a Record type would not express.
  fields: Type.Optional(
    Type.Unsafe<Record<string, FieldCondition>>({
      type: 'object',
      description: "the record's own fields (payload `fields`): exact value, list (any of), {any|except: [...]}, or {gt|gte|lt|lte: n}",
      propertyNames: { pattern: FIELD_NAME, maxLength: 128 },
      additionalProperties: fieldCondition,
      maxProperties: 32,
    }),
  ),
};
const filterConditions = Type.Object(conditions, { additionalProperties: false });

/** JSON schema of `SearchFilter`, used for validation and the OpenAPI document. */
export const searchFilterSchema = Type.Object(
  { ...conditions, not: Type.Optional(filterConditions) },
  { description: 'Conditions all of which must hold; `not` holds conditions any of which excludes a point.', additionalProperties: false },
);
export type FilterConditions = Static<typeof filterConditions>;
export type SearchFilter = Static<typeof searchFilterSchema>;

export const MODALITIES = ['image', 'text', 'any'] as const;
export type Modality = (typeof MODALITIES)[number];
export type QdrantFilter = Schemas['Filter'];
type QdrantCondition = Schemas['Condition'];

function isRange(c: object): c is RangeCondition {
  return ['gt', 'gte', 'lt', 'lte'].some((k) => k in c);
}

function keywordCondition(key: string, value: string | string[]): QdrantCondition {
  return Array.isArray(value) ? { key, match: { any: value } } : { key, match: { value } };
}

/** Qdrant's `match.any` needs one element type; a mixed list would never match as the client meant. */
function homogeneous(key: string, values: Array<string | number>): string[] | number[] {
  const strings = values.every((v) => typeof v === 'string');
  const integers = values.every((v) => typeof v === 'number' && Number.isInteger(v));
  if (!strings && !integers) {
    throw new ClipstreamError('BAD_REQUEST', 'a keyword set must hold only strings or only integers', { item: `filter ${key}` });
  }
  return values as string[] | number[];
}

function fieldConditions(name: string, condition: FieldCondition): { must: QdrantCondition[]; mustNot: QdrantCondition[] } {
  if (!FIELD_NAME_RE.test(name)) {
    throw new ClipstreamError('BAD_REQUEST', 'field names are letters, digits, "_", "-" and dots', { item: `filter fields.${name}` });
  }
  const key = `fields.${name}`;
  if (Array.isArray(condition)) return { must: [{ key, match: { any: homogeneous(key, condition) } }], mustNot: [] };
  if (typeof condition === 'object' && condition !== null) {
    if (isRange(condition)) {
      const range: RangeCondition = {};
      for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (condition[k] !== undefined) range[k] = condition[k];
      return { must: [{ key, range }], mustNot: [] };
    }
    const must: QdrantCondition[] = [];
    const mustNot: QdrantCondition[] = [];
    if (condition.any) must.push({ key, match: { any: homogeneous(key, condition.any) } });
    if (condition.except) mustNot.push({ key, match: { any: homogeneous(key, condition.except) } });
    if (must.length + mustNot.length === 0) throw new ClipstreamError('BAD_REQUEST', 'empty condition', { item: `filter ${key}` });
    return { must, mustNot };
  }
  if (typeof condition === 'number' && !Number.isInteger(condition)) {
    // Exact match on a float is almost never what a shopper means; a range says it honestly.
    return { must: [{ key, range: { gte: condition, lte: condition } }], mustNot: [] };
  }
  return { must: [{ key, match: { value: condition } }], mustNot: [] };
}

function translateConditions(c: FilterConditions): { must: QdrantCondition[]; mustNot: QdrantCondition[] } {
  const must: QdrantCondition[] = [];
  const mustNot: QdrantCondition[] = [];
  if (c.lang !== undefined) must.push(keywordCondition('lang', c.lang));
  if (c.product_id !== undefined) must.push(keywordCondition('product_id', c.product_id));
  for (const [name, condition] of Object.entries(c.fields ?? {})) {
    const t = fieldConditions(name, condition);
    must.push(...t.must);
    mustNot.push(...t.mustNot);
  }
  return { must, mustNot };
}

export interface FilterContext {
  modality?: Modality;
  /** Point ids never to return (the query point of a "more like this" search). */
  excludeIds?: string[];
}

/** Translates the public filter (plus modality and exclusions) to a Qdrant filter; undefined when nothing filters. */
export function toQdrantFilter(filter: SearchFilter | undefined, context: FilterContext = {}): QdrantFilter | undefined {
  const must: QdrantCondition[] = [];
  const mustNot: QdrantCondition[] = [];
  if (context.modality && context.modality !== 'any') must.push({ key: 'modality', match: { value: context.modality } });
  if (filter) {
    const positive = translateConditions(filter);
    must.push(...positive.must);
    mustNot.push(...positive.mustNot);
    if (filter.not) {
      // Every condition under `not` excludes on its own: NOT (a OR b) == must_not [a, b].
      const negative = translateConditions(filter.not);
      mustNot.push(...negative.must);
      // A "none of" inside `not` means "must be one of"; double negation kept explicit.
      must.push(...negative.mustNot);
    }
  }
  if (context.excludeIds?.length) mustNot.push({ has_id: context.excludeIds });
  if (must.length === 0 && mustNot.length === 0) return undefined;
  const out: QdrantFilter = {};
  if (must.length) out.must = must;
  if (mustNot.length) out.must_not = mustNot;
  return out;
}
