/**
 * What a REST route is: its method, path pattern, body schema and handler. Its own module so the
 * route tables (routes.ts, snapshot-routes.ts) and the server share it without importing each other.
 */
import type http from 'node:http';
import type { Store } from '../engine/store.ts';
import type { WriteOptions } from '../engine/collection.ts';

type Body = Record<string, unknown>;

export interface RouteContext {
  store: Store;
  params: string[];
  body: Body;
  write: WriteOptions;
  query: URLSearchParams;
}

export interface Route {
  method: string;
  /** Path segments; `*` captures one segment (URL-decoded) into params. */
  segments: string[];
  /** Answered without the api key (health probes only); every other route needs it. */
  public?: boolean | undefined;
  /** How the result is sent: in Qdrant's envelope (default), as bare JSON (the root), or as text (probes, metrics). */
  reply?: 'envelope' | 'bare' | 'text' | undefined;
  /** The body's schema (the engine validates against it); a route without one reads no body. */
  schema?: string | undefined;
  /** Bodies that carry stored vectors, parsed by json-body.ts into Float32Arrays. */
  vectorBody?: boolean | undefined;
  handle(ctx: RouteContext): unknown;
  /**
   * Routes that read the request or write the answer themselves (a file upload, a download):
   * called instead of `handle`, before any body is read; a result is sent unless it answered.
   */
  raw?: (ctx: RawContext) => Promise<unknown>;
}

export interface RawContext {
  store: Store;
  params: string[];
  query: URLSearchParams;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}
