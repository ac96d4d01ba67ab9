/**
 * The query service as a Fastify app. Built from its dependencies (config, an open encoder, a
 * store connection) so tests drive it through `inject()` and `clipstream serve` / the demo
 * start the very same app on a socket. This module only composes: the protections every
 * request passes (limits, headers, load shedding, the API key, strict JSON, the error envelope),
 * then one plugin per concern under routes/:
 *
 *   GET  /                          search page                              routes/page.ts
 *   POST /v1/search                 text | image | point_id                   routes/search.ts
 *   GET  /v1/items/:id[/thumbnail]  payload, resized image                    routes/items.ts
 *   GET  /v1/collections            size, schema and model versions           routes/collections.ts
 *   GET  /healthz /readyz /metrics  operations                                routes/operations.ts
 *   GET  /openapi.json /docs        the contract, generated from the schemas  routes/openapi.ts
 */
import type { S3Client } from '@aws-sdk/client-s3';
import fastifyMultipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config/index.ts';
import { loadCalibration, type LoadedCalibration } from '../../shared/store/calibrate.ts';
import type { ResolveHost } from './address-policy.ts';
import { requireApiKey } from './auth.ts';
import { CollectionFollower } from './collection-follower.ts';
import { answerErrors, writeClientError } from './http-errors.ts';
import { ImageUrlFetcher } from './image-url.ts';
import { useStrictJson } from './json-body.ts';
import { shedUnderLoad } from './load-shedding.ts';
import { QueryMetrics, recordRequests } from './metrics.ts';
import { collectionRoutes } from './routes/collections.ts';
import { itemRoutes } from './routes/items.ts';
import { openApi } from './routes/openapi.ts';
import { operationsRoutes } from './routes/operations.ts';
import { pageRoutes } from './routes/page.ts';
import { searchRoutes } from './routes/search.ts';
import { hybridSettings, QuerySearcher, type QueryEncoder, type StoreHandle } from './search.ts';
import { RAW_SECURITY_HEADERS, securityHeaders } from './security-headers.ts';
import { ThumbnailService } from './thumbnails.ts';
import { schemaValidators } from './validation.ts';

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
  /** Lines worth an operator's attention (the alias moved, or leads to another model's vectors). */
  onNotice?: (line: string) => void;
}

const MAX_STAGE_CANDIDATES = 10_000;
const MAX_GROUP_SIZE = 20;

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
  const follower = new CollectionFollower({
    client: store.client,
    alias: collection,
    model: encoder.model.modelId,
    storeUrl: store.url,
    refreshMs: limits.aliasRefreshMs,
    ...(deps.onNotice ? { onNotice: deps.onNotice } : {}),
  });
  const searched = () => follower.current;
  const searcher = new QuerySearcher({ encoder, store, collection: searched, dims, limits, calibration, metrics, imageUrls, lexical: hybridSettings(config) });
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
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.maxConnections = limits.maxConnections;
  app.addHook('onReady', async () => {
    follower.start();
    await follower.refresh(Math.min(limits.timeoutMs, 3000));
  });
  app.addHook('onClose', async () => {
    follower.stop();
    await imageUrls.close();
  });
  app.setValidatorCompiler(schemaValidators());
  useStrictJson(app);
  answerErrors(app, metrics);
  recordRequests(app, metrics);

  // Order matters: these hooks run for every route and the 404 handler, in this order.
  await securityHeaders(app);
  await shedUnderLoad(app, { maxEventLoopDelayMs: limits.maxEventLoopDelayMs, sampleIntervalMs: deps.pressureSampleIntervalMs, metrics });
  requireApiKey(app, config.server.apiKey);

  await app.register(fastifyMultipart, {
    limits: { fileSize: limits.maxImageBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 24 },
    throwFileSizeLimit: true,
  });
  // Before every route: @fastify/swagger documents the routes registered after it.
  await openApi(app, { apiKeyRequired: config.server.apiKey !== undefined });

  await app.register(pageRoutes);
  await app.register(operationsRoutes, { encoder, store, follower, timeoutMs: limits.timeoutMs, apiKey: config.server.apiKey, metrics });
  await app.register(searchRoutes, {
    prefix: '/v1',
    searcher,
    limits: { maxLimit: limits.maxLimit, maxStageCandidates: MAX_STAGE_CANDIDATES, maxGroupSize: MAX_GROUP_SIZE },
  });
  await app.register(itemRoutes, { prefix: '/v1', store, collection: searched, searcher, thumbnails, timeoutMs: limits.timeoutMs });
  await app.register(collectionRoutes, { prefix: '/v1', encoder, store, alias: collection, follower, searcher, calibration });
  return app;
}
