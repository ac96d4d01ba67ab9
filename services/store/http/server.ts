/**
 * A thin node:http server in front of the Store: routing, api-key check, body parsing and
 * schema validation, and Qdrant's envelopes ({result, status:"ok", time} /
 * {status:{error}, time}).
 */
import http from 'node:http';
import os from 'node:os';
import { timingSafeEqual } from 'node:crypto';
import { StoreError } from '../engine/errors.ts';
import type { Store } from '../engine/store.ts';
import { matchRoute, ROUTES } from './routes.ts';
import type { Route } from './route.ts';
import { parseRequestTarget } from './request-target.ts';
import { warmUp } from '../engine/validate.ts';
import { checkNesting, parseVectorJson } from './json-body.ts';
import { ParsePool } from './parse-pool.ts';
import { storeMetrics } from './metrics.ts';
import { Accepted } from './snapshot-routes.ts';
import { RateLimitError } from '../engine/rate-limit.ts';

/** Qdrant's default service.max_request_size_mb. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface ServerOptions {
  apiKey?: string | undefined;
  /**
   * Threads that parse large write bodies (see parse-pool.ts); 0 parses on the main thread.
   * Default: none on one core, else one per core beyond the first, at least 2 and at most 4.
   * Two on two cores: parsing is the longest stage of an upsert, and a second parse thread
   * lets the scheduler fill both cores while the main thread applies a batch (measured
   * ~20k vs ~18k points/s with one, 200k points, bench/store).
   */
  parseThreads?: number | undefined;
}

interface Context {
  store: Store;
  opts: ServerOptions;
  parsePool: ParsePool | undefined;
}

/** `/collections/*\/points` for `/collections/catalogue_v2/points`; `unmatched` for anything no route serves. */
function endpointOf(req: http.IncomingMessage): string {
  try {
    const match = matchRoute(req.method ?? 'GET', parseRequestTarget(req.url ?? '/').segments);
    return match && 'route' in match ? `/${match.route.segments.join('/')}` : 'unmatched';
  } catch {
    return 'unmatched';
  }
}

export function createStoreServer(store: Store, opts: ServerOptions = {}): http.Server {
  warmUp(ROUTES.flatMap((r) => (r.schema ? [r.schema] : [])));
  const cores = os.availableParallelism();
  const threads = opts.parseThreads ?? (cores > 1 ? Math.min(4, Math.max(2, cores - 1)) : 0);
  const ctx: Context = { store, opts, parsePool: threads > 0 ? new ParsePool(threads) : undefined };
  const metrics = storeMetrics(store);
  const server = http.createServer((req, res) => {
    metrics.track(req, res, endpointOf);
    handle(ctx, req, res).catch((err) => {
      if (!res.headersSent) sendError(res, process.hrtime.bigint(), err);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.on('close', () => void ctx.parsePool?.close());
  return server;
}

async function handle(ctx: Context, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { store, opts } = ctx;
  const started = process.hrtime.bigint();
  const method = req.method ?? 'GET';
  let target;
  try {
    target = parseRequestTarget(req.url ?? '/');
  } catch (err) {
    await drain(req);
    throw err;
  }
  const { segments, query } = target;
  const pathname = `/${segments.join('/')}`;
  // Authorisation is decided on the route the decoded path matched, deny by default: only a
  // route marked public (the health probes) is answered without the key, unknown paths included.
  const match = matchRoute(method, segments);
  const open = match !== undefined && 'route' in match && match.route.public === true;
  if (opts.apiKey && !open && !authorised(req, opts.apiKey)) {
    await drain(req);
    const provided = req.headers['api-key'] ?? req.headers.authorization;
    throw new StoreError(401, provided ? 'Invalid API key or JWT' : 'Must provide an API key or an Authorization bearer token');
  }
  if (!match) {
    await drain(req);
    throw new StoreError(404, `Not found: no API at ${method} ${pathname}`);
  }
  if (!('route' in match)) {
    await drain(req);
    throw new StoreError(405, `Method ${method} is not allowed on ${pathname}`);
  }
  const { route, params } = match;
  if (route.raw) {
    const result = await route.raw({ store, params, query, req, res });
    if (!res.headersSent) sendResult(res, route, result, started);
    return;
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  // A large vector body goes to a parse thread through a body slot, held until the answer.
  const slot = route.vectorBody && ctx.parsePool && declared >= POOL_MIN && declared <= MAX_BODY_BYTES ? await ctx.parsePool.acquire(declared) : undefined;
  try {
    let body: Record<string, unknown> = {};
    if (route.schema) {
      const raw = await readBody(req, slot?.bytes);
      if (slot) {
        body = (raw.length === 0 ? null : await ctx.parsePool!.parse(slot, raw.length)) as Record<string, unknown>;
      } else if (route.vectorBody) {
        try {
          body = (raw.length === 0 ? null : parseVectorJson(raw)) as Record<string, unknown>;
        } finally {
          // Parsing copies everything out (strings, float32 blocks): the bytes can be reused.
          giveBack(raw);
        }
      } else {
        try {
          checkNesting(raw);
          body = JSON.parse(raw.length === 0 ? 'null' : raw.toString('utf8')) as Record<string, unknown>;
        } catch (err) {
          if (err instanceof StoreError) throw err;
          throw new StoreError(400, `Format error in JSON body: ${(err as Error).message}`);
        } finally {
          giveBack(raw);
        }
      }
      // The engine checks the body against route.schema (engine/validate.ts).
      if (body === null) throw new StoreError(400, 'Format error in JSON body: EOF while parsing a value at line 1 column 0');
    } else {
      await drain(req);
    }
    const waitParam = query.get('wait');
    if (waitParam !== null && waitParam !== 'true' && waitParam !== 'false') {
      throw new StoreError(400, `Query deserialize error: wait: provided string was not \`true\` or \`false\``);
    }
    if (route.segments[0] === 'collections' && route.segments[1] === '*' && query.has('timeout')) store.checkTimeout(params[0]!, query.get('timeout'));
    const result = await route.handle({ store, params, body, write: { wait: waitParam === 'true' }, query });
    sendResult(res, route, result, started);
  } finally {
    // The engine has copied the vectors out by now (into its columns and its log).
    if (slot) ctx.parsePool!.release(slot);
  }
}

function sendResult(res: http.ServerResponse, route: Route, result: unknown, started: bigint): void {
  if (result instanceof Accepted) {
    // Qdrant's answer for work left running (wait=false): no result yet.
    sendJson(res, 202, `{"status":"accepted","time":${elapsed(started)}}`);
    return;
  }
  if (route.reply === 'text') {
    const text = String(result);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }).end(text);
    return;
  }
  if (route.reply === 'bare') {
    sendJson(res, 200, JSON.stringify(result));
    return;
  }
  sendJson(res, 200, `{"result":${JSON.stringify(result)},"status":"ok","time":${elapsed(started)}}`);
}

function authorised(req: http.IncomingMessage, apiKey: string): boolean {
  const header = req.headers['api-key'];
  const auth = req.headers.authorization;
  // The auth scheme is case-insensitive (RFC 9110 §11.1).
  const given = typeof header === 'string' ? header : typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7) : undefined;
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(apiKey);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Large bodies (upsert batches run to megabytes) that no parse thread takes are read into
 * pooled buffers: allocating and freeing one per request leaves the C heap fragmented and the
 * process RSS high. A body is handed back with `giveBack` once parsed; any other buffer is
 * ignored there.
 */
const bodyPool: Buffer[] = [];
const pooledBuffers = new WeakSet<ArrayBufferLike>();
const POOL_MIN = 256 * 1024;
const POOL_SIZE = 4;

function giveBack(bytes: Buffer): void {
  if (!pooledBuffers.has(bytes.buffer) || bodyPool.length >= POOL_SIZE) return;
  bodyPool.push(Buffer.from(bytes.buffer));
}

/** Reads the body into `into` when given (a body slot), else into a pooled or fresh buffer. */
function readBody(req: http.IncomingMessage, into?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      reject(new StoreError(413, `Payload too large: ${declared} bytes (limit ${MAX_BODY_BYTES})`));
      return;
    }
    let target = into;
    if (!target && declared >= POOL_MIN) {
      const i = bodyPool.findIndex((b) => b.length >= declared);
      if (i >= 0) target = bodyPool.splice(i, 1)[0]!;
      else {
        target = Buffer.allocUnsafeSlow(Math.max(declared, POOL_MIN * 4));
        pooledBuffers.add(target.buffer);
      }
    }
    const release = () => {
      if (target && !into) giveBack(target);
      target = undefined;
    };
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size + chunk.length > MAX_BODY_BYTES || (target && size + chunk.length > target.length)) {
        req.removeAllListeners('data');
        req.resume();
        release();
        reject(new StoreError(size + chunk.length > MAX_BODY_BYTES ? 413 : 400, `Payload too large or longer than its content-length`));
        return;
      }
      if (target) chunk.copy(target, size);
      else chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => {
      resolve(target ? target.subarray(0, size) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      release();
      reject(err);
    });
  });
}

function drain(req: http.IncomingMessage): Promise<void> {
  if (req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function sendJson(res: http.ServerResponse, status: number, json: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}

function sendError(res: http.ServerResponse, started: bigint, err: unknown): void {
  const status = err instanceof StoreError ? err.status : 500;
  const message = err instanceof StoreError ? err.message : `Service internal error: ${err instanceof Error ? err.message : String(err)}`;
  if (status === 500 && !(err instanceof StoreError)) process.stderr.write(`store: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  // Rate limited (strict mode): when to try again.
  if (err instanceof RateLimitError && err.retryAfterSeconds !== null) res.setHeader('retry-after', String(err.retryAfterSeconds));
  sendJson(res, status, JSON.stringify({ status: { error: message }, time: elapsed(started) }));
}
