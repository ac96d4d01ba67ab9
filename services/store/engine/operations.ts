/**
 * Write requests turned into PointOps: ids resolved, filters resolved to the ids they select,
 * vectors checked against their storage and converted to the stored form. Nothing here changes
 * the collection; an op only takes effect once logged (collection.ts).
 */
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, notFound, validationError, wrongInput } from './errors.ts';
import type { SlotPredicate } from './filter.ts';
import { parsePointId, type PointId } from './ids.ts';
import type { Payload } from './payload.ts';
import type { PointOp, PointWrite } from './records.ts';
import { INFERENCE_REFUSED, isInferenceInput, type VectorStorage, type VectorValue } from './vector-storage.ts';

/** What building ops needs to know of a collection. */
export interface OpContext {
  readonly named: boolean;
  vectorStorage(name: string): VectorStorage | undefined;
  slotOf(id: PointId): number | undefined;
  filter(raw: unknown, where: string): SlotPredicate | null;
  liveSlots(): Iterable<number>;
  idOf(slot: number): PointId;
}

type VectorList = Array<[string, VectorValue]>;

/** PUT /points: `points` list or `batch` columns. */
export function upsertOp(c: OpContext, body: Schemas['PointInsertOperations']): PointOp {
  const writes: PointWrite[] = [];
  if ('points' in body && Array.isArray(body.points)) {
    body.points.forEach((p, i) => {
      const id = parsePointId(p.id, `points[${i}].id`);
      writes.push({ id, version: 0, payload: (p.payload as Payload | null | undefined) ?? null, vectors: parseVectorStruct(c, p.vector, `points[${i}].vector`, true) });
    });
  } else if ('batch' in body && body.batch) {
    const batch = body.batch;
    const n = batch.ids.length;
    const perPoint: Array<Record<string, unknown>> = Array.from({ length: n }, () => ({}));
    if (Array.isArray(batch.vectors)) {
      if (batch.vectors.length !== n) throw validationError('batch', `number of vectors (${batch.vectors.length}) must equal the number of ids (${n})`);
      batch.vectors.forEach((v, i) => (perPoint[i]![''] = v));
    } else {
      for (const [name, list] of Object.entries(batch.vectors as Record<string, unknown[]>)) {
        if (!Array.isArray(list)) throw badRequest(`batch.vectors.${name}: expected a list of vectors`);
        if (list.length !== n) throw validationError('batch', `number of vectors ${name} (${list.length}) must equal the number of ids (${n})`);
        list.forEach((v, i) => (perPoint[i]![name] = v));
      }
    }
    const payloads = batch.payloads as (Payload | null)[] | null | undefined;
    if (payloads && payloads.length !== n) throw validationError('batch', `number of payloads (${payloads.length}) must equal the number of ids (${n})`);
    for (let i = 0; i < n; i++) {
      const id = parsePointId(batch.ids[i], `batch.ids[${i}]`);
      writes.push({ id, version: 0, payload: payloads?.[i] ?? null, vectors: parseVectorStruct(c, perPoint[i], `batch.vectors[${i}]`, true) });
    }
  } else {
    throw badRequest('an upsert needs `points` or `batch`');
  }
  const b = body as { update_mode?: string | null; update_filter?: unknown };
  const mode = b.update_mode ?? 'upsert';
  const cond = c.filter(b.update_filter, 'update_filter');
  const kept = writes.filter((w) => {
    const slot = c.slotOf(w.id);
    if (slot === undefined) return mode !== 'update_only';
    if (mode === 'insert_only') return false;
    return cond === null || cond(slot);
  });
  return { kind: 'upsert', points: kept };
}

/**
 * Reads a VectorStruct: a bare array is the unnamed vector; an object maps names to vectors
 * (dense or sparse, as each name is configured). Returns storage-ready values.
 */
export function parseVectorStruct(c: OpContext, raw: unknown, where: string, requireUnnamed: boolean): VectorList {
  const out: VectorList = [];
  const add = (name: string, v: unknown) => {
    const storage = c.vectorStorage(name);
    if (!storage) throw wrongInput(`Not existing vector name error: ${name}`);
    out.push([name, storage.prepare(v, name === '' ? where : `${where}.${name}`, name)]);
  };
  if (Array.isArray(raw) || raw instanceof Float32Array) add('', raw);
  else if (raw !== null && typeof raw === 'object') {
    if (isInferenceInput(raw)) throw badRequest(`${where}: ${INFERENCE_REFUSED}`);
    for (const [name, v] of Object.entries(raw)) add(name, v);
  } else throw badRequest(`${where}: expected a vector`);
  if (requireUnnamed && !c.named && !out.some(([name]) => name === '')) throw wrongInput(`${where}: the collection's unnamed vector is required`);
  return out;
}

/** Ids of the points a PointsSelector-like body designates (existing points only). */
export function selectIds(c: OpContext, body: { points?: unknown[] | null; filter?: unknown }, where: string, mustExist: boolean): PointId[] {
  if (body === null || typeof body !== 'object') throw badRequest(`${where}: expected an object`);
  const pred = c.filter(body.filter, `${where}.filter`);
  if (Array.isArray(body.points)) {
    const ids: PointId[] = [];
    for (let i = 0; i < body.points.length; i++) {
      const id = parsePointId(body.points[i], `${where}.points[${i}]`);
      const slot = c.slotOf(id);
      if (slot === undefined) {
        if (mustExist) throw notFound(`No point with id ${id} found`);
        continue;
      }
      if (pred === null || pred(slot)) ids.push(id);
    }
    return ids;
  }
  if (pred === null) throw badRequest(`${where}: either \`points\` or \`filter\` is required`);
  const ids: PointId[] = [];
  for (const s of c.liveSlots()) if (pred(s)) ids.push(c.idOf(s));
  return ids;
}

export function deleteOp(c: OpContext, body: Schemas['PointsSelector']): PointOp {
  return { kind: 'delete', ids: selectIds(c, body as { points?: unknown[] }, 'delete', false) };
}

export function setPayloadOp(c: OpContext, body: Schemas['SetPayload'], overwrite: boolean): PointOp {
  const ids = selectIds(c, body as { points?: unknown[] }, overwrite ? 'overwrite_payload' : 'set_payload', true);
  const payload = body.payload as Payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw badRequest('payload: expected an object');
  if (overwrite) return { kind: 'overwrite_payload', ids, payload };
  return { kind: 'set_payload', ids, payload, key: body.key ?? null };
}

export function deletePayloadOp(c: OpContext, body: Schemas['DeletePayload']): PointOp {
  if (!Array.isArray(body.keys)) throw badRequest('delete_payload: `keys` must be a list of payload keys');
  return { kind: 'delete_payload', ids: selectIds(c, body as { points?: unknown[] }, 'delete_payload', true), keys: body.keys };
}

export function clearPayloadOp(c: OpContext, body: Schemas['PointsSelector']): PointOp {
  return { kind: 'clear_payload', ids: selectIds(c, body as { points?: unknown[] }, 'clear_payload', true) };
}

export function updateVectorsOp(c: OpContext, body: Schemas['UpdateVectors']): PointOp {
  const cond = c.filter((body as { update_filter?: unknown }).update_filter, 'update_filter');
  if (!Array.isArray(body.points)) throw badRequest('update_vectors: `points` must be a list');
  const writes: PointWrite[] = [];
  body.points.forEach((p, i) => {
    const id = parsePointId(p.id, `points[${i}].id`);
    const slot = c.slotOf(id);
    if (slot === undefined) throw notFound(`No point with id ${id} found`);
    const vectors = parseVectorStruct(c, p.vector, `points[${i}].vector`, false);
    if (vectors.length === 0) throw validationError(`points[${i}].vector`, 'must specify vectors to update for point');
    if (cond === null || cond(slot)) writes.push({ id, version: 0, payload: null, vectors });
  });
  return { kind: 'update_vectors', points: writes };
}

export function deleteVectorsOp(c: OpContext, body: Schemas['DeleteVectors']): PointOp {
  const names = body.vector;
  if (!Array.isArray(names)) throw badRequest('delete_vectors: `vector` must be a list of vector names');
  for (const n of names) if (!c.vectorStorage(n)) throw wrongInput(`Not existing vector name error: ${n}`);
  return { kind: 'delete_vectors', ids: selectIds(c, body as { points?: unknown[] }, 'delete_vectors', true), names };
}

/** One operation of points/batch as an op (checked against the state the previous ones left). */
export function batchOp(c: OpContext, operation: Record<string, unknown>): PointOp {
  const entries = operation !== null && typeof operation === 'object' ? Object.entries(operation) : [];
  if (entries.length !== 1) throw badRequest('each batch operation must name exactly one operation');
  const [kind, arg] = entries[0] as [string, never];
  switch (kind) {
    case 'upsert':
      return upsertOp(c, arg);
    case 'delete':
      return deleteOp(c, arg);
    case 'set_payload':
      return setPayloadOp(c, arg, false);
    case 'overwrite_payload':
      return setPayloadOp(c, arg, true);
    case 'delete_payload':
      return deletePayloadOp(c, arg);
    case 'clear_payload':
      return clearPayloadOp(c, arg);
    case 'update_vectors':
      return updateVectorsOp(c, arg);
    case 'delete_vectors':
      return deleteVectorsOp(c, arg);
    default:
      throw badRequest(`unknown batch operation ${kind}`);
  }
}
