/**
 * API-key authorisation, decided on the route the router matched — never on the raw request
 * target, which the router decodes differently (`/%761/search`, `http://x/v1/…` and friends all
 * reach `/v1/search`). Deny by default: with API_KEY set, every request needs the key unless the
 * route it matched is marked `config: { public: true }`; an unmatched request needs it too, so a
 * 404 tells nothing to a caller without the key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClipstreamError } from '../../shared/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key (page, health, metrics, docs). */
    public?: boolean;
  }
}

function apiKeyMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  const auth = request.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : undefined;
}

/** Whether `request` carries the key (always true when the service has none). */
export function hasApiKey(apiKey: string | undefined, request: FastifyRequest): boolean {
  return !apiKey || apiKeyMatches(apiKey, presentedKey(request));
}

/** Adds the check to `app` itself, so it runs for every route registered after it, at any prefix, and for the 404 handler. */
export function requireApiKey(app: FastifyInstance, apiKey: string | undefined): void {
  if (!apiKey) return;
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public === true && request.is404 !== true) return;
    if (!hasApiKey(apiKey, request)) {
      throw new ClipstreamError('UNAUTHORIZED', 'missing or wrong API key (send it as the x-api-key header or Authorization: Bearer)');
    }
  });
}

/** Marks every route registered in `scope` (a plugin's own context) public. */
export function publicRoutes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
}
