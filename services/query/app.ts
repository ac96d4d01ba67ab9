/**
 * The query service as a Fastify app. Built from its dependencies (config, an open encoder, a
 * store connection) so tests drive it through `inject()` and `clipstream serve` / the demo
 * start the very same app on a socket.
 *
 *   GET  /                          search page
 *   POST /v1/search                 text | image (JSON base64/URL or multipart) | point_id
 *   GET  /v1/items/:id              one point's payload
 *   GET  /v1/items/:id/thumbnail    resized image of an image point (from S3 or the local folder)
 *   GET  /v1/collections            size, schema and model versions
 *   GET  /healthz  /readyz  /metrics  /openapi.json  /docs
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { loadCalibration, type LoadedCalibration } from '../../shared/store/calibrate.ts';
import { resolveAlias, SCHEMA_VERSION } from '../../shared/store/schema.ts';
import type { ResolveHost } from './address-policy.ts';
import { hasApiKey, publicRoutes, requireApiKey } from './auth.ts';
import { errorAnswer, errorBody, withDeadline, writeClientError } from './http-errors.ts';
import { ImageUrlFetcher } from './image-url.ts';
import { useStrictJson } from './json-body.ts';
import { shedUnderLoad } from './load-shedding.ts';
import { QueryMetrics } from './metrics.ts';
import { readMultipartSearch } from './multipart.ts';
import { PAGE_CSP, searchPage } from './page.ts';
import {
  errorSchema,
  itemParamsSchema,
  itemResponseSchema,
  searchBodySchema,
  searchResponseSchema,
  thumbnailQuerySchema,
  type SearchRequest,
} from './schemas.ts';
import { QuerySearcher, storeError, type QueryEncoder, type StoreHandle } from './search.ts';
import { RAW_SECURITY_HEADERS, securityHeaders } from './security-headers.ts';
import { ThumbnailService } from './thumbnails.ts';

export interface QueryAppDeps {
  config: Config;
  encoder: QueryEncoder;
  store: StoreHandle;
  /** Default stage limits; read from DATA_DIR/calibration.json when not given. */
  calibration?: LoadedCalibration;
  /** For thumbnails of s3:// images; made from the S3 settings on first use when not given. */
  s3?: S3Client;
  /** Fastify logger: false (default) or pino options. */
  logger?: boolean | { level: string };
  /** Process metrics (CPU, memory, event loop) in /metrics; off by default so tests stay quiet. */
  defaultMetrics?: boolean;
  /** DNS for image URLs (tests point names at chosen addresses); the system resolver by default. */
  resolveHost?: ResolveHost;
  /** How often the event-loop delay is sampled for load shedding (default 1 s). */
  pressureSampleIntervalMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    queryImage?: Buffer;
  }
  interface FastifyInstance {
    queryMetrics: QueryMetrics;
    querySearcher: QuerySearcher;
  }
}

const MAX_STAGE_CANDIDATES = 10_000;
const MAX_GROUP_SIZE = 20;

/** Body validation is strict (no coercion, unknown keys refused); URL parts are text and get coerced. */
function validators() {
  const common = { allErrors: false, useDefaults: true, allowUnionTypes: true, strict: false } as const;
  const body = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const url = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  addFormats.default(body);
  addFormats.default(url);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : url).compile(schema);
}

export async function buildQueryApp(deps: QueryAppDeps): Promise<FastifyInstance> {
  const { config, encoder, store } = deps;
  const limits = config.server.query;
  const dims = config.encoder.dims;
  const collection = config.store.collection;
  const calibration = deps.calibration ?? loadCalibration(config.store.dataDir, dims);
  const metrics = new QueryMetrics({ defaultMetrics: deps.defaultMetrics });
  const imageUrls = new ImageUrlFetcher({
    allow: limits.imageUrlAllow,
    privateNets: limits.imageUrlPrivateNets,
    maxBytes: limits.maxImageBytes,
    timeoutMs: limits.timeoutMs,
    ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
  });
  const searcher = new QuerySearcher({ encoder, store, collection, dims, limits, calibration, metrics, imageUrls });
  let s3 = deps.s3;
  const thumbnails = new ThumbnailService({
    maxSourceBytes: config.encoder.imageMaxBytes,
    maxSourcePixels: config.encoder.imageMaxPixels,
    s3: async () => (s3 ??= (await import('../../shared/sources/s3.ts')).createS3Client(config.s3)),
    roots: limits.thumbnailRoots,
  });

  const app = Fastify({
    logger: deps.logger ?? false,
    // Base64 inflates an image by 4/3; the rest of a search body is small.
    bodyLimit: Math.ceil((limits.maxImageBytes * 4) / 3) + 64 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { allowUnionTypes: true } },
    // Slow or stalled clients are cut off: the body by requestTimeout (408), headers by
    // headersTimeout, and a socket silent both ways for longer than a request may take to
    // arrive and be answered (an image fetch, an encode and store calls, each at its deadline).
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.requestTimeoutMs + 4 * limits.timeoutMs + 1000,
    http: {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      // Node checks both timeouts this often (default 30 s, which would stretch a 10 s limit to 40 s).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    clientErrorHandler: (err, socket) => writeClientError(socket, err, RAW_SECURITY_HEADERS),
  });
  app.server.maxConnections = limits.maxConnections;
  app.addHook('onClose', async () => imageUrls.close());
  app.setValidatorCompiler(validators());
  useStrictJson(app);
  app.decorate('queryMetrics', metrics);
  app.decorate('querySearcher', searcher);
  app.decorateRequest('queryImage', undefined);

  // Order matters: these hooks run for every route and the 404 handler, in this order.
  await securityHeaders(app);
  await shedUnderLoad(app, { maxEventLoopDelayMs: limits.maxEventLoopDelayMs, sampleIntervalMs: deps.pressureSampleIntervalMs, metrics });
  requireApiKey(app, config.server.apiKey);

  await app.register(fastifyMultipart, {
    limits: { fileSize: limits.maxImageBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 24 },
    throwFileSizeLimit: true,
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'clipstream query API',
        description: 'Multilingual, multimodal catalogue search (jina-clip-v2 Matryoshka embeddings, coarse-to-fine in Qdrant).',
        version: '1',
      },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
      ...(config.server.apiKey ? { security: [{ apiKey: [] }] } : {}),
    },
  });
  await app.register(async (docs) => {
    publicRoutes(docs);
    await docs.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      // Its own policy, with hashes for its inline parts; without upgrade-insecure-requests, which would break it on plain HTTP.
      staticCSP: true,
      transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler(async (err, request, reply) => {
    const answer = errorAnswer(err);
    metrics.errors.inc({ cause: answer.code });
    if (answer.status >= 500) request.log.error({ err }, answer.message);
    if (answer.status === 503) reply.header('retry-after', '5');
    return reply.status(answer.status).send(errorBody(answer));
  });
  app.setNotFoundHandler(async (request, reply) => {
    metrics.errors.inc({ cause: 'NOT_FOUND' });
    return reply.status(404).send(errorBody({ code: 'NOT_FOUND', status: 404, message: `no route ${request.method} ${request.url.split('?')[0]}` }));
  });

  const storeCall = <T>(operation: string, fn: () => Promise<T>) => searcher.storeCall(operation, fn);
  const errorResponses = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 413: errorSchema, 503: errorSchema };

  const operations = { public: true, shed: false } as const;
  app.get('/', { schema: { hide: true }, config: { public: true } }, async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-cache').send(searchPage());
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'the process is alive', security: [] }, config: operations }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'model loaded and store reachable (503 otherwise); the reasons only with the API key',
        security: [],
      },
      config: operations,
    },
    async (request, reply) => {
      const checks = await readiness();
      const ready = Object.values(checks).every((c) => c.ok);
      const body = { status: ready ? 'ready' : 'not ready' };
      // The reasons name the model and the store: for callers who may see them, else only the verdict.
      const detailed = hasApiKey(config.server.apiKey, request);
      return reply.status(ready ? 200 : 503).send(detailed ? { ...body, checks: Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, c.detail])) } : body);
    },
  );

  async function readiness(): Promise<Record<'model' | 'store', { ok: boolean; detail: string }>> {
    const model = encoder.model?.modelId
      ? { ok: true, detail: `ok: ${encoder.model.modelId}${encoder.model.isTestModel ? ' [TEST MODEL]' : ''}` }
      : { ok: false, detail: 'not loaded' };
    const ms = Math.min(limits.timeoutMs, 3000);
    try {
      const info = await withDeadline(
        store.client.getCollection(collection),
        ms,
        () => new ClipstreamError('STORE_UNAVAILABLE', `store at ${store.url} did not answer within ${ms} ms`),
      );
      const stored = (info.config.metadata as { model?: unknown } | null | undefined)?.model;
      if (typeof stored === 'string' && encoder.model && stored !== encoder.model.modelId) {
        return { model, store: { ok: false, detail: `collection ${collection} holds vectors of ${stored}, but queries are encoded with ${encoder.model.modelId}` } };
      }
      return { model, store: { ok: true, detail: `ok: ${collection} (${info.points_count ?? 0} points)` } };
    } catch (err) {
      return { model, store: { ok: false, detail: storeError(err, store.url, 'readiness check', collection).message } };
    }
  }

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', security: [] }, config: operations }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  app.post(
    '/v1/search',
    {
      schema: {
        tags: ['search'],
        summary: 'search the catalogue by text, image or stored point',
        consumes: ['application/json', 'multipart/form-data'],
        body: searchBodySchema({ maxLimit: limits.maxLimit, maxStageCandidates: MAX_STAGE_CANDIDATES, maxGroupSize: MAX_GROUP_SIZE }),
        response: { 200: searchResponseSchema, ...errorResponses, 415: errorSchema, 502: errorSchema },
      },
      preValidation: async (request) => {
        if (!request.isMultipart()) return;
        const { body, image } = await readMultipartSearch(request);
        request.body = body;
        request.queryImage = image;
      },
    },
    async (request) => searcher.search(request.body as SearchRequest, request.queryImage),
  );

  app.get(
    '/v1/items/:id',
    { schema: { tags: ['items'], summary: "one point's payload", params: itemParamsSchema, response: { 200: itemResponseSchema, ...errorResponses } } },
    async (request) => {
      const { id } = request.params as { id: string };
      const payload = await readPayload(id);
      return { id, payload, ...(payload.modality === 'image' ? { thumbnail: `/v1/items/${id}/thumbnail` } : {}) };
    },
  );

  app.get(
    '/v1/items/:id/thumbnail',
    {
      schema: {
        tags: ['items'],
        summary: 'a resized image (WebP) of an image point, read from S3 or the local folder by the service',
        params: itemParamsSchema,
        querystring: thumbnailQuerySchema,
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { size } = request.query as { size: number };
      const payload = await readPayload(id);
      if (payload.modality !== 'image' || typeof payload.source !== 'string') {
        throw new ClipstreamError('NOT_FOUND', 'this item is not an image, it has no thumbnail', { item: id });
      }
      const version = String(payload.content_hash ?? '');
      const etag = `"${createHash('sha256').update(`${version}:${size}`).digest('hex').slice(0, 32)}"`;
      if (request.headers['if-none-match'] === etag) return reply.status(304).send();
      const thumb = await withDeadline(
        thumbnails.get(payload.source, version, size),
        limits.timeoutMs,
        () => new ClipstreamError('SOURCE_UNREACHABLE', `the image could not be read within ${limits.timeoutMs} ms`, { item: payload.source as string }),
      );
      return reply.type(thumb.contentType).header('cache-control', 'private, max-age=3600').header('etag', etag).send(thumb.bytes);
    },
  );

  app.get('/v1/collections', { schema: { tags: ['collections'], summary: 'the searched collection: size, schema and model versions' } }, async () => {
    const physical = (await storeCall('resolve alias', () => resolveAlias(store.client, collection))) ?? collection;
    const info = await storeCall('collection info', () => store.client.getCollection(physical));
    const meta = (info.config.metadata ?? {}) as { model?: string; dims?: number[]; schema_version?: number; created_at?: string };
    const vectors = (info.config.params.vectors ?? {}) as Record<string, { size?: number; distance?: string; on_disk?: boolean }>;
    return {
      model: encoder.model.modelId,
      test_model: encoder.model.isTestModel,
      schema_version: SCHEMA_VERSION,
      collections: [
        {
          name: collection,
          collection: physical,
          status: info.status,
          points: info.points_count ?? 0,
          model: meta.model ?? null,
          dims: meta.dims ?? Object.values(vectors).map((v) => v.size).filter((n): n is number => typeof n === 'number'),
          schema_version: meta.schema_version ?? null,
          created_at: meta.created_at ?? null,
          vectors: Object.fromEntries(Object.entries(vectors).map(([name, v]) => [name, { size: v.size, distance: v.distance, on_disk: v.on_disk ?? false }])),
          payload_indexes: Object.fromEntries(Object.entries(info.payload_schema ?? {}).map(([field, s]) => [field, s?.data_type ?? null])),
          stage_limits: { limits: calibration.stageLimits, source: calibration.source, ...(calibration.recall !== undefined ? { recall: calibration.recall } : {}) },
        },
      ],
    };
  });

  async function readPayload(id: string): Promise<Record<string, unknown>> {
    const records = await storeCall('read item', () => store.client.retrieve(collection, { ids: [id.toLowerCase()], with_payload: true, with_vector: false }));
    const record = records[0];
    if (!record) throw new ClipstreamError('NOT_FOUND', `no item with this id in ${collection}`, { item: id });
    return (record.payload ?? {}) as Record<string, unknown>;
  }

  return app;
}
