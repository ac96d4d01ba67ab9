/**
 * The HTTP contract, declared once in TypeBox: Fastify validates requests against these schemas
 * (with the service's Ajv), the OpenAPI document is generated from them, and the type provider
 * gives handlers request types inferred from the very same schemas, so the docs, the checks and
 * the code cannot drift apart.
 */
import { Type, type Static } from 'typebox';
import { MODALITIES, searchFilterSchema } from './filter.ts';
import { stringEnum } from './schema-types.ts';

export interface SchemaLimits {
  maxLimit: number;
  maxStageCandidates: number;
  maxGroupSize: number;
}

const uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) });

export const errorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'stable cause, e.g. BAD_REQUEST, TEXT_TOO_LONG, STORE_UNAVAILABLE' }),
    status: Type.Integer(),
    message: Type.String({ description: 'what was wrong and why' }),
  }),
});

const payloadSchema = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  additionalProperties: true,
  description: 'the point payload: modality, source, product_id, lang, title, text, model, fields, …',
});

export const hitSchema = Type.Object({
  id: Type.String(),
  score: Type.Number({ description: 'cosine similarity at the final (1024-d) stage' }),
  payload: Type.Optional(payloadSchema),
  thumbnail: Type.Optional(Type.String({ description: 'service URL of a thumbnail (image points only)' })),
});

export function searchBodySchema(limits: SchemaLimits) {
  return Type.Object(
    {
      text: Type.Optional(Type.String({ minLength: 1, description: 'query in any language; the retrieval-query prefix is applied' })),
      image: Type.Optional(
        Type.Object(
          { base64: Type.Optional(Type.String({ minLength: 1 })), url: Type.Optional(Type.String({ format: 'uri' })) },
          {
            description: 'a query image: base64 bytes, or a URL (fetched only from allow-listed hosts)',
            additionalProperties: false,
            minProperties: 1,
            maxProperties: 1,
          },
        ),
      ),
      point_id: Type.Optional(uuid('"more like this": the stored point\'s vectors are the query; the point itself is excluded')),
      modality: Type.Optional(stringEnum(MODALITIES, { default: 'any', description: 'which points to return' })),
      filter: Type.Optional(searchFilterSchema),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.maxLimit, default: 10, description: 'hits (or groups) to return' })),
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.maxLimit - 1, default: 0, description: 'hits to skip; offset + limit ≤ QUERY_MAX_LIMIT' })),
      group_by: Type.Optional(stringEnum(['product'], { description: 'group hits by product_id' })),
      group_size: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.maxGroupSize, default: 3, description: 'hits per group' })),
      stages: Type.Optional(
        Type.Array(Type.Integer({ minimum: 1, maximum: limits.maxStageCandidates }), {
          minItems: 1,
          maxItems: 8,
          description:
            'candidates kept by each coarse stage, smallest dim first ([L1, L2] for 64/256/1024, L1 ≥ L2 ≥ limit + offset); ' +
            'default: the calibrated limits (DATA_DIR/calibration.json) or the built-in [400, 100]',
        }),
      ),
      exact: Type.Optional(Type.Boolean({ default: false, description: 'skip the coarse stages: exact full-dimension search (slow; for checks)' })),
      with_payload: Type.Optional(Type.Boolean({ default: true })),
    },
    {
      description:
        'Exactly one of `text`, `image` (or a multipart file field `image`) or `point_id`. ' +
        'Multipart requests carry the other parameters as form fields (filter and stages as JSON text).',
      additionalProperties: false,
    },
  );
}

/** A search request as validated (defaults filled in by the validator are still optional here). */
export type SearchRequest = Static<ReturnType<typeof searchBodySchema>>;

export const searchResponseSchema = Type.Object({
  query: Type.Optional(
    Type.Object({
      kind: Type.Optional(stringEnum(['text', 'image', 'point'])),
      modality: Type.Optional(Type.String()),
      cached: Type.Optional(Type.Boolean({ description: 'the query embedding came from the cache' })),
      mode: Type.Optional(stringEnum(['coarse_to_fine', 'exact'])),
    }),
  ),
  model: Type.Optional(Type.String()),
  stages: Type.Optional(
    Type.Object({
      dims: Type.Optional(Type.Array(Type.Integer())),
      limits: Type.Optional(Type.Array(Type.Integer(), { description: 'candidates per stage; the last is limit + offset' })),
      source: Type.Optional(stringEnum(['request', 'calibration', 'default'])),
    }),
  ),
  hits: Type.Optional(Type.Array(hitSchema)),
  groups: Type.Optional(
    Type.Array(
      Type.Object({
        product_id: Type.Optional(Type.Unsafe<string | number>({ type: ['string', 'number'] })),
        hits: Type.Optional(Type.Array(hitSchema)),
      }),
    ),
  ),
  timings: Type.Optional(
    Type.Object({
      encode_ms: Type.Optional(Type.Number()),
      search_ms: Type.Optional(Type.Number()),
      total_ms: Type.Optional(Type.Number()),
    }),
  ),
});

export const itemResponseSchema = Type.Object({
  id: Type.Optional(Type.String()),
  payload: Type.Optional(payloadSchema),
  thumbnail: Type.Optional(Type.String()),
});

export const itemParamsSchema = Type.Object({ id: uuid() });

export const thumbnailQuerySchema = Type.Object(
  { size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1024, default: 256 })) },
  { additionalProperties: false },
);
