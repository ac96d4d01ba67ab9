/**
 * The REST surface: Qdrant's paths, each mapped to one Store call and the schema its body must
 * satisfy. Handlers return the `result` part of Qdrant's envelope.
 */
import { StoreError } from '../engine/errors.ts';
import { storeMetrics } from './metrics.ts';
import { metrics, telemetry, versionInfo } from './service.ts';
import { SNAPSHOT_ROUTES } from './snapshot-routes.ts';
import type { Route } from './route.ts';

type Body = Record<string, unknown>;

const VECTOR_BODIES = new Set(['PointInsertOperations', 'UpdateVectors', 'UpdateOperations']);

const r = (method: string, pattern: string, handle: Route['handle'], schema?: string): Route => ({
  method,
  segments: pattern.split('/').filter(Boolean),
  schema,
  vectorBody: schema !== undefined && VECTOR_BODIES.has(schema),
  handle,
});

/**
 * Qdrant features the embedded store does not have: answered 400 naming the feature (any
 * method), so a client learns what is missing instead of meeting a bare 404.
 */
const refused = (pattern: string, feature: string): Route[] =>
  ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].map((method) =>
    r(method, pattern, () => {
      throw new StoreError(400, `Bad request: ${feature}: not supported by the embedded store`);
    }),
  );

/** Probes an orchestrator calls without credentials, answered as Qdrant does. */
const probe = (pattern: string, text: string): Route => ({ method: 'GET', segments: [pattern.slice(1)], public: true, reply: 'text', handle: () => text });

export const ROUTES: Route[] = [
  probe('/healthz', 'healthz check passed'),
  probe('/livez', 'livez check passed'),
  probe('/readyz', 'all shards are ready'),
  { ...r('GET', '/', () => versionInfo()), reply: 'bare' },
  r('GET', '/telemetry', ({ store, query }) => telemetry(store, Number(query.get('details_level') ?? 0) || 0)),
  // Qdrant's own series first (what its dashboards read), then clipstream's: log size, latency per endpoint.
  { ...r('GET', '/metrics', async ({ store }) => metrics(store) + (await storeMetrics(store).registry.metrics())), reply: 'text' },
  r('GET', '/collections', ({ store }) => store.listCollections()),
  r('GET', '/aliases', ({ store }) => store.listAliases()),
  r('POST', '/collections/aliases', ({ store, body }) => store.updateAliases(body as { actions: Body[] }), 'ChangeAliasesOperation'),
  r('GET', '/collections/*', ({ store, params }) => store.info(params[0]!)),
  r('PUT', '/collections/*', ({ store, params, body }) => store.createCollection(params[0]!, body), 'CreateCollection'),
  r('PATCH', '/collections/*', ({ store, params, body }) => store.updateCollection(params[0]!, body), 'UpdateCollection'),
  r('DELETE', '/collections/*', ({ store, params }) => store.deleteCollection(params[0]!)),
  r('GET', '/collections/*/exists', ({ store, params }) => store.exists(params[0]!)),
  r('GET', '/collections/*/aliases', ({ store, params }) => store.collectionAliases(params[0]!)),
  r('PUT', '/collections/*/index', ({ store, params, body, write }) => store.createIndex(params[0]!, body as { field_name: string }, write), 'CreateFieldIndex'),
  r('DELETE', '/collections/*/index/*', ({ store, params, write }) => store.deleteIndex(params[0]!, params[1]!, write)),
  r('PUT', '/collections/*/vectors/*', ({ store, params, body, write }) => store.createVectorName(params[0]!, params[1]!, body, write), 'VectorNameConfig'),
  r('DELETE', '/collections/*/vectors/*', ({ store, params, write }) => store.deleteVectorName(params[0]!, params[1]!, write)),
  r('POST', '/collections/*/points', ({ store, params, body }) => store.retrieve(params[0]!, body), 'PointRequest'),
  r('PUT', '/collections/*/points', ({ store, params, body, write }) => store.upsert(params[0]!, body, write), 'PointInsertOperations'),
  r('GET', '/collections/*/points/*', ({ store, params }) => store.getPoint(params[0]!, params[1]!)),
  r('POST', '/collections/*/points/delete', ({ store, params, body, write }) => store.deletePoints(params[0]!, body, write), 'PointsSelector'),
  r('PUT', '/collections/*/points/vectors', ({ store, params, body, write }) => store.updateVectors(params[0]!, body, write), 'UpdateVectors'),
  r('POST', '/collections/*/points/vectors/delete', ({ store, params, body, write }) => store.deleteVectors(params[0]!, body, write), 'DeleteVectors'),
  r('POST', '/collections/*/points/payload', ({ store, params, body, write }) => store.setPayload(params[0]!, body, write, false), 'SetPayload'),
  r('PUT', '/collections/*/points/payload', ({ store, params, body, write }) => store.setPayload(params[0]!, body, write, true), 'SetPayload'),
  r('POST', '/collections/*/points/payload/delete', ({ store, params, body, write }) => store.deletePayload(params[0]!, body, write), 'DeletePayload'),
  r('POST', '/collections/*/points/payload/clear', ({ store, params, body, write }) => store.clearPayload(params[0]!, body, write), 'PointsSelector'),
  r('POST', '/collections/*/points/batch', ({ store, params, body, write }) => store.batch(params[0]!, body as { operations: Body[] }, write), 'UpdateOperations'),
  r('POST', '/collections/*/points/scroll', ({ store, params, body }) => store.scroll(params[0]!, body), 'ScrollRequest'),
  r('POST', '/collections/*/points/count', ({ store, params, body }) => store.count(params[0]!, body), 'CountRequest'),
  r('POST', '/collections/*/points/query', ({ store, params, body }) => store.query(params[0]!, body), 'QueryRequest'),
  r('POST', '/collections/*/points/query/batch', ({ store, params, body }) => store.queryBatch(params[0]!, body as { searches: Body[] }), 'QueryRequestBatch'),
  r('POST', '/collections/*/points/query/groups', ({ store, params, body }) => store.queryGroups(params[0]!, body), 'QueryGroupsRequest'),
  r('POST', '/collections/*/points/search', ({ store, params, body }) => store.search(params[0]!, body), 'SearchRequest'),
  r('POST', '/collections/*/points/search/batch', ({ store, params, body }) => store.searchBatch(params[0]!, body), 'SearchRequestBatch'),
  r('POST', '/collections/*/points/search/groups', ({ store, params, body }) => store.searchGroups(params[0]!, body), 'SearchGroupsRequest'),
  r('POST', '/collections/*/points/recommend', ({ store, params, body }) => store.recommend(params[0]!, body), 'RecommendRequest'),
  r('POST', '/collections/*/points/recommend/batch', ({ store, params, body }) => store.recommendBatch(params[0]!, body), 'RecommendRequestBatch'),
  r('POST', '/collections/*/points/recommend/groups', ({ store, params, body }) => store.recommendGroups(params[0]!, body), 'RecommendGroupsRequest'),
  r('POST', '/collections/*/points/discover', ({ store, params, body }) => store.discover(params[0]!, body), 'DiscoverRequest'),
  r('POST', '/collections/*/points/discover/batch', ({ store, params, body }) => store.discoverBatch(params[0]!, body), 'DiscoverRequestBatch'),
  r('POST', '/collections/*/points/search/matrix/pairs', ({ store, params, body }) => store.matrixPairs(params[0]!, body), 'SearchMatrixRequest'),
  r('POST', '/collections/*/points/search/matrix/offsets', ({ store, params, body }) => store.matrixOffsets(params[0]!, body), 'SearchMatrixRequest'),
  r('POST', '/collections/*/facet', ({ store, params, body }) => store.facet(params[0]!, body), 'FacetRequest'),
  ...SNAPSHOT_ROUTES,
  ...refused('/collections/*/shards', 'shard keys (custom sharding)'),
  ...refused('/collections/*/shards/delete', 'shard keys (custom sharding)'),
  ...refused('/collections/*/cluster', 'cluster operations'),
  ...refused('/cluster', 'cluster operations'),
];

/** The route for a method and path, with captured params; literal segments win over `*`. */
export function matchRoute(method: string, segments: string[]): { route: Route; params: string[] } | { allowed: false } | undefined {
  let pathMatched = false;
  let best: { route: Route; params: string[]; literals: number } | undefined;
  for (const route of ROUTES) {
    if (route.segments.length !== segments.length) continue;
    const params: string[] = [];
    let literals = 0;
    let ok = true;
    for (let i = 0; i < segments.length; i++) {
      const want = route.segments[i]!;
      if (want === '*') params.push(segments[i]!);
      else if (want === segments[i]) literals++;
      else {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    if (!best || literals > best.literals) best = { route, params, literals };
  }
  if (best) return { route: best.route, params: best.params };
  return pathMatched ? { allowed: false } : undefined;
}
