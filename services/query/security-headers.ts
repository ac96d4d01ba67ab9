/**
 * Security headers on every answer (helmet): nosniff, frame and referrer policies, HSTS for
 * deployments behind TLS, and a Content-Security-Policy that lets a JSON answer load nothing.
 * The search page and the docs set their own, narrower-than-usual policies on their routes.
 */
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** What answers written straight to a socket (malformed requests) carry too. */
export const RAW_SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

export async function securityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    // Thumbnails may be shown by a shop front on a sibling origin (shop.example / api.shop.example).
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
}
