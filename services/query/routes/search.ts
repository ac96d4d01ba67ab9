/**
 * POST /v1/search: text, image (JSON base64/URL, or a multipart upload) or stored point. A
 * multipart request is turned into the same body a JSON client sends before validation, so one
 * schema checks both and the handler gets one typed request.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readMultipartSearch } from '../multipart.ts';
import { errorSchema, searchBodySchema, searchResponseSchema, type SchemaLimits, type SearchRequest } from '../schemas.ts';
import type { QuerySearcher } from '../search.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The image file of a multipart search. */
    queryImage?: Buffer | undefined;
  }
}

export interface SearchRoutesOptions {
  searcher: QuerySearcher;
  limits: SchemaLimits;
}

export const searchRoutes: FastifyPluginAsyncTypebox<SearchRoutesOptions> = async (app, { searcher, limits }) => {
  app.decorateRequest('queryImage', undefined);
  app.post(
    '/search',
    {
      schema: {
        tags: ['search'],
        summary: 'search the catalogue by text, image or stored point',
        consumes: ['application/json', 'multipart/form-data'],
        body: searchBodySchema(limits),
        response: {
          200: searchResponseSchema,
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
          413: errorSchema,
          503: errorSchema,
          415: errorSchema,
          502: errorSchema,
        },
      },
      preValidation: async (request) => {
        if (!request.isMultipart()) return;
        const { body, image } = await readMultipartSearch(request);
        // Validated against the body schema right after this hook, like a JSON body.
        request.body = body as SearchRequest;
        request.queryImage = image;
      },
    },
    async (request) => searcher.search(request.body, request.queryImage),
  );
};
