/**
 * A collection's points in memory: the slot table, one VectorStorage per named vector (dense or
 * sparse) and the payload indexes, changed only by applying logged PointOps — live writes and
 * log replay run the very same code, so memory and a replay always agree.
 */
import type { PointId } from './ids.ts';
import { PayloadIndex, type IndexSchema } from './indexes.ts';
import type { CollectionMeta } from './meta.ts';
import { deleteAtPath, setPayload, type Payload } from './payload.ts';
import type { PointOp, PointWrite } from './records.ts';
import { SlotTable } from './slots.ts';
import { SparseVectors } from './sparse.ts';
import { denseStorage } from './multivectors.ts';
import type { VectorStorage } from './vector-storage.ts';
import { VectorColumn } from './vectors.ts';

export class PointState {
  readonly slots = new SlotTable();
  readonly vectors = new Map<string, VectorStorage>();
  readonly indexes = new Map<string, PayloadIndex>();
  /** Log bytes made obsolete by later writes (estimated); drives compaction. */
  garbageBytes = 0;

  constructor(meta: CollectionMeta) {
    for (const [name, p] of Object.entries(meta.vectors)) this.vectors.set(name, denseStorage(p));
    for (const [name, p] of Object.entries(meta.sparse_vectors ?? {})) this.vectors.set(name, new SparseVectors(p));
    for (const [key, schema] of Object.entries(meta.payload_schema)) this.indexes.set(key, new PayloadIndex(key, schema));
  }

  /** Adds the storage of a new named vector (empty: no point has it yet). */
  addVector(name: string, storage: VectorStorage): void {
    storage.ensureCapacity(this.slots.slotCount);
    this.vectors.set(name, storage);
  }

  dropVector(name: string): void {
    const storage = this.vectors.get(name);
    if (!storage) return;
    for (const s of this.slots.live()) if (storage.has(s)) this.garbageBytes += storage.loggedBytes(s);
    this.vectors.delete(name);
  }

  addIndex(key: string, schema: IndexSchema): PayloadIndex {
    const index = new PayloadIndex(key, schema);
    for (const s of this.slots.live()) index.add(s, this.slots.payloads[s] ?? null);
    this.indexes.set(key, index);
    return index;
  }

  /** Applies an op to memory. Must not throw for an op that passed the checks in operations.ts. */
  apply(op: PointOp, opId: number): void {
    this.applyOp(op, opId);
    // On-disk vectors stage their writes; the op's values (views into the request body) are
    // valid only until this returns.
    for (const storage of this.vectors.values()) if (storage instanceof VectorColumn) storage.flush();
  }

  private applyOp(op: PointOp, opId: number): void {
    const slots = this.slots;
    switch (op.kind) {
      case 'upsert':
        for (const w of op.points) this.writePoint(w, true);
        break;
      case 'update_vectors':
        for (const w of op.points) this.writePoint(w, false);
        break;
      case 'delete':
        for (const id of op.ids) this.deletePoint(id);
        break;
      case 'set_payload':
      case 'overwrite_payload':
      case 'delete_payload':
      case 'clear_payload':
        for (const id of op.ids) {
          const slot = slots.slotOf(id);
          if (slot === undefined) continue;
          const old = slots.payloads[slot] ?? null;
          let next: Payload;
          if (op.kind === 'overwrite_payload') next = JSON.parse(JSON.stringify(op.payload)) as Payload;
          else if (op.kind === 'clear_payload') next = {};
          else {
            next = old ? (JSON.parse(JSON.stringify(old)) as Payload) : {};
            if (op.kind === 'set_payload') setPayload(next, op.payload, op.key);
            else for (const k of op.keys) deleteAtPath(next, k);
          }
          this.replacePayload(slot, old, next);
          slots.versions[slot] = opId;
        }
        break;
      case 'delete_vectors':
        for (const id of op.ids) {
          const slot = slots.slotOf(id);
          if (slot === undefined) continue;
          for (const n of op.names) {
            const storage = this.vectors.get(n);
            if (storage?.has(slot)) {
              this.garbageBytes += storage.loggedBytes(slot);
              storage.clear(slot);
            }
          }
          slots.versions[slot] = opId;
        }
        break;
    }
  }

  /** Log bytes a point's frame takes (for compaction accounting). */
  pointBytes(slot: number): number {
    let n = 64;
    for (const storage of this.vectors.values()) if (storage.has(slot)) n += storage.loggedBytes(slot);
    return n;
  }

  /** Raw bytes of stored vectors (live points), for memory accounting. */
  vectorBytes(): number {
    let n = 0;
    for (const storage of this.vectors.values()) n += storage.storedBytes();
    return n;
  }

  private replacePayload(slot: number, old: Payload | null, next: Payload | null): void {
    for (const index of this.indexes.values()) index.remove(slot, old);
    this.slots.payloads[slot] = next;
    for (const index of this.indexes.values()) index.add(slot, next);
  }

  private writePoint(w: PointWrite, replaceAll: boolean): void {
    const slots = this.slots;
    let slot = slots.slotOf(w.id);
    if (slot === undefined) {
      if (!replaceAll) return;
      slot = slots.alloc(w.id, (n) => {
        for (const storage of this.vectors.values()) storage.ensureCapacity(n);
      });
    } else if (replaceAll) {
      this.garbageBytes += this.pointBytes(slot);
      for (const storage of this.vectors.values()) storage.clear(slot);
    }
    if (replaceAll) this.replacePayload(slot, slots.payloads[slot] ?? null, internValues(w.payload));
    slots.versions[slot] = w.version;
    for (const [name, value] of w.vectors) {
      const storage = this.vectors.get(name);
      if (!storage) continue;
      if (!replaceAll && storage.has(slot)) this.garbageBytes += storage.loggedBytes(slot);
      storage.set(slot, value);
    }
  }

  private deletePoint(id: PointId): void {
    const slot = this.slots.slotOf(id);
    if (slot === undefined) return;
    this.garbageBytes += this.pointBytes(slot);
    for (const index of this.indexes.values()) index.remove(slot, this.slots.payloads[slot] ?? null);
    for (const storage of this.vectors.values()) storage.clear(slot);
    this.slots.release(slot);
  }
}

/**
 * Short top-level string values of stored payloads, shared: a parsed body holds its own copy of
 * every string, so 200k points tagged "image" would otherwise keep 200k "image"s (model names,
 * timestamps of a batch, product ids alike: ~100 bytes a point in a typical catalogue).
 * Bounded: when full the table starts over, so unique values (URIs, hashes) cannot grow it.
 */
const INTERN_MAX_LENGTH = 64;
const INTERN_TABLE_SIZE = 65_536;
const interned = new Map<string, string>();

function internValues(payload: Payload | null): Payload | null {
  if (payload === null) return null;
  for (const key in payload) {
    const v = payload[key];
    if (typeof v !== 'string' || v.length > INTERN_MAX_LENGTH || key === '__proto__') continue;
    const shared = interned.get(v);
    if (shared !== undefined) payload[key] = shared;
    else {
      if (interned.size >= INTERN_TABLE_SIZE) interned.clear();
      interned.set(v, v);
    }
  }
  return payload;
}
