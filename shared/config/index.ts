/**
 * The one place that reads the environment. Everything else receives a typed `Config`.
 * Every variable here is listed, with its default, in README.md and .env.example; a bad value
 * fails at start-up with a message naming the variable.
 */
import path from 'node:path';
import { z } from 'zod';
import { ClipstreamError } from '../errors.ts';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes' || v === 'on');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = z.string().url();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const dimList = z
  .string()
  .transform((s, ctx) => {
    const dims = s.split(',').map((p) => Number(p.trim()));
    for (const d of dims) {
      if (!TRAINED_DIMS.includes(d)) {
        ctx.addIssue({ code: 'custom', message: `${d} is not a trained Matryoshka dimension (${TRAINED_DIMS.join(', ')})` });
      }
    }
    return [...new Set(dims)].sort((a, b) => a - b);
  });

const PAYLOAD_INDEX_TYPES = ['keyword', 'integer', 'float', 'bool', 'datetime', 'text', 'uuid'] as const;
export type PayloadIndexType = (typeof PAYLOAD_INDEX_TYPES)[number];
/** `field[:type],…` → index specs; the type defaults to keyword. */
const payloadIndexList = z.string().transform((s, ctx) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const [field = '', type = 'keyword'] = p.split(':');
      if (!/^[A-Za-z0-9_.-]+$/.test(field)) ctx.addIssue({ code: 'custom', message: `bad field name "${field}"` });
      if (!(PAYLOAD_INDEX_TYPES as readonly string[]).includes(type)) {
        ctx.addIssue({ code: 'custom', message: `"${type}" is not one of ${PAYLOAD_INDEX_TYPES.join(', ')}` });
      }
      return { field, type: type as PayloadIndexType };
    }),
);

/** Matryoshka dimensions jina-clip-v2 was trained with. */
export const TRAINED_DIMS: readonly number[] = [32, 64, 128, 256, 512, 768, 1024];
export const MODEL_VARIANTS = ['fp32', 'fp16', 'int8', 'quantized', 'q4', 'q4f16', 'bnb4'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** Variable name → schema with default. The keys are exactly the environment variable names. */
const envSchema = z.object({
  // Model
  MODEL_DIR: optionalString,
  MODEL_REPO: z.string().min(1).default('jinaai/jina-clip-v2'),
  MODEL_REVISION: z.string().min(1).default('main'),
  MODEL_VARIANT: z.enum(MODEL_VARIANTS).default('fp16'),
  MODEL_CACHE_DIR: optionalString,
  HF_ENDPOINT: url.default('https://huggingface.co'),
  HF_TOKEN: optionalString,
  MODEL_OFFLINE: bool.default(false),
  // Encoder
  ORT_EXECUTION_PROVIDER: z.enum(['cpu', 'cuda']).default('cpu'),
  ORT_DEVICE_ID: int(0, 64).default(0),
  ORT_INTRA_OP_THREADS: int(0, 1024).default(0),
  ORT_INTER_OP_THREADS: int(0, 1024).default(0),
  ORT_GRAPH_OPTIMIZATION: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
  TEXT_MAX_TOKENS: int(8, 8192).default(512),
  TEXT_MAX_BYTES: int(1, 16 * 1024 * 1024).default(64 * 1024),
  IMAGE_MAX_PIXELS: int(1, 2_000_000_000).default(40_000_000),
  IMAGE_MAX_BYTES: int(1, 2_000_000_000).default(50 * 1024 * 1024),
  IMAGE_ALLOW_SVG: bool.default(false),
  BATCH_MAX_SIZE: int(1, 4096).default(32),
  BATCH_MAX_WAIT_MS: int(0, 60_000).default(10),
  BATCH_MAX_IN_FLIGHT: int(1, 1_000_000).default(512),
  MRL_DIMS: dimList.default([64, 256, 1024]),
  // Storage
  DATA_DIR: z.string().min(1).default('./data'),
  QDRANT_URL: optionalString.pipe(url.optional()),
  QDRANT_API_KEY: optionalString,
  QDRANT_COLLECTION: z.string().regex(/^[A-Za-z0-9_-]+$/).default('catalogue'),
  QDRANT_TIMEOUT_MS: int(100, 600_000).default(30_000),
  UPSERT_BATCH_SIZE: int(1, 10_000).default(128),
  UPSERT_CONCURRENCY: int(1, 64).default(3),
  PAYLOAD_INDEXES: payloadIndexList.optional(),
  STORE_PARSE_THREADS: optionalString.pipe(z.string().regex(/^\d{1,2}$/, 'expected a thread count').transform(Number).pipe(z.number().int().min(0).max(64)).optional()),
  // Runs (sync, schedules, rebuilds)
  RUN_LEASE_MS: int(1000, 86_400_000).default(60_000),
  SYNC_MAX_DELETE_SHARE: z.coerce.number().min(0).max(1).default(0.2),
  REBUILD_KEEP_VERSIONS: int(1, 100).default(2),
  SCHEDULE_POLL_MS: int(100, 3_600_000).default(5_000),
  // Queue
  REDIS_URL: optionalString.pipe(url.optional()),
  QUEUE_PREFIX: z.string().min(1).default('clipstream'),
  QUEUE_MAX_WAITING: int(1, 100_000_000).default(10_000),
  WORKER_CONCURRENCY: int(1, 4096).default(64),
  WORKER_SHUTDOWN_GRACE_MS: int(0, 3_600_000).default(30_000),
  // S3
  S3_ENDPOINT: optionalString.pipe(url.optional()),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_CONCURRENCY: int(1, 1024).default(16),
  // Query service
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  API_KEY: optionalString,
  QUERY_MAX_TEXT_CHARS: int(1, 1_000_000).default(1000),
  QUERY_MAX_IMAGE_BYTES: int(1, 2_000_000_000).default(10 * 1024 * 1024),
  QUERY_MAX_IMAGE_PIXELS: int(1, 2_000_000_000).default(25_000_000),
  QUERY_MAX_LIMIT: int(1, 10_000).default(100),
  QUERY_TIMEOUT_MS: int(10, 600_000).default(10_000),
  QUERY_CACHE_SIZE: int(0, 10_000_000).default(2048),
  QUERY_IMAGE_URL_ALLOW: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '')),
  // Query service: connection limits, load shedding, SSRF and thumbnail confinement
  QUERY_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(30_000),
  QUERY_HEADERS_TIMEOUT_MS: int(1000, 3_600_000).default(10_000),
  QUERY_MAX_CONNECTIONS: int(1, 1_000_000).default(1024),
  QUERY_MAX_EVENT_LOOP_DELAY_MS: int(0, 60_000).default(1000),
  QUERY_MAX_PENDING_ENCODES: int(1, 1_000_000).default(128),
  QUERY_ALIAS_REFRESH_MS: int(100, 3_600_000).default(2_000),
  QUERY_IMAGE_URL_PRIVATE_NETS: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''))
    .pipe(z.array(z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'expected address/prefix, e.g. 10.0.0.0/8 or fd00::/8'))),
  QUERY_THUMBNAIL_ROOTS: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '').map((r) => path.resolve(r))),
  // Hybrid search: the lexical analyser and fusion
  LEXICAL_FIELDS: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((f) => f.trim()).filter((f) => f !== ''))
    .pipe(z.array(z.string().regex(/^(\*|[A-Za-z0-9_.-]+)$/, 'expected field names, `text` or `*`'))),
  LEXICAL_DEFAULT_LANG: z.string().regex(/^[A-Za-z]{2,3}$/, 'expected an ISO 639-1 code such as en').default('en'),
  LEXICAL_FOLD_ACCENTS: bool.default(false),
  BM25_K1: z.coerce.number().min(0).max(10).default(1.2),
  BM25_B: z.coerce.number().min(0).max(1).default(0.75),
  BM25_AVG_LENGTH: z.coerce.number().positive().max(1_000_000).default(256),
  LEXICAL_MIN_MATCH: z.coerce.number().min(0).max(1).default(0.6),
  HYBRID_FUSION: z.enum(['rrf', 'dbsf']).default('rrf'),
  RRF_K: int(1, 100_000).default(60),
  HYBRID_WEIGHTS: z
    .string()
    .default('1,1')
    .transform((s) => s.split(',').map((w) => Number(w.trim())))
    .pipe(z.tuple([z.number().positive().finite(), z.number().positive().finite()], { message: 'expected two positive weights: dense,lexical' })),
  // Logging
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Operations: the metrics and health listener of workers, producers and the scheduler
  METRICS_PORT: optionalString.pipe(z.string().regex(/^\d{1,5}$/, 'expected a port number').transform(Number).pipe(z.number().int().min(0).max(65535)).optional()),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
});

type Env = z.infer<typeof envSchema>;

export interface Config {
  model: {
    dir?: string | undefined;
    repo: string;
    revision: string;
    variant: ModelVariant;
    cacheDir: string;
    hfEndpoint: string;
    hfToken?: string | undefined;
    offline: boolean;
  };
  encoder: {
    executionProvider: 'cpu' | 'cuda';
    deviceId: number;
    intraOpThreads: number;
    interOpThreads: number;
    graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
    textMaxTokens: number;
    textMaxBytes: number;
    imageMaxPixels: number;
    imageMaxBytes: number;
    imageAllowSvg: boolean;
    batchMaxSize: number;
    batchMaxWaitMs: number;
    batchMaxInFlight: number;
    dims: number[];
  };
  store: {
    dataDir: string;
    qdrantUrl?: string | undefined;
    qdrantApiKey?: string | undefined;
    collection: string;
    timeoutMs: number;
    upsertBatchSize: number;
    upsertConcurrency: number;
    /** Extra payload indexes (besides clipstream's own), e.g. `fields.brand` or `fields.price:float`. */
    payloadIndexes: { field: string; type: PayloadIndexType }[];
    /** The embedded store's JSON parse threads (0: parse on the main thread); unset: picked from the core count. */
    parseThreads?: number | undefined;
  };
  queue: {
    redisUrl?: string | undefined;
    prefix: string;
    maxWaiting: number;
    workerConcurrency: number;
    /** How long a stopping worker waits for its jobs in flight before it closes anyway. */
    shutdownGraceMs: number;
  };
  runs: {
    /** How long a source's lease outlives a crashed run. */
    leaseMs: number;
    /** Largest share of a source's points one sync may delete without --allow-mass-delete. */
    maxDeleteShare: number;
    /** Collection versions a rebuild keeps (the live one included), for rollback. */
    keepVersions: number;
    /** Embedded: how often serve's scheduler re-reads the schedules in state.db. */
    schedulePollMs: number;
  };
  s3: { endpoint?: string | undefined; region: string; forcePathStyle: boolean; concurrency: number };
  server: {
    host: string;
    port: number;
    apiKey?: string | undefined;
    query: {
      maxTextChars: number;
      maxImageBytes: number;
      maxImagePixels: number;
      maxLimit: number;
      /** Upper bound on encoding and on each store call, so an unavailable dependency answers 503, never hangs. */
      timeoutMs: number;
      cacheSize: number;
      /** Hosts whose image URLs may be fetched (empty: image URLs are refused). */
      imageUrlAllow: string[];
      /** Whole request (headers and body) must arrive within this; slow bodies get 408. Headers get at most this too. */
      requestTimeoutMs: number;
      /** Headers must arrive within this. */
      headersTimeoutMs: number;
      /** Sockets beyond this are refused by the server. */
      maxConnections: number;
      /** Mean event-loop delay over which requests are shed with 503 (0: never). */
      maxEventLoopDelayMs: number;
      /** Query encodes waiting or running at once; beyond it a search is shed with 503. */
      maxPendingEncodes: number;
      /** CIDR ranges outside the public internet that image URLs may still connect to. */
      imageUrlPrivateNets: string[];
      /** Folders (absolute) whose files may be read for thumbnails; empty: only files reached without a symbolic link. */
      thumbnailRoots: string[];
      /** How often the alias is read back, so a rebuild's swap is followed without a restart. */
      aliasRefreshMs: number;
    };
  };
  /** Hybrid search: how `lex` vectors are made (ingestion and queries alike) and how branches are fused. */
  lexical: {
    /** LEXICAL_FIELDS; empty: the record's text and its other string fields. */
    fields: string[];
    defaultLang: string;
    foldAccents: boolean;
    bm25: { k1: number; b: number; avgLength: number };
    /** Share of a query's terms a lexical candidate must hold. */
    minMatch: number;
    fusion: 'rrf' | 'dbsf';
    rrfK: number;
    /** Per-branch RRF weights: dense, lexical. */
    weights: { dense: number; lexical: number };
  };
  logLevel: Env['LOG_LEVEL'];
  /** Workers, producers, the scheduler: `/metrics`, `/healthz`, `/readyz` on their own port (off when `port` is unset). */
  metrics: { port?: number | undefined; host: string };
}

/** Names and defaults of every variable, for `.env.example`, the README and `--help`. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** Parses an environment. Throws CONFIG_INVALID naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string | undefined> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') picked[name] = value;
  }
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      return `${name}=${JSON.stringify(picked[name] ?? '')}: ${i.message}`;
    });
    throw new ClipstreamError('CONFIG_INVALID', `invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  if (!e.MRL_DIMS.includes(1024)) {
    throw new ClipstreamError('CONFIG_INVALID', 'invalid environment: MRL_DIMS must include 1024 (the final ranking stage)');
  }
  return Object.freeze({
    model: {
      dir: e.MODEL_DIR ? path.resolve(e.MODEL_DIR) : undefined,
      repo: e.MODEL_REPO,
      revision: e.MODEL_REVISION,
      variant: e.MODEL_VARIANT,
      cacheDir: path.resolve(e.MODEL_CACHE_DIR ?? path.join(dataDir, 'models')),
      hfEndpoint: e.HF_ENDPOINT.replace(/\/+$/, ''),
      hfToken: e.HF_TOKEN,
      offline: e.MODEL_OFFLINE,
    },
    encoder: {
      executionProvider: e.ORT_EXECUTION_PROVIDER,
      deviceId: e.ORT_DEVICE_ID,
      intraOpThreads: e.ORT_INTRA_OP_THREADS,
      interOpThreads: e.ORT_INTER_OP_THREADS,
      graphOptimization: e.ORT_GRAPH_OPTIMIZATION,
      textMaxTokens: e.TEXT_MAX_TOKENS,
      textMaxBytes: e.TEXT_MAX_BYTES,
      imageMaxPixels: e.IMAGE_MAX_PIXELS,
      imageMaxBytes: e.IMAGE_MAX_BYTES,
      imageAllowSvg: e.IMAGE_ALLOW_SVG,
      batchMaxSize: e.BATCH_MAX_SIZE,
      batchMaxWaitMs: e.BATCH_MAX_WAIT_MS,
      batchMaxInFlight: e.BATCH_MAX_IN_FLIGHT,
      dims: e.MRL_DIMS,
    },
    store: {
      dataDir,
      qdrantUrl: e.QDRANT_URL,
      qdrantApiKey: e.QDRANT_API_KEY,
      collection: e.QDRANT_COLLECTION,
      timeoutMs: e.QDRANT_TIMEOUT_MS,
      upsertBatchSize: e.UPSERT_BATCH_SIZE,
      upsertConcurrency: e.UPSERT_CONCURRENCY,
      payloadIndexes: e.PAYLOAD_INDEXES ?? [],
      parseThreads: e.STORE_PARSE_THREADS,
    },
    runs: { leaseMs: e.RUN_LEASE_MS, maxDeleteShare: e.SYNC_MAX_DELETE_SHARE, keepVersions: e.REBUILD_KEEP_VERSIONS, schedulePollMs: e.SCHEDULE_POLL_MS },
    queue: {
      redisUrl: e.REDIS_URL,
      prefix: e.QUEUE_PREFIX,
      maxWaiting: e.QUEUE_MAX_WAITING,
      workerConcurrency: e.WORKER_CONCURRENCY,
      shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
    },
    s3: { endpoint: e.S3_ENDPOINT, region: e.S3_REGION, forcePathStyle: e.S3_FORCE_PATH_STYLE, concurrency: e.S3_CONCURRENCY },
    server: {
      host: e.HOST,
      port: e.PORT,
      apiKey: e.API_KEY,
      query: {
        maxTextChars: e.QUERY_MAX_TEXT_CHARS,
        maxImageBytes: e.QUERY_MAX_IMAGE_BYTES,
        maxImagePixels: e.QUERY_MAX_IMAGE_PIXELS,
        maxLimit: e.QUERY_MAX_LIMIT,
        timeoutMs: e.QUERY_TIMEOUT_MS,
        cacheSize: e.QUERY_CACHE_SIZE,
        imageUrlAllow: e.QUERY_IMAGE_URL_ALLOW,
        requestTimeoutMs: e.QUERY_REQUEST_TIMEOUT_MS,
        headersTimeoutMs: e.QUERY_HEADERS_TIMEOUT_MS,
        maxConnections: e.QUERY_MAX_CONNECTIONS,
        maxEventLoopDelayMs: e.QUERY_MAX_EVENT_LOOP_DELAY_MS,
        maxPendingEncodes: e.QUERY_MAX_PENDING_ENCODES,
        imageUrlPrivateNets: e.QUERY_IMAGE_URL_PRIVATE_NETS,
        thumbnailRoots: e.QUERY_THUMBNAIL_ROOTS,
        aliasRefreshMs: e.QUERY_ALIAS_REFRESH_MS,
      },
    },
    lexical: {
      fields: e.LEXICAL_FIELDS,
      defaultLang: e.LEXICAL_DEFAULT_LANG.toLowerCase(),
      foldAccents: e.LEXICAL_FOLD_ACCENTS,
      bm25: { k1: e.BM25_K1, b: e.BM25_B, avgLength: e.BM25_AVG_LENGTH },
      minMatch: e.LEXICAL_MIN_MATCH,
      fusion: e.HYBRID_FUSION,
      rrfK: e.RRF_K,
      weights: { dense: e.HYBRID_WEIGHTS[0], lexical: e.HYBRID_WEIGHTS[1] },
    },
    logLevel: e.LOG_LEVEL,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
  } satisfies Config);
}

let cached: Config | undefined;
/** The process configuration, read once. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
