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
  explain: Type.Optional(
    Type.Object(
      {
        dense_rank: Type.Optional(Type.Integer({ description: 'rank (1-based) in the dense coarse-to-fine branch' })),
        lexical_rank: Type.Optional(Type.Integer({ description: 'rank (1-based) in the lexical (BM25) branch' })),
        matched_terms: Type.Optional(Type.Array(Type.String(), { description: 'analysed query terms found in the hit' })),
        highlights: Type.Optional(
          Type.Object({ title: Type.Optional(Type.Array(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }))) }, { description: '[start, end) UTF-16 offsets of matched words in payload.title' }),
        ),
      },
      { description: 'why the hit matched' },
    ),
  ),
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
      mode: Type.Optional(
        stringEnum(['hybrid', 'dense', 'lexical'], {
          description: 'retrieval: dense vectors, BM25 lexical vectors, or both fused (RRF/DBSF); default hybrid for text, dense for image and point queries',
        }),
      ),
      lang: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$', description: 'language of the text query for the lexical analyser; default: detected by script, else LEXICAL_DEFAULT_LANG' })),
      fusion: Type.Optional(stringEnum(['rrf', 'dbsf'], { description: 'how hybrid fuses its branches; default HYBRID_FUSION' })),
      explain: Type.Optional(Type.Boolean({ default: true, description: 'give each hit its rank per branch and matched terms' })),
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
      retrieval: Type.Optional(stringEnum(['hybrid', 'dense', 'lexical'], { description: 'the retrieval that ran' })),
      fusion: Type.Optional(Type.String()),
      lang: Type.Optional(Type.String({ description: 'the language the text was analysed as' })),
      terms: Type.Optional(Type.Array(Type.String(), { description: 'the analysed query terms' })),
      fallback: Type.Optional(Type.String({ description: 'why hybrid ran as dense' })),
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
        product: Type.Optional(
          Type.Object(
            {
              image: Type.Optional(Type.String({ description: 'thumbnail URL of one of its images' })),
              title: Type.Optional(Type.String({ description: "in the query's language where the product has it, else English, else any" })),
              lang: Type.Optional(Type.String()),
              brand: Type.Optional(Type.String()),
              sku: Type.Optional(Type.String()),
              price: Type.Optional(Type.Number()),
              highlights: Type.Optional(Type.Array(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }))),
            },
            { description: 'what a shop shows for the product' },
          ),
        ),
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
