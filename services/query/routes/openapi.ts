/**
 * The OpenAPI document (generated from the route schemas) at /openapi.json and its docs page at
 * /docs. Registered before every route so @fastify/swagger sees them all. Both are public.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { publicRoutes } from '../auth.ts';

export async function openApi(app: FastifyInstance, options: { apiKeyRequired: boolean }): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'clipstream query API',
        description: 'Multilingual, multimodal catalogue search (jina-clip-v2 Matryoshka embeddings, coarse-to-fine in Qdrant).',
        version: '1',
      },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
      ...(options.apiKeyRequired ? { security: [{ apiKey: [] }] } : {}),
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
    docs.get('/openapi.json', { schema: { hide: true } }, async () => docs.swagger());
  });
}
