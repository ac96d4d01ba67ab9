/**
 * GET /v1/items/:id (one point's payload) and /v1/items/:id/thumbnail (a WebP of an image
 * point, read by the service from S3 or the local folder: the point's stored source decides
 * what is read, never the client).
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClipstreamError } from '../../../shared/errors.ts';
import { withDeadline } from '../http-errors.ts';
import { errorSchema, itemParamsSchema, itemResponseSchema, thumbnailQuerySchema } from '../schemas.ts';
import type { QuerySearcher, StoreHandle } from '../search.ts';
import type { ThumbnailService } from '../thumbnails.ts';

export interface ItemRoutesOptions {
  store: StoreHandle;
  /** The collection searches go to now (it follows the alias). */
  collection: () => string;
  searcher: QuerySearcher;
  thumbnails: ThumbnailService;
  /** Deadline for reading and resizing the original. */
  timeoutMs: number;
}

const errorResponses = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 413: errorSchema, 503: errorSchema };

export const itemRoutes: FastifyPluginAsyncTypebox<ItemRoutesOptions> = async (app, o) => {
  async function readPayload(id: string): Promise<Record<string, unknown>> {
    const records = await o.searcher.storeCall('read item', () =>
      o.store.client.retrieve(o.collection(), { ids: [id.toLowerCase()], with_payload: true, with_vector: false }),
    );
    const record = records[0];
    if (!record) throw new ClipstreamError('NOT_FOUND', `no item with this id in ${o.collection()}`, { item: id });
    // lex_terms (the term ids the lexical branch filters on) mean nothing to a client.
    const { lex_terms: _ids, ...payload } = (record.payload ?? {}) as Record<string, unknown>;
    return payload;
  }

  app.get(
    '/items/:id',
    { schema: { tags: ['items'], summary: "one point's payload", params: itemParamsSchema, response: { 200: itemResponseSchema, ...errorResponses } } },
    async (request) => {
      const { id } = request.params;
      const payload = await readPayload(id);
      return { id, payload, ...(payload.modality === 'image' ? { thumbnail: `/v1/items/${id}/thumbnail` } : {}) };
    },
  );

  app.get(
    '/items/:id/thumbnail',
    {
      schema: {
        tags: ['items'],
        summary: 'a resized image (WebP) of an image point, read from S3 or the local folder by the service',
        params: itemParamsSchema,
        querystring: thumbnailQuerySchema,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // The schema's default fills `size` in; the fallback only satisfies the type.
      const size = request.query.size ?? 256;
      const payload = await readPayload(id);
      const source = payload.source;
      if (payload.modality !== 'image' || typeof source !== 'string') {
        throw new ClipstreamError('NOT_FOUND', 'this item is not an image, it has no thumbnail', { item: id });
      }
      const version = String(payload.content_hash ?? '');
      const etag = `"${createHash('sha256').update(`${version}:${size}`).digest('hex').slice(0, 32)}"`;
      if (request.headers['if-none-match'] === etag) return reply.status(304).send();
      const thumb = await withDeadline(
        o.thumbnails.get(source, version, size),
        o.timeoutMs,
        () => new ClipstreamError('SOURCE_UNREACHABLE', `the image could not be read within ${o.timeoutMs} ms`, { item: source }),
      );
      return reply.type(thumb.contentType).header('cache-control', 'private, max-age=3600').header('etag', etag).send(thumb.bytes);
    },
  );
};
