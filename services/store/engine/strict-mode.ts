/**
 * Strict mode (`strict_mode_config` with `enabled: true`): requests a collection's owner has
 * ruled out are refused before they run, with Qdrant's messages — "Bad request: <what>. Help:
 * <what to do>". Enforced here: filtering on keys without a fitting payload index (reads,
 * prefetches, group_by and formulas: `unindexed_filtering_retrieve`; filtered writes:
 * `unindexed_filtering_update`), `max_query_limit`, `max_timeout`, `search_allow_exact`,
 * `search_max_hnsw_ef`, `search_max_oversampling`, `upsert_max_batchsize`,
 * `filter_max_conditions`, `condition_max_size`, `max_points_count`,
 * `max_collection_vector_size_bytes`, `max_payload_index_count`, sparse `max_length`,
 * multivector `max_vectors`, and the read/write rate limits (rate-limit.ts). The other settings
 * are kept and echoed only.
 */
import { StoreError } from './errors.ts';
import type { IndexSchema } from './indexes.ts';
import { charge } from './rate-limit.ts';

export interface StrictModeConfig {
  enabled?: boolean | null;
  max_query_limit?: number | null;
  max_timeout?: number | null;
  unindexed_filtering_retrieve?: boolean | null;
  unindexed_filtering_update?: boolean | null;
  search_max_hnsw_ef?: number | null;
  search_allow_exact?: boolean | null;
  search_max_oversampling?: number | null;
  upsert_max_batchsize?: number | null;
  filter_max_conditions?: number | null;
  condition_max_size?: number | null;
  max_payload_index_count?: number | null;
  read_rate_limit?: number | null;
  write_rate_limit?: number | null;
  max_points_count?: number | null;
  max_collection_vector_size_bytes?: number | null;
  sparse_config?: Record<string, { max_length?: number | null } | null> | null;
  multivector_config?: Record<string, { max_vectors?: number | null } | null> | null;
}

/** What the checks need to know about the collection. */
export interface StrictModeTarget {
  readonly meta: { strict_mode_config?: Record<string, unknown> | null; payload_schema: Record<string, IndexSchema> };
  /** Points in the collection now (max_points_count). */
  readonly liveCount: number;
  /** Bytes of stored vectors now (max_collection_vector_size_bytes). */
  vectorBytes(): number;
}

type Body = Record<string, unknown>;

const strictModeError = (description: string, help: string) => new StoreError(400, `Bad request: ${description}. Help: ${help}`);
const badRequestError = (description: string) => new StoreError(400, `Bad request: ${description}`);

/** The collection's strict mode settings when enabled, else null. */
function active(c: StrictModeTarget): StrictModeConfig | null {
  const cfg = c.meta.strict_mode_config as StrictModeConfig | null | undefined;
  return cfg && cfg.enabled === true ? cfg : null;
}

function limitCheck(value: number | undefined | null, limit: number | undefined | null, name: string): void {
  if (value === undefined || value === null || limit === undefined || limit === null) return;
  if (value > limit) throw strictModeError(`Limit exceeded ${value} > ${limit} for "${name}"`, `Reduce the "${name}" parameter to or below ${limit}.`);
}

/** `?timeout=` of a request to the collection. */
export function checkTimeout(c: StrictModeTarget, timeout: string | null): void {
  const cfg = active(c);
  if (!cfg || timeout === null) return;
  const t = Number(timeout);
  if (Number.isFinite(t)) limitCheck(t, cfg.max_timeout, 'timeout');
}

/** Bodies of read requests, by the schema they were validated against. */
const READS = new Set([
  'ScrollRequest',
  'CountRequest',
  'QueryRequest',
  'QueryGroupsRequest',
  'SearchRequest',
  'SearchGroupsRequest',
  'RecommendRequest',
  'RecommendGroupsRequest',
  'DiscoverRequest',
  'SearchMatrixRequest',
  'FacetRequest',
]);
const READ_BATCHES = new Set(['QueryRequestBatch', 'SearchRequestBatch', 'RecommendRequestBatch', 'DiscoverRequestBatch']);

/** Refuses a request (its validated body) that the collection's strict mode rules out. */
export function enforceStrictMode(c: StrictModeTarget, schema: string, body: unknown): void {
  const cfg = active(c);
  if (!cfg || body === null || typeof body !== 'object') return;
  const b = body as Body;
  checkRequest(c, cfg, b, schema);
  // Only a request that passed every check spends tokens.
  if (typeof cfg.read_rate_limit === 'number' && (READS.has(schema) || READ_BATCHES.has(schema) || schema === 'PointRequest')) charge(c, 'read', cfg.read_rate_limit, readCost(b, schema));
  if (typeof cfg.write_rate_limit === 'number' && WRITES.has(schema)) charge(c, 'write', cfg.write_rate_limit, writeCost(c, b, schema));
}

const WRITES = new Set(['PointInsertOperations', 'UpdateVectors', 'PointsSelector', 'SetPayload', 'DeletePayload', 'DeleteVectors', 'UpdateOperations']);

/** Read tokens: 1 per query plus 1 per filter condition and example (a retrieve: 1 per id). */
function readCost(b: Body, schema: string): number {
  if (schema === 'PointRequest') return Math.max(1, asList(b.ids).length);
  if (READ_BATCHES.has(schema)) return asList(b.searches).reduce((s: number, one) => s + readCost(one as Body, 'one'), 0);
  let cost = 1 + (isObject(b.filter) ? countConditions(b.filter) : 0) + asList(b.positive).length + asList(b.negative).length;
  for (const p of asList(b.prefetch)) if (isObject(p)) cost += readCost(p, 'one');
  return cost;
}

/**
 * Write tokens: 1 per point written or named; a filtered change costs the points it may touch,
 * estimated as half the collection (Qdrant's cardinality estimate for a filter it cannot look up).
 */
function writeCost(c: StrictModeTarget, b: Body, schema: string): number {
  if (schema === 'UpdateOperations') {
    let cost = 0;
    for (const op of asList(b.operations)) for (const [kind, inner] of Object.entries((op ?? {}) as Body)) cost += writeCost(c, (inner ?? {}) as Body, kind === 'upsert' ? 'PointInsertOperations' : 'one');
    return Math.max(1, cost);
  }
  const batch = b.batch as Body | undefined;
  if (Array.isArray(b.points)) return Math.max(1, b.points.length);
  if (batch && Array.isArray(batch.ids)) return Math.max(1, batch.ids.length);
  return isObject(b.filter) ? Math.max(1, Math.floor(c.liveCount / 2)) : 1;
}

function checkRequest(c: StrictModeTarget, cfg: StrictModeConfig, b: Body, schema: string): void {
  if (READS.has(schema)) return checkRead(c, cfg, b, schema);
  if (READ_BATCHES.has(schema)) {
    for (const one of asList(b.searches)) checkRead(c, cfg, one as Body, schema);
    return;
  }
  switch (schema) {
    case 'PointInsertOperations':
      return checkUpsert(c, cfg, b);
    case 'UpdateVectors':
      return checkUpdateVectors(cfg, b);
    case 'CreateFieldIndex': {
      const max = cfg.max_payload_index_count;
      if (typeof max === 'number' && Object.keys(c.meta.payload_schema).length >= max) {
        throw strictModeError(`Collection already has the maximum number of payload indices (${max})`, 'Please delete an existing index before creating a new one.');
      }
      return;
    }
    case 'PointsSelector':
    case 'SetPayload':
    case 'DeletePayload':
    case 'DeleteVectors':
      return checkWriteFilter(c, cfg, b.filter);
    case 'UpdateOperations':
      for (const op of asList(b.operations)) {
        for (const [kind, inner] of Object.entries((op ?? {}) as Body)) {
          if (kind === 'upsert') checkUpsert(c, cfg, inner as Body);
          else if (kind === 'update_vectors') checkUpdateVectors(cfg, inner as Body);
          else if (inner && typeof inner === 'object') checkWriteFilter(c, cfg, (inner as Body).filter);
        }
      }
      return;
    default:
      return;
  }
}

function checkUpsert(c: StrictModeTarget, cfg: StrictModeConfig, b: Body): void {
  const batch = b.batch as Body | undefined;
  const n = Array.isArray(b.points) ? b.points.length : Array.isArray(batch?.ids) ? (batch.ids as unknown[]).length : undefined;
  limitCheck(n, cfg.upsert_max_batchsize, 'upsert limit');
  // Limits on the collection's size hold once reached: the next write is refused.
  if (typeof cfg.max_points_count === 'number' && c.liveCount >= cfg.max_points_count) throw badRequestError(`Max points count limit of ${cfg.max_points_count} reached!`);
  const maxBytes = cfg.max_collection_vector_size_bytes;
  if (typeof maxBytes === 'number' && c.vectorBytes() >= maxBytes) throw badRequestError(`Max vector storage size limit of ${maxBytes} bytes reached!`);
  if (Array.isArray(b.points)) for (const p of b.points) checkVectorSizes(cfg, (p as Body | null)?.vector);
  else if (batch && isObject(batch.vectors)) {
    // Batch form: {name: [value per point]}.
    for (const [name, values] of Object.entries(batch.vectors)) for (const v of asList(values)) checkVectorSizes(cfg, { [name]: v });
  }
}

function checkUpdateVectors(cfg: StrictModeConfig, b: Body): void {
  if (Array.isArray(b.points)) {
    limitCheck(b.points.length, cfg.upsert_max_batchsize, 'update limit');
    for (const p of b.points) checkVectorSizes(cfg, (p as Body | null)?.vector);
  }
}

/** sparse_config.max_length and multivector_config.max_vectors per named vector. */
function checkVectorSizes(cfg: StrictModeConfig, vector: unknown): void {
  if (!isObject(vector) || (!cfg.sparse_config && !cfg.multivector_config)) return;
  for (const [name, v] of Object.entries(vector)) {
    const maxLength = cfg.sparse_config?.[name]?.max_length;
    const indices = isObject(v) ? (v as Body).indices : undefined;
    if (typeof maxLength === 'number' && Array.isArray(indices) && indices.length > maxLength) {
      throw badRequestError(`Sparse vector '${name}' has a limit of ${maxLength} indices, but ${indices.length} were provided!`);
    }
    const maxVectors = cfg.multivector_config?.[name]?.max_vectors;
    if (typeof maxVectors === 'number' && Array.isArray(v) && v.length > maxVectors && v.every((x) => Array.isArray(x) || x instanceof Float32Array)) {
      throw badRequestError(`Multivector '${name}' has a limit of ${maxVectors} vectors, but ${v.length} were provided!`);
    }
  }
}

function checkWriteFilter(c: StrictModeTarget, cfg: StrictModeConfig, filter: unknown): void {
  if (!isObject(filter)) return;
  if (cfg.unindexed_filtering_update === false) requireIndexes(c, filter);
  checkFilterSize(cfg, filter);
}

function checkRead(c: StrictModeTarget, cfg: StrictModeConfig, b: Body, schema: string): void {
  limitCheck(queryLimit(b, schema), cfg.max_query_limit, 'limit');
  if (isObject(b.filter)) {
    if (cfg.unindexed_filtering_retrieve === false) requireIndexes(c, b.filter);
    checkFilterSize(cfg, b.filter);
  }
  // A count is exact unless asked otherwise (Qdrant's default).
  if (schema === 'CountRequest' && cfg.search_allow_exact === false && b.exact !== false) exactDisabled();
  if (isObject(b.params)) checkParams(cfg, b.params);
  if (typeof b.group_by === 'string' && cfg.unindexed_filtering_retrieve === false) {
    const index = c.meta.payload_schema[b.group_by];
    if (!index) throw strictModeError(`Index required but not found for "${b.group_by}"`, 'Create an index supporting `match` for this key.');
    if (!MATCHABLE.has(index.type)) throw strictModeError(`Index of type "${capitalise(index.type)}" found for "${b.group_by}"`, 'Create an index supporting `match` for this key.');
  }
  const q = b.query as Body | undefined;
  if (isObject(q) && q.formula !== undefined && cfg.unindexed_filtering_retrieve === false) checkFormula(c, q.formula);
  for (const p of asList(b.prefetch)) if (isObject(p)) checkRead(c, cfg, p, 'Prefetch');
}

/** Payload keys a formula reads (variables, conditions, geo_distance, datetime_key) need fitting indexes too. */
function checkFormula(c: StrictModeTarget, expr: unknown): void {
  const need = (key: string, wanted: Wanted[]) => {
    const index = c.meta.payload_schema[key];
    if (index && wanted.some((w) => serves(index, w))) return;
    const kinds = [...new Set(wanted.map((w) => w.label))].sort().join(', ');
    throw strictModeError(`Index required but not found for "${key}" of one of the following types: [${kinds}]`, 'Create an index for this key or use a different formula expression.');
  };
  const walk = (e: unknown): void => {
    if (typeof e === 'string') {
      if (!e.startsWith('$score')) need(e, [{ type: 'integer', label: 'integer', use: 'range' }, { type: 'float', label: 'float' }]);
      return;
    }
    if (Array.isArray(e)) return e.forEach(walk);
    if (!isObject(e)) return;
    if ('key' in e || 'must' in e || 'should' in e || 'must_not' in e || 'nested' in e) return requireIndexes(c, { must: [e] });
    const geo = e.geo_distance as { to?: unknown } | undefined;
    if (geo && typeof geo.to === 'string') return need(geo.to, [{ type: 'geo', label: 'geo' }]);
    if (typeof e.datetime_key === 'string') return need(e.datetime_key, [{ type: 'datetime', label: 'datetime' }]);
    if ('datetime' in e) return; // a constant
    for (const v of Object.values(e)) walk(v);
  };
  walk(expr);
}

/**
 * The number of results a read asks for, as Qdrant counts it: groups ask for limit × group_size,
 * a distance matrix for sample × limit, a scroll for its limit or the default 10.
 */
function queryLimit(b: Body, schema: string): number | undefined {
  const limit = typeof b.limit === 'number' ? b.limit : undefined;
  if (schema === 'ScrollRequest') return limit ?? 10;
  if (schema.endsWith('GroupsRequest')) return limit === undefined ? undefined : limit * (typeof b.group_size === 'number' ? b.group_size : 1);
  if (schema === 'SearchMatrixRequest') return typeof b.sample === 'number' && limit !== undefined ? b.sample * limit : (limit ?? (typeof b.sample === 'number' ? b.sample : undefined));
  return limit;
}

function checkParams(cfg: StrictModeConfig, params: Body): void {
  limitCheck(params.hnsw_ef as number | undefined, cfg.search_max_hnsw_ef, 'hnsw_ef');
  const q = params.quantization as Body | null | undefined;
  limitCheck(q?.oversampling as number | undefined, cfg.search_max_oversampling, 'oversampling');
  if (params.exact === true && cfg.search_allow_exact === false) exactDisabled();
}

function exactDisabled(): never {
  throw strictModeError('Exact search disabled!', 'Set exact=false.');
}

function checkFilterSize(cfg: StrictModeConfig, filter: Body): void {
  if (typeof cfg.filter_max_conditions === 'number') {
    const n = countConditions(filter);
    if (n > cfg.filter_max_conditions) throw strictModeError(`Filter condition limit reached (${n} > ${cfg.filter_max_conditions})`, 'Reduce the amount of conditions of your filter.');
  }
  if (typeof cfg.condition_max_size === 'number') {
    const size = largestCondition(filter);
    if (size > cfg.condition_max_size) throw strictModeError(`Condition size limit reached (${size} > ${cfg.condition_max_size})`, 'Reduce the size of your condition.');
  }
}

/** Conditions of a filter, sub-filters and nested conditions counted by what they hold. */
function countConditions(filter: Body): number {
  let n = 0;
  for (const c of clauses(filter)) {
    const nested = c.nested as { filter?: unknown } | undefined;
    n += isSubFilter(c) ? countConditions(c) : nested && isObject(nested.filter) ? countConditions(nested.filter) : 1;
  }
  return n;
}

/** The largest input of one condition: values of match any/except, points of a polygon, ids of has_id. */
function largestCondition(filter: Body): number {
  let max = 0;
  for (const c of clauses(filter)) {
    const nested = c.nested as { filter?: unknown } | undefined;
    let size = 1;
    if (isSubFilter(c)) size = largestCondition(c);
    else if (nested && isObject(nested.filter)) size = largestCondition(nested.filter);
    else if (Array.isArray(c.has_id)) size = c.has_id.length;
    else {
      const m = c.match as Body | undefined;
      if (m && Array.isArray(m.any)) size = m.any.length;
      else if (m && Array.isArray(m.except)) size = m.except.length;
      const poly = c.geo_polygon as { exterior?: { points?: unknown[] }; interiors?: Array<{ points?: unknown[] }> | null } | undefined;
      if (poly) size = (poly.exterior?.points?.length ?? 0) + (poly.interiors ?? []).reduce((s, r) => s + (r.points?.length ?? 0), 0);
    }
    if (size > max) max = size;
  }
  return max;
}

const MATCHABLE = new Set(['keyword', 'integer', 'bool', 'uuid']);

/** Throws for the first condition whose key has no index of a type able to serve it. */
function requireIndexes(c: StrictModeTarget, filter: Body, prefix = ''): void {
  for (const cond of clauses(filter)) {
    if (isSubFilter(cond)) {
      requireIndexes(c, cond, prefix);
      continue;
    }
    const nested = cond.nested as { key?: unknown; filter?: unknown } | undefined;
    if (nested && typeof nested.key === 'string' && isObject(nested.filter)) {
      requireIndexes(c, nested.filter, `${prefix}${nested.key}[].`);
      continue;
    }
    if (typeof cond.key !== 'string') continue; // has_id, has_vector, is_empty, is_null
    const key = prefix + cond.key;
    const wanted = fittingIndexes(cond);
    if (wanted.length === 0) continue;
    const index = c.meta.payload_schema[key];
    if (index && wanted.some((w) => serves(index, w))) continue;
    const kinds = [...new Set(wanted.map((w) => w.label))].sort().join(', ');
    throw strictModeError(`Index required but not found for "${key}" of one of the following types: [${kinds}]`, 'Create an index for this key or use a different filter.');
  }
}

interface Wanted {
  type: string;
  label: string;
  /** The integer index's capability the condition uses. */
  use?: 'lookup' | 'range';
  phrase?: boolean;
}

/** The index types that can serve a field condition (as Qdrant infers them from it). */
function fittingIndexes(cond: Body): Wanted[] {
  const out: Wanted[] = [];
  const m = cond.match as Body | undefined;
  if (m) {
    const values = 'value' in m ? [m.value] : 'any' in m ? asList(m.any) : 'except' in m ? asList(m.except) : null;
    if (values) {
      const sample = values[0];
      if (typeof sample === 'string') out.push({ type: 'keyword', label: 'keyword' }, { type: 'uuid', label: 'uuid' });
      else if (typeof sample === 'boolean') out.push({ type: 'bool', label: 'bool' });
      else if (typeof sample === 'number') out.push({ type: 'integer', label: 'integer', use: 'lookup' });
      else out.push({ type: 'keyword', label: 'keyword' }, { type: 'integer', label: 'integer', use: 'lookup' });
    } else if ('phrase' in m) out.push({ type: 'text', label: 'text (with phrase_matching: true)', phrase: true });
    else if ('text' in m || 'text_any' in m) out.push({ type: 'text', label: 'text' });
  }
  const r = cond.range as Body | undefined;
  if (r) {
    const bound = [r.gt, r.gte, r.lt, r.lte].find((v) => v !== undefined && v !== null);
    if (typeof bound === 'string') out.push({ type: 'datetime', label: 'datetime' });
    else out.push({ type: 'integer', label: 'integer', use: 'range' }, { type: 'float', label: 'float' });
  }
  if (cond.geo_radius || cond.geo_bounding_box || cond.geo_polygon) out.push({ type: 'geo', label: 'geo' });
  return out;
}

function serves(index: IndexSchema, w: Wanted): boolean {
  if (index.type !== w.type) return false;
  if (w.use && index.params?.[w.use] === false) return false;
  if (w.phrase && index.params?.phrase_matching !== true) return false;
  return true;
}

function clauses(filter: Body): Body[] {
  const min = filter.min_should as { conditions?: unknown } | undefined;
  return [...asList(filter.must), ...asList(filter.should), ...asList(filter.must_not), ...asList(min?.conditions)].filter(isObject);
}

function isSubFilter(c: Body): boolean {
  return !('key' in c) && !('nested' in c) && ('must' in c || 'should' in c || 'must_not' in c || 'min_should' in c);
}

function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function isObject(v: unknown): v is Body {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
