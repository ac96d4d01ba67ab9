/**
 * The search, recommend and discover endpoints Qdrant 1.19 still serves (documented up to the
 * 1.18 API), answered as Qdrant answers them: each request rewritten into the universal query
 * it stands for, the result a bare list of scored points (or `{groups}` for the group forms).
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest } from '../errors.ts';
import type { Collection } from '../collection.ts';
import { query, queryGroups, type CollectionResolver, type QueryGroupsRequest, type QueryRequest, type ScoredPointJson } from './index.ts';

type Body = Record<string, unknown>;

/** Fields every legacy request shares with the universal query. */
function common(b: Body): Body {
  const out: Body = {};
  for (const key of ['filter', 'params', 'limit', 'offset', 'with_payload', 'with_vector', 'score_threshold', 'lookup_from']) {
    if (b[key] !== undefined && b[key] !== null) out[key] = b[key];
  }
  return out;
}

/** NamedVectorStruct: a bare dense vector, or {name, vector} with a dense or sparse vector. */
function searchQuery(b: Schemas['SearchRequest']): QueryRequest {
  const v = b.vector as unknown;
  if (Array.isArray(v)) return { ...common(b as Body), query: v } as QueryRequest;
  if (v !== null && typeof v === 'object' && 'vector' in v) {
    const named = v as { name?: string; vector: unknown };
    return { ...common(b as Body), query: named.vector, using: named.name ?? '' } as QueryRequest;
  }
  throw badRequest('vector: expected a vector or {"name": …, "vector": …}');
}

function recommendQuery(b: Schemas['RecommendRequest']): QueryRequest {
  const r = b as Body;
  return {
    ...common(r),
    ...(r.using ? { using: r.using } : {}),
    query: { recommend: { positive: b.positive ?? [], negative: b.negative ?? [], strategy: b.strategy ?? 'average_vector' } },
  } as QueryRequest;
}

function discoverQuery(b: Schemas['DiscoverRequest']): QueryRequest {
  const r = b as Body;
  const context = b.context ?? [];
  const q = b.target !== undefined && b.target !== null ? { discover: { target: b.target, context } } : { context };
  return { ...common(r), ...(r.using ? { using: r.using } : {}), query: q } as QueryRequest;
}

function groups(b: Body, q: QueryRequest): QueryGroupsRequest {
  return { ...q, group_by: b.group_by, group_size: b.group_size, limit: b.limit, ...(b.with_lookup ? { with_lookup: b.with_lookup } : {}) } as QueryGroupsRequest;
}

export function search(store: CollectionResolver, col: Collection, body: Schemas['SearchRequest']): ScoredPointJson[] {
  return query(store, col, searchQuery(body)).points;
}

export function searchBatch(store: CollectionResolver, col: Collection, body: Schemas['SearchRequestBatch']): ScoredPointJson[][] {
  return body.searches.map((s) => search(store, col, s));
}

export function searchGroups(store: CollectionResolver, col: Collection, body: Schemas['SearchGroupsRequest']) {
  return queryGroups(store, col, groups(body as Body, searchQuery(body as Schemas['SearchRequest'])));
}

export function recommend(store: CollectionResolver, col: Collection, body: Schemas['RecommendRequest']): ScoredPointJson[] {
  return query(store, col, recommendQuery(body)).points;
}

export function recommendBatch(store: CollectionResolver, col: Collection, body: Schemas['RecommendRequestBatch']): ScoredPointJson[][] {
  return body.searches.map((s) => recommend(store, col, s));
}

export function recommendGroups(store: CollectionResolver, col: Collection, body: Schemas['RecommendGroupsRequest']) {
  return queryGroups(store, col, groups(body as Body, recommendQuery(body as Schemas['RecommendRequest'])));
}

export function discover(store: CollectionResolver, col: Collection, body: Schemas['DiscoverRequest']): ScoredPointJson[] {
  return query(store, col, discoverQuery(body)).points;
}

export function discoverBatch(store: CollectionResolver, col: Collection, body: Schemas['DiscoverRequestBatch']): ScoredPointJson[][] {
  return body.searches.map((s) => discover(store, col, s));
}
