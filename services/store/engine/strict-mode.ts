/**
 * Strict mode (`strict_mode_config` with `enabled: true`): requests a collection's owner has
 * ruled out are refused before they run, with Qdrant's messages — "Bad request: <what>. Help:
 * <what to do>". Enforced here: filtering on keys without a fitting payload index (reads:
 * `unindexed_filtering_retrieve`, filtered writes: `unindexed_filtering_update`, group_by
 * included), `max_query_limit` (the request's and every prefetch's limit), `max_timeout`,
 * `search_allow_exact`, `search_max_hnsw_ef`, `search_max_oversampling`, `upsert_max_batchsize`
 * and `filter_max_conditions`. Other settings are kept and echoed only.
 */
import { StoreError } from './errors.ts';
import type { IndexSchema } from './indexes.ts';

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
}

/** What the checks need to know about the collection. */
export interface StrictModeTarget {
  readonly meta: { strict_mode_config?: Record<string, unknown> | null; payload_schema: Record<string, IndexSchema> };
}

type Body = Record<string, unknown>;

const strictModeError = (description: string, help: string) => new StoreError(400, `Bad request: ${description}. Help: ${help}`);

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
  if (READS.has(schema)) return checkRead(c, cfg, b, schema);
  if (READ_BATCHES.has(schema)) {
    for (const one of asList(b.searches)) checkRead(c, cfg, one as Body, schema);
    return;
  }
  switch (schema) {
    case 'PointInsertOperations':
      return checkUpsert(cfg, b);
    case 'PointsSelector':
    case 'SetPayload':
    case 'DeletePayload':
    case 'DeleteVectors':
      return checkWriteFilter(c, cfg, b.filter);
    case 'UpdateOperations':
      for (const op of asList(b.operations)) {
        for (const [kind, inner] of Object.entries((op ?? {}) as Body)) {
          if (kind === 'upsert') checkUpsert(cfg, inner as Body);
          else if (inner && typeof inner === 'object') checkWriteFilter(c, cfg, (inner as Body).filter);
        }
      }
      return;
    default:
      return;
  }
}

function checkUpsert(cfg: StrictModeConfig, b: Body): void {
  const n = Array.isArray(b.points) ? b.points.length : Array.isArray((b.batch as Body | undefined)?.ids) ? ((b.batch as Body).ids as unknown[]).length : undefined;
  limitCheck(n, cfg.upsert_max_batchsize, 'upsert limit');
}

function checkWriteFilter(c: StrictModeTarget, cfg: StrictModeConfig, filter: unknown): void {
  if (!isObject(filter)) return;
  if (cfg.unindexed_filtering_update === false) requireIndexes(c, filter);
  checkFilterSize(cfg, filter);
}

function checkRead(c: StrictModeTarget, cfg: StrictModeConfig, b: Body, schema: string): void {
  if (typeof b.limit === 'number') limitCheck(b.limit, cfg.max_query_limit, 'limit');
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
  for (const p of asList(b.prefetch)) if (isObject(p)) checkRead(c, cfg, p, 'Prefetch');
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
  if (cfg.filter_max_conditions === undefined || cfg.filter_max_conditions === null) return;
  const n = countConditions(filter);
  if (n > cfg.filter_max_conditions) throw strictModeError(`Filter condition limit reached (${n} > ${cfg.filter_max_conditions})`, 'Reduce the amount of conditions of your filter.');
}

function countConditions(filter: Body): number {
  let n = 0;
  for (const c of clauses(filter)) n += isSubFilter(c) ? countConditions(c) : 1;
  return n;
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
