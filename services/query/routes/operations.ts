/**
 * Operations routes, public and never shed (they are how an operator sees an overload):
 * /healthz (the process is alive), /readyz (model loaded and store reachable; the reasons only
 * for a caller with the API key, since they name the model, the store and the point count) and
 * /metrics (Prometheus).
 */
import type { FastifyPluginAsync } from 'fastify';
import { ClipstreamError } from '../../../shared/errors.ts';
import { REBUILD_HINT } from '../../../shared/store/schema.ts';
import { hasApiKey } from '../auth.ts';
import { withDeadline } from '../http-errors.ts';
import type { CollectionFollower } from '../collection-follower.ts';
import type { QueryMetrics } from '../metrics.ts';
import { storeError, type QueryEncoder, type StoreHandle } from '../search.ts';

export interface OperationsOptions {
  encoder: QueryEncoder;
  store: StoreHandle;
  follower: CollectionFollower;
  /** Upper bound for the readiness probe of the store (capped at 3 s). */
  timeoutMs: number;
  apiKey: string | undefined;
  metrics: QueryMetrics;
}

interface Check {
  ok: boolean;
  detail: string;
}

const operations = { public: true, shed: false } as const;

export const operationsRoutes: FastifyPluginAsync<OperationsOptions> = async (app, o) => {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'the process is alive', security: [] }, config: operations }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: { tags: ['operations'], summary: 'model loaded and store reachable (503 otherwise); the reasons only with the API key', security: [] },
      config: operations,
    },
    async (request, reply) => {
      const checks = await readiness();
      const ready = Object.values(checks).every((c) => c.ok);
      const verdict = { status: ready ? 'ready' : 'not ready' };
      const detailed = hasApiKey(o.apiKey, request);
      return reply
        .status(ready ? 200 : 503)
        .send(detailed ? { ...verdict, checks: Object.fromEntries(Object.entries(checks).map(([name, c]) => [name, c.detail])) } : verdict);
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', security: [] }, config: operations }, async (_request, reply) => {
    return reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });

  async function readiness(): Promise<Record<'model' | 'store', Check>> {
    const { encoder, store, follower } = o;
    const ms = Math.min(o.timeoutMs, 3000);
    // The periodic refresh keeps `current` fresh; a probe does not wait for another read.
    const collection = follower.current;
    const model = encoder.model?.modelId
      ? { ok: true, detail: `ok: ${encoder.model.modelId}${encoder.model.isTestModel ? ' [TEST MODEL]' : ''}` }
      : { ok: false, detail: 'not loaded' };
    try {
      const info = await withDeadline(
        store.client.getCollection(collection),
        ms,
        () => new ClipstreamError('STORE_UNAVAILABLE', `store at ${store.url} did not answer within ${ms} ms`),
      );
      const stored = (info.config.metadata as { model?: unknown } | null | undefined)?.model;
      if (typeof stored === 'string' && encoder.model && stored !== encoder.model.modelId) {
        return { model, store: { ok: false, detail: `collection ${collection} holds vectors of ${stored}, but queries are encoded with ${encoder.model.modelId}; ${REBUILD_HINT}` } };
      }
      // Pinned to an older version of its own model: it answers correctly, and says what it waits for.
      const note = follower.pinned && follower.mismatch ? `; note: ${follower.mismatch}` : '';
      return { model, store: { ok: true, detail: `ok: ${collection} (${info.points_count ?? 0} points)${note}` } };
    } catch (err) {
      return { model, store: { ok: false, detail: storeError(err, store.url, 'readiness check', collection).message } };
    }
  }
};
