/** GET /v1/collections: the searched collection — size, schema, model versions, vectors, indexes, stage limits. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { LoadedCalibration } from '../../../shared/store/calibrate.ts';
import { resolveAlias, SCHEMA_VERSION } from '../../../shared/store/schema.ts';
import type { CollectionFollower } from '../collection-follower.ts';
import type { QueryEncoder, QuerySearcher, StoreHandle } from '../search.ts';

export interface CollectionRoutesOptions {
  encoder: QueryEncoder;
  store: StoreHandle;
  /** The alias applications use. */
  alias: string;
  /** What searches go to now. */
  follower: CollectionFollower;
  searcher: QuerySearcher;
  calibration: LoadedCalibration;
}

interface CollectionMetadata {
  model?: string;
  dims?: number[];
  schema_version?: number;
  created_at?: string;
}

export const collectionRoutes: FastifyPluginAsyncTypebox<CollectionRoutesOptions> = async (app, o) => {
  const { encoder, store, alias, follower, searcher, calibration } = o;
  app.get('/collections', { schema: { tags: ['collections'], summary: 'the searched collection: size, schema and model versions' } }, async () => {
    await follower.refresh();
    const physical = follower.current === alias ? ((await searcher.storeCall('resolve alias', () => resolveAlias(store.client, alias))) ?? alias) : follower.current;
    const info = await searcher.storeCall('collection info', () => store.client.getCollection(physical));
    const meta = (info.config.metadata ?? {}) as CollectionMetadata;
    const vectors = (info.config.params.vectors ?? {}) as Record<string, { size?: number; distance?: string; on_disk?: boolean }>;
    return {
      model: encoder.model.modelId,
      test_model: encoder.model.isTestModel,
      schema_version: SCHEMA_VERSION,
      collections: [
        {
          name: alias,
          collection: physical,
          status: info.status,
          points: info.points_count ?? 0,
          model: meta.model ?? null,
          dims: meta.dims ?? Object.values(vectors).map((v) => v.size).filter((n): n is number => typeof n === 'number'),
          schema_version: meta.schema_version ?? null,
          created_at: meta.created_at ?? null,
          vectors: Object.fromEntries(Object.entries(vectors).map(([name, v]) => [name, { size: v.size, distance: v.distance, on_disk: v.on_disk ?? false }])),
          payload_indexes: Object.fromEntries(Object.entries(info.payload_schema ?? {}).map(([field, s]) => [field, s?.data_type ?? null])),
          stage_limits: { limits: calibration.stageLimits, source: calibration.source, ...(calibration.recall !== undefined ? { recall: calibration.recall } : {}) },
        },
      ],
    };
  });
};
