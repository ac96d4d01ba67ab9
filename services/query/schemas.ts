/**
 * The HTTP contract, declared once: Fastify validates requests against these schemas and the
 * OpenAPI document is generated from them, so the docs cannot drift from what is enforced.
 */
import { searchFilterSchema, type Modality, type SearchFilter } from './filter.ts';

export interface SearchRequest {
  text?: string;
  image?: { base64?: string; url?: string };
  point_id?: string;
  modality?: Modality;
  filter?: SearchFilter;
  limit?: number;
  offset?: number;
  group_by?: 'product';
  group_size?: number;
  /** Candidates kept by each coarse stage, smallest dim first: [L1, L2] for dims 64/256/1024. */
  stages?: number[];
  exact?: boolean;
  with_payload?: boolean;
}

export interface SchemaLimits {
  maxLimit: number;
  maxStageCandidates: number;
  maxGroupSize: number;
}

const uuid = { type: 'string', format: 'uuid' } as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'stable cause, e.g. BAD_REQUEST, TEXT_TOO_LONG, STORE_UNAVAILABLE' },
        status: { type: 'integer' },
        message: { type: 'string', description: 'what was wrong and why' },
      },
      required: ['code', 'status', 'message'],
    },
  },
  required: ['error'],
} as const;

const payloadSchema = {
  type: 'object',
  additionalProperties: true,
  description: 'the point payload: modality, source, product_id, lang, title, text, model, fields, …',
} as const;

export const hitSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    score: { type: 'number', description: 'cosine similarity at the final (1024-d) stage' },
    payload: payloadSchema,
    thumbnail: { type: 'string', description: 'service URL of a thumbnail (image points only)' },
  },
  required: ['id', 'score'],
} as const;

export function searchBodySchema(limits: SchemaLimits) {
  return {
    type: 'object',
    description:
      'Exactly one of `text`, `image` (or a multipart file field `image`) or `point_id`. ' +
      'Multipart requests carry the other parameters as form fields (filter and stages as JSON text).',
    properties: {
      text: { type: 'string', minLength: 1, description: 'query in any language; the retrieval-query prefix is applied' },
      image: {
        type: 'object',
        description: 'a query image: base64 bytes, or a URL (fetched only from allow-listed hosts)',
        properties: { base64: { type: 'string', minLength: 1 }, url: { type: 'string', format: 'uri' } },
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1,
      },
      point_id: { ...uuid, description: '"more like this": the stored point\'s vectors are the query; the point itself is excluded' },
      modality: { type: 'string', enum: ['image', 'text', 'any'], default: 'any', description: 'which points to return' },
      filter: searchFilterSchema,
      limit: { type: 'integer', minimum: 1, maximum: limits.maxLimit, default: 10, description: 'hits (or groups) to return' },
      offset: { type: 'integer', minimum: 0, maximum: limits.maxLimit - 1, default: 0, description: 'hits to skip; offset + limit ≤ QUERY_MAX_LIMIT' },
      group_by: { type: 'string', enum: ['product'], description: 'group hits by product_id' },
      group_size: { type: 'integer', minimum: 1, maximum: limits.maxGroupSize, default: 3, description: 'hits per group' },
      stages: {
        type: 'array',
        items: { type: 'integer', minimum: 1, maximum: limits.maxStageCandidates },
        minItems: 1,
        maxItems: 8,
        description:
          'candidates kept by each coarse stage, smallest dim first ([L1, L2] for 64/256/1024, L1 ≥ L2 ≥ limit + offset); ' +
          'default: the calibrated limits (DATA_DIR/calibration.json) or the built-in [400, 100]',
      },
      exact: { type: 'boolean', default: false, description: 'skip the coarse stages: exact full-dimension search (slow; for checks)' },
      with_payload: { type: 'boolean', default: true },
    },
    additionalProperties: false,
  } as const;
}

export const searchResponseSchema = {
  type: 'object',
  properties: {
    query: {
      type: 'object',
      properties: {
        kind: { type: 'string', enum: ['text', 'image', 'point'] },
        modality: { type: 'string' },
        cached: { type: 'boolean', description: 'the query embedding came from the cache' },
        mode: { type: 'string', enum: ['coarse_to_fine', 'exact'] },
      },
    },
    model: { type: 'string' },
    stages: {
      type: 'object',
      properties: {
        dims: { type: 'array', items: { type: 'integer' } },
        limits: { type: 'array', items: { type: 'integer' }, description: 'candidates per stage; the last is limit + offset' },
        source: { type: 'string', enum: ['request', 'calibration', 'default'] },
      },
    },
    hits: { type: 'array', items: hitSchema },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        properties: { product_id: { type: ['string', 'number'] }, hits: { type: 'array', items: hitSchema } },
      },
    },
    timings: {
      type: 'object',
      properties: {
        encode_ms: { type: 'number' },
        search_ms: { type: 'number' },
        total_ms: { type: 'number' },
      },
    },
  },
} as const;

export const itemResponseSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    payload: payloadSchema,
    thumbnail: { type: 'string' },
  },
} as const;

export const itemParamsSchema = {
  type: 'object',
  properties: { id: uuid },
  required: ['id'],
} as const;

export const thumbnailQuerySchema = {
  type: 'object',
  properties: { size: { type: 'integer', minimum: 16, maximum: 1024, default: 256 } },
  additionalProperties: false,
} as const;
