/** The search page at `/`, public, under its own Content-Security-Policy (see search-page.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { PAGE_CSP, searchPage } from '../search-page.ts';

export const pageRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', { schema: { hide: true }, config: { public: true } }, async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-cache').send(searchPage());
  });
};
