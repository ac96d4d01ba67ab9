/**
 * A collection's configuration as meta.json holds it: built from a create request (defaults as
 * Qdrant fills them in), changed by update requests and named-vector create/delete, and echoed
 * in collection info. Settings the embedded store accepts but does not act on (HNSW,
 * quantisation, optimizers, WAL, sharding) are kept and echoed so clients see what they set.
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, conflict, wrongInput } from './errors.ts';
import type { IndexSchema } from './indexes.ts';
import type { SparseParamsJson } from './sparse.ts';
import type { Distance } from './vectors.ts';

export interface VectorParamsJson {
  size: number;
  distance: Distance;
  hnsw_config?: Record<string, unknown> | null;
  quantization_config?: Record<string, unknown> | null;
  on_disk?: boolean | null;
  [extra: string]: unknown;
}

/** What meta.json holds: the creation request, normalised, plus later changes. */
export interface CollectionMeta {
  name: string;
  /** false when created with the single unnamed vector form (its name is ""). */
  named: boolean;
  vectors: Record<string, VectorParamsJson>;
  /** Absent in meta.json files written before sparse vectors. */
  sparse_vectors?: Record<string, SparseParamsJson>;
  hnsw_config: Record<string, unknown>;
  optimizers_config: Record<string, unknown>;
  wal_config: Record<string, unknown>;
  quantization_config: Record<string, unknown> | null;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  payload_schema: Record<string, IndexSchema>;
  strict_mode_config?: Record<string, unknown> | null;
}

type Body = Record<string, unknown>;

const DEFAULT_HNSW = { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false };
const DEFAULT_OPTIMIZERS = {
  deleted_threshold: 0.2,
  vacuum_min_vector_number: 1000,
  default_segment_number: 0,
  max_segment_size: null,
  memmap_threshold: null,
  indexing_threshold: 10000,
  flush_interval_sec: 5,
  max_optimization_threads: null,
};
const DEFAULT_WAL = { wal_capacity_mb: 32, wal_segments_ahead: 0 };

export function stripNulls(o: Body): Body {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

function denseParams(vname: string, raw: Body): VectorParamsJson {
  // Qdrant also reads the multivector configuration under the name `multivec_config`.
  const { multivec_config: alias, ...rest } = raw;
  const p: Body = alias !== undefined && rest.multivector_config === undefined ? { ...rest, multivector_config: alias } : rest;
  const multi = p.multivector_config as Body | null | undefined;
  if (multi && multi.comparator !== 'max_sim') throw badRequest(`vector ${JSON.stringify(vname)}: multivector comparator ${JSON.stringify(multi.comparator)} is not supported (max_sim only, as in Qdrant)`);
  if (p.datatype && p.datatype !== 'float32') throw badRequest(`vector ${JSON.stringify(vname)}: datatype ${JSON.stringify(p.datatype)} is not supported by the embedded store (float32 only)`);
  return stripNulls(p) as VectorParamsJson;
}

function sparseParams(p: Body | null | undefined): SparseParamsJson {
  const out = stripNulls(p ?? {}) as SparseParamsJson;
  if (out.index) out.index = stripNulls(out.index as Body) as NonNullable<SparseParamsJson['index']>;
  return out;
}

export function buildMeta(name: string, body: Schemas['CreateCollection']): CollectionMeta {
  // Custom sharding routes points by shard keys, which only a cluster can create.
  if ((body as Body).sharding_method === 'custom') throw badRequest('custom sharding (sharding_method: "custom"): shard keys are not supported by the embedded store; use "auto" (the default)');
  const raw = (body.vectors ?? {}) as Body;
  const single = typeof raw.size === 'number' && typeof raw.distance === 'string';
  const entries: Array<[string, Body]> = single ? [['', raw]] : (Object.entries(raw) as Array<[string, Body]>);
  const vectors: Record<string, VectorParamsJson> = {};
  for (const [vname, p] of entries) vectors[vname] = denseParams(vname, p);
  const sparse: Record<string, SparseParamsJson> = {};
  for (const [vname, p] of Object.entries((body.sparse_vectors ?? {}) as Record<string, Body>)) {
    if (vname in vectors) throw wrongInput(`vector name ${JSON.stringify(vname)} is used by both a dense and a sparse vector`);
    sparse[vname] = sparseParams(p);
  }
  const quant = body.quantization_config;
  const b = body as Body;
  return {
    name,
    named: !single,
    vectors,
    sparse_vectors: sparse,
    hnsw_config: { ...DEFAULT_HNSW, ...stripNulls((body.hnsw_config ?? {}) as Body) },
    optimizers_config: { ...DEFAULT_OPTIMIZERS, ...stripNulls((body.optimizers_config ?? {}) as Body) },
    wal_config: { ...DEFAULT_WAL, ...stripNulls((body.wal_config ?? {}) as Body) },
    quantization_config: quant === undefined || quant === null ? null : (quant as Body),
    params: {
      shard_number: body.shard_number ?? 1,
      ...(b.sharding_method ? { sharding_method: b.sharding_method } : {}),
      replication_factor: body.replication_factor ?? 1,
      write_consistency_factor: body.write_consistency_factor ?? 1,
      on_disk_payload: body.on_disk_payload ?? true,
    },
    metadata: (body.metadata as Body | null | undefined) ?? null,
    payload_schema: {},
    strict_mode_config: (body.strict_mode_config as Body | null | undefined) ? stripNulls(body.strict_mode_config as Body) : null,
  };
}

/** The meta after a PATCH /collections/{name} (vector names already checked to exist). */
export function updatedMeta(m: CollectionMeta, body: Schemas['UpdateCollection']): CollectionMeta {
  const vectors = { ...m.vectors };
  for (const [vname, diff] of Object.entries((body.vectors ?? {}) as Record<string, Body>)) {
    const next: VectorParamsJson = { ...vectors[vname]! };
    for (const key of ['hnsw_config', 'quantization_config'] as const) {
      const v = diff[key];
      if (v === undefined || v === null) continue;
      if (v === 'Disabled') delete next[key];
      else next[key] = key === 'hnsw_config' ? { ...(next.hnsw_config ?? {}), ...(v as Body) } : (v as Body);
    }
    if (diff.on_disk !== undefined && diff.on_disk !== null) next.on_disk = diff.on_disk as boolean;
    vectors[vname] = next;
  }
  const sparse = { ...(m.sparse_vectors ?? {}) };
  for (const [vname, diff] of Object.entries((body.sparse_vectors ?? {}) as Record<string, Body>)) {
    const prev = sparse[vname]!;
    const d = sparseParams(diff);
    sparse[vname] = { ...prev, ...d, ...(d.index ? { index: { ...(prev.index ?? {}), ...d.index } } : {}) };
  }
  const quant = body.quantization_config;
  const strict = (body as Body).strict_mode_config as Body | null | undefined;
  return {
    ...m,
    vectors,
    sparse_vectors: sparse,
    hnsw_config: { ...m.hnsw_config, ...stripNulls((body.hnsw_config ?? {}) as Body) },
    optimizers_config: { ...m.optimizers_config, ...stripNulls((body.optimizers_config ?? {}) as Body) },
    params: { ...m.params, ...stripNulls((body.params ?? {}) as Body) },
    quantization_config: quant === undefined || quant === null ? m.quantization_config : quant === 'Disabled' ? null : (quant as Body),
    metadata: body.metadata ? { ...(m.metadata ?? {}), ...(body.metadata as Body) } : m.metadata,
    strict_mode_config: strict ? { ...(m.strict_mode_config ?? {}), ...stripNulls(strict) } : (m.strict_mode_config ?? null),
  };
}

/** The meta with one more named vector (PUT /collections/{name}/vectors/{vector}). */
export function withVectorName(m: CollectionMeta, vname: string, config: Schemas['VectorNameConfig']): CollectionMeta {
  if (!m.named) throw badRequest('the collection has a single unnamed vector: named vectors cannot be added to it');
  if (vname in m.vectors || vname in (m.sparse_vectors ?? {})) throw conflict(`Vector with name \`${vname}\` already exists`);
  if ('dense' in config) return { ...m, vectors: { ...m.vectors, [vname]: denseParams(vname, config.dense as Body) } };
  return { ...m, sparse_vectors: { ...(m.sparse_vectors ?? {}), [vname]: sparseParams(config.sparse as Body) } };
}

/** The meta without a named vector. */
export function withoutVectorName(m: CollectionMeta, vname: string): CollectionMeta {
  if (vname in m.vectors) {
    if (!m.named) throw badRequest('the unnamed vector of a collection cannot be deleted');
    const { [vname]: _gone, ...vectors } = m.vectors;
    return { ...m, vectors };
  }
  if (vname in (m.sparse_vectors ?? {})) {
    const { [vname]: _gone, ...sparse } = m.sparse_vectors!;
    return { ...m, sparse_vectors: sparse };
  }
  throw wrongInput(`Not existing vector name error: ${vname}`);
}

/** The `config` part of collection info. */
export function configInfo(m: CollectionMeta): Record<string, unknown> {
  const sparse = m.sparse_vectors ?? {};
  return {
    params: {
      ...m.params,
      vectors: m.named ? m.vectors : m.vectors[''],
      ...(Object.keys(sparse).length > 0 ? { sparse_vectors: sparse } : {}),
    },
    hnsw_config: m.hnsw_config,
    optimizer_config: m.optimizers_config,
    wal_config: m.wal_config,
    quantization_config: m.quantization_config,
    ...(m.strict_mode_config ? { strict_mode_config: m.strict_mode_config } : {}),
    ...(m.metadata ? { metadata: m.metadata } : {}),
  };
}
