/**
 * One collection: points in slots (id ↔ slot map, payload per slot, one VectorColumn per named
 * vector), payload indexes, and the operation log that makes every change durable. Write
 * requests are turned into PointOps (ids resolved, vectors checked and normalised), appended to
 * the log, and applied once the log has them — replay at open applies the very same ops, and
 * an op the disk refused is never seen by a read.
 */
import path from 'node:path';
import { badRequest, notFound, storageError, validationError, wrongInput } from './errors.ts';
import { compileFilter, type FilterJson, type FilterTarget, type SlotPredicate } from './filter.ts';
import { comparePointIds, parsePointId, type PointId } from './ids.ts';
import { PayloadIndex, parseIndexSchema, type IndexSchema } from './indexes.ts';
import { checkCollectionMeta, readJsonFile, writeJsonDurably } from './json-file.ts';
import { PointLog, type LogTicket } from './log.ts';
import { deleteAtPath, parseWithPayload, selectPayload, setPayload, type Payload, type PayloadSelector } from './payload.ts';
import { decodeOp, encodeOp, type PointOp, type PointWrite } from './records.ts';
import { prepareVector, VectorColumn, vectorToJson, type Distance } from './vectors.ts';

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
  hnsw_config: Record<string, unknown>;
  optimizers_config: Record<string, unknown>;
  wal_config: Record<string, unknown>;
  quantization_config: Record<string, unknown> | null;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  payload_schema: Record<string, IndexSchema>;
}

export interface UpdateResult {
  operation_id: number;
  status: 'completed' | 'acknowledged';
}

export interface WriteOptions {
  wait: boolean;
}

export interface RecordJson {
  id: PointId;
  payload?: Payload;
  vector?: unknown;
  order_value?: number | string;
}

export type VectorSelector = true | false | string[];

const FIRST_SLOTS = 16;
const COMPACT_MIN_BYTES = 32 * 1024 * 1024;

export class Collection implements FilterTarget {
  readonly dir: string;
  meta: CollectionMeta;
  readonly columns = new Map<string, VectorColumn>();
  readonly idToSlot = new Map<PointId, number>();
  slotIds: (PointId | undefined)[] = [];
  payloads: (Payload | null)[] = [];
  versions: number[] = [];
  alive = new Uint8Array(FIRST_SLOTS);
  slotCount = 0;
  liveCount = 0;
  readonly indexes = new Map<string, PayloadIndex>();
  private free: number[] = [];
  private opCounter = 0;
  private log!: PointLog;
  /** Log bytes made obsolete by later writes (estimated); drives compaction. */
  private garbageBytes = 0;
  /** A compaction asked for while frames were still being written: done once they are. */
  private compactionWanted = false;
  /** The last compaction failure (a warning: the old log still serves) and the size to retry at. */
  private compactionProblem: { message: string; retryAtBytes: number } | null = null;
  private sortedCache: number[] | null = null;

  private constructor(dir: string, meta: CollectionMeta) {
    this.dir = dir;
    this.meta = meta;
    for (const [name, p] of Object.entries(meta.vectors)) this.columns.set(name, new VectorColumn(p.size, p.distance));
    for (const [key, schema] of Object.entries(meta.payload_schema)) this.indexes.set(key, new PayloadIndex(key, schema));
  }

  static create(dir: string, meta: CollectionMeta): Collection {
    writeJsonDurably(path.join(dir, 'meta.json'), meta);
    return Collection.open(dir, { create: true });
  }

  static open(dir: string, opts: { create?: boolean } = {}): Collection {
    const meta = readJsonFile<CollectionMeta>(
      path.join(dir, 'meta.json'),
      checkCollectionMeta,
      'It holds the collection\'s vector configuration: restore it from a backup (the points are in the log beside it)',
    );
    const c = new Collection(dir, meta);
    c.log = PointLog.open(
      dir,
      (body) => {
        const { op, opId } = decodeOp(body);
        c.opCounter = Math.max(c.opCounter, opId);
        c.apply(op, opId);
      },
      { create: opts.create, collection: meta.name },
    );
    c.log.betweenWrites = () => c.maybeCompact();
    if (c.log.openedFormat === 1) {
      // Written before frames had markers and sequence numbers: rewritten in the current format.
      try {
        c.compact();
      } catch (err) {
        c.log.abandon();
        throw storageError(err, `${c.log.file} (migrating it to the current log format)`);
      }
    } else c.maybeCompact();
    return c;
  }

  get name(): string {
    return this.meta.name;
  }

  close(): Promise<void> {
    return this.log.close();
  }

  /** Deletes the collection's files (the caller has unregistered it). */
  destroy(): void {
    this.log.abandon();
  }

  // ---- FilterTarget ----------------------------------------------------------------------

  payloadOf(slot: number): Payload | null {
    return this.payloads[slot] ?? null;
  }
  slotOf(id: PointId): number | undefined {
    return this.idToSlot.get(id);
  }
  hasVector(name: string, slot: number): boolean {
    return this.columns.get(name)?.has(slot) ?? false;
  }
  isVectorName(name: string): boolean {
    return this.columns.has(name);
  }
  isTextIndexed(key: string): boolean {
    return this.indexes.get(key)?.type === 'text';
  }

  filter(raw: unknown, where = 'filter'): SlotPredicate | null {
    return compileFilter(raw as FilterJson | null | undefined, this, where);
  }

  column(name: string): VectorColumn {
    const c = this.columns.get(name);
    if (!c) throw wrongInput(`Not existing vector name error: ${name}`);
    return c;
  }

  // ---- writes -----------------------------------------------------------------------------

  /**
   * Logs the ops and applies each once its frame is written (in log order, so memory and a
   * replay agree). wait=false is acknowledged once the OS has the bytes (they survive a crash
   * of this process); wait=true once they are on disk. A write the disk refuses is answered
   * 507 and leaves nothing behind.
   */
  async commit(ops: PointOp[], opts: WriteOptions): Promise<UpdateResult[]> {
    const results: UpdateResult[] = [];
    let last: LogTicket | undefined;
    let applyError: unknown;
    try {
      for (const op of ops) {
        const opId = ++this.opCounter;
        stampVersions(op, opId);
        last = this.log.append(encodeOp(op, opId, (bytes) => this.log.reserve(bytes)), () => {
          try {
            this.apply(op, opId);
          } catch (err) {
            applyError ??= err;
          }
        });
        results.push({ operation_id: opId, status: opts.wait ? 'completed' : 'acknowledged' });
      }
      if (last) await this.log.handedOver(last);
    } catch (err) {
      throw storageError(err, this.log.file);
    }
    if (applyError) throw applyError;
    if (opts.wait) {
      try {
        await this.log.sync(last);
      } catch (err) {
        throw storageError(err, this.log.file);
      }
    }
    return results;
  }

  /** PUT /points: `points` list or `batch` columns. */
  upsertOp(body: Record<string, unknown>): PointOp {
    const writes: PointWrite[] = [];
    if (Array.isArray(body.points)) {
      const points = body.points as Array<{ id: unknown; vector: unknown; payload?: Payload | null }>;
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!;
        const id = parsePointId(p.id, `points[${i}].id`);
        writes.push({ id, version: 0, payload: p.payload ?? null, vectors: this.parseVectorStruct(p.vector, `points[${i}].vector`, true) });
      }
    } else {
      const batch = body.batch as { ids: unknown[]; vectors: unknown; payloads?: (Payload | null)[] | null };
      const n = batch.ids.length;
      const perPoint: Array<Record<string, unknown>> = Array.from({ length: n }, () => ({}));
      if (Array.isArray(batch.vectors)) {
        if (batch.vectors.length !== n) throw validationError('batch', `number of vectors (${batch.vectors.length}) must equal the number of ids (${n})`);
        batch.vectors.forEach((v, i) => (perPoint[i]![''] = v));
      } else {
        for (const [name, list] of Object.entries(batch.vectors as Record<string, unknown[]>)) {
          if (list.length !== n) throw validationError('batch', `number of vectors ${name} (${list.length}) must equal the number of ids (${n})`);
          list.forEach((v, i) => (perPoint[i]![name] = v));
        }
      }
      if (batch.payloads && batch.payloads.length !== n) {
        throw validationError('batch', `number of payloads (${batch.payloads.length}) must equal the number of ids (${n})`);
      }
      for (let i = 0; i < n; i++) {
        const id = parsePointId(batch.ids[i], `batch.ids[${i}]`);
        writes.push({ id, version: 0, payload: batch.payloads?.[i] ?? null, vectors: this.parseVectorStruct(perPoint[i], `batch.vectors[${i}]`, true) });
      }
    }
    const mode = (body.update_mode as string | undefined) ?? 'upsert';
    const cond = this.filter(body.update_filter, 'update_filter');
    const kept = writes.filter((w) => {
      const slot = this.idToSlot.get(w.id);
      if (slot === undefined) return mode !== 'update_only';
      if (mode === 'insert_only') return false;
      return cond === null || cond(slot);
    });
    return { kind: 'upsert', points: kept };
  }

  /**
   * Reads a VectorStruct: a bare array is the unnamed vector; an object maps names to dense
   * vectors. Checks names and dimensions and returns storage-ready (normalised) copies.
   */
  parseVectorStruct(raw: unknown, where: string, requireUnnamed: boolean): Array<[string, Float32Array]> {
    const out: Array<[string, Float32Array]> = [];
    const add = (name: string, v: unknown) => {
      const col = this.columns.get(name);
      if (!col) throw wrongInput(`Not existing vector name error: ${name}`);
      if (v instanceof Float32Array) {
        if (v.length !== col.dim) throw wrongInput(`Vector dimension error: expected dim: ${col.dim}, got ${v.length}`);
        // Parsed for us into a fresh array: normalise in place, no copy.
        out.push([name, prepareVector(col.distance, v, v)]);
        return;
      }
      if (!Array.isArray(v)) {
        throw badRequest(`${where}: vector ${JSON.stringify(name)} must be a dense vector (sparse, multi-vectors and inference objects are not supported by the embedded store)`);
      }
      if (v.length > 0 && Array.isArray(v[0])) throw badRequest(`${where}: multi-vectors are not supported by the embedded store`);
      if (v.length !== col.dim) throw wrongInput(`Vector dimension error: expected dim: ${col.dim}, got ${v.length}`);
      out.push([name, prepareVector(col.distance, v as number[])]);
    };
    if (Array.isArray(raw) || raw instanceof Float32Array) add('', raw);
    else if (raw !== null && typeof raw === 'object') for (const [name, v] of Object.entries(raw)) add(name, v);
    else throw badRequest(`${where}: expected a vector`);
    if (requireUnnamed && !this.meta.named && out.length === 0) throw wrongInput(`${where}: the collection's unnamed vector is required`);
    return out;
  }

  /** Ids of the points a PointsSelector-like body designates (existing points only). */
  selectIds(body: { points?: unknown[] | null; filter?: unknown }, where: string, mustExist: boolean): PointId[] {
    const pred = this.filter(body.filter, `${where}.filter`);
    if (Array.isArray(body.points)) {
      const ids: PointId[] = [];
      for (let i = 0; i < body.points.length; i++) {
        const id = parsePointId(body.points[i], `${where}.points[${i}]`);
        const slot = this.idToSlot.get(id);
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
    for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1 && pred(s)) ids.push(this.slotIds[s]!);
    return ids;
  }

  deleteOp(body: Record<string, unknown>): PointOp {
    return { kind: 'delete', ids: this.selectIds(body as { points?: unknown[] }, 'delete', false) };
  }

  setPayloadOp(body: Record<string, unknown>, overwrite: boolean): PointOp {
    const ids = this.selectIds(body as { points?: unknown[] }, overwrite ? 'overwrite_payload' : 'set_payload', true);
    const payload = body.payload as Payload;
    if (overwrite) return { kind: 'overwrite_payload', ids, payload };
    return { kind: 'set_payload', ids, payload, key: (body.key as string | null | undefined) ?? null };
  }

  deletePayloadOp(body: Record<string, unknown>): PointOp {
    return { kind: 'delete_payload', ids: this.selectIds(body as { points?: unknown[] }, 'delete_payload', true), keys: body.keys as string[] };
  }

  clearPayloadOp(body: Record<string, unknown>): PointOp {
    return { kind: 'clear_payload', ids: this.selectIds(body as { points?: unknown[] }, 'clear_payload', true) };
  }

  updateVectorsOp(body: Record<string, unknown>): PointOp {
    const cond = this.filter(body.update_filter, 'update_filter');
    const points = body.points as Array<{ id: unknown; vector: unknown }>;
    const writes: PointWrite[] = [];
    points.forEach((p, i) => {
      const id = parsePointId(p.id, `points[${i}].id`);
      const slot = this.idToSlot.get(id);
      if (slot === undefined) throw notFound(`No point with id ${id} found`);
      const vectors = this.parseVectorStruct(p.vector, `points[${i}].vector`, false);
      if (vectors.length === 0) throw validationError(`points[${i}].vector`, 'must specify vectors to update for point');
      if (cond === null || cond(slot)) writes.push({ id, version: 0, payload: null, vectors });
    });
    return { kind: 'update_vectors', points: writes };
  }

  deleteVectorsOp(body: Record<string, unknown>): PointOp {
    const names = body.vector as string[];
    for (const n of names) this.column(n);
    return { kind: 'delete_vectors', ids: this.selectIds(body as { points?: unknown[] }, 'delete_vectors', true), names };
  }

  /** Applies an op to memory. Must not throw for an op that passed the *Op() checks. */
  private apply(op: PointOp, opId: number): void {
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
          const slot = this.idToSlot.get(id);
          if (slot === undefined) continue;
          const old = this.payloads[slot] ?? null;
          let next: Payload;
          if (op.kind === 'overwrite_payload') next = JSON.parse(JSON.stringify(op.payload)) as Payload;
          else if (op.kind === 'clear_payload') next = {};
          else {
            next = old ? (JSON.parse(JSON.stringify(old)) as Payload) : {};
            if (op.kind === 'set_payload') setPayload(next, op.payload, op.key);
            else for (const k of op.keys) deleteAtPath(next, k);
          }
          this.replacePayload(slot, old, next);
          this.versions[slot] = opId;
        }
        break;
      case 'delete_vectors':
        for (const id of op.ids) {
          const slot = this.idToSlot.get(id);
          if (slot === undefined) continue;
          for (const n of op.names) this.columns.get(n)?.clear(slot);
          this.versions[slot] = opId;
        }
        break;
    }
  }

  private replacePayload(slot: number, old: Payload | null, next: Payload | null): void {
    for (const index of this.indexes.values()) index.remove(slot, old);
    this.payloads[slot] = next;
    for (const index of this.indexes.values()) index.add(slot, next);
  }

  private writePoint(w: PointWrite, replaceAll: boolean): void {
    let slot = this.idToSlot.get(w.id);
    if (slot === undefined) {
      if (!replaceAll) return;
      slot = this.allocSlot(w.id);
    } else if (replaceAll) {
      this.garbageBytes += this.pointBytes(slot);
      for (const col of this.columns.values()) col.clear(slot);
    }
    if (replaceAll) this.replacePayload(slot, this.payloads[slot] ?? null, internValues(w.payload));
    this.versions[slot] = w.version;
    for (const [name, values] of w.vectors) {
      const col = this.columns.get(name);
      if (col) col.set(slot, values);
    }
  }

  private deletePoint(id: PointId): void {
    const slot = this.idToSlot.get(id);
    if (slot === undefined) return;
    this.garbageBytes += this.pointBytes(slot);
    for (const index of this.indexes.values()) index.remove(slot, this.payloads[slot] ?? null);
    for (const col of this.columns.values()) col.clear(slot);
    this.idToSlot.delete(id);
    this.slotIds[slot] = undefined;
    this.payloads[slot] = null;
    this.alive[slot] = 0;
    this.liveCount--;
    this.free.push(slot);
    this.sortedCache = null;
  }

  private allocSlot(id: PointId): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slotCount++;
      if (this.alive.length < this.slotCount) {
        const grown = new Uint8Array(this.alive.length * 2);
        grown.set(this.alive);
        this.alive = grown;
      }
      for (const col of this.columns.values()) col.ensureCapacity(this.slotCount);
    }
    this.idToSlot.set(id, slot);
    this.slotIds[slot] = id;
    this.payloads[slot] = null;
    this.alive[slot] = 1;
    this.liveCount++;
    this.sortedCache = null;
    return slot;
  }

  private pointBytes(slot: number): number {
    let n = 64;
    for (const col of this.columns.values()) if (col.has(slot)) n += col.dim * 4 + 16;
    return n;
  }

  /** Compacts when more than half of a large log is obsolete (or a compaction waits for it). */
  private maybeCompact(): void {
    const due = this.log.size >= COMPACT_MIN_BYTES && this.garbageBytes * 2 >= this.log.size;
    if (!this.compactionWanted && !due) return;
    if (!this.compactionWanted && this.compactionProblem && this.log.size < this.compactionProblem.retryAtBytes) return;
    try {
      this.compact();
      this.compactionProblem = null;
    } catch (err) {
      // The old log still holds everything; try again once it has grown by a quarter.
      this.compactionWanted = false;
      this.compactionProblem = { message: `compaction of ${this.log.file} failed: ${(err as Error).message}`, retryAtBytes: Math.ceil(this.log.size * 1.25) };
      process.stderr.write(`store: collection \`${this.name}\`: ${this.compactionProblem.message}\n`);
    }
  }

  /**
   * Rewrites the log as the live points only (each keeps its version). With a write in flight
   * (its op not applied yet) it happens as soon as that write is done.
   */
  compact(): void {
    if (this.log.writing) {
      this.compactionWanted = true;
      return;
    }
    this.compactionWanted = false;
    const opId = this.opCounter;
    this.log.rewrite((emit) => {
      let batch: PointWrite[] = [];
      const flush = () => {
        if (batch.length > 0) emit(encodeOp({ kind: 'upsert', points: batch }, opId));
        batch = [];
      };
      for (let s = 0; s < this.slotCount; s++) {
        if (this.alive[s] !== 1) continue;
        const vectors: Array<[string, Float32Array]> = [];
        for (const [name, col] of this.columns) if (col.has(s)) vectors.push([name, col.view(s)]);
        batch.push({ id: this.slotIds[s]!, version: this.versions[s] ?? 0, payload: this.payloads[s] ?? null, vectors });
        if (batch.length === 256) flush();
      }
      flush();
    });
    this.garbageBytes = 0;
  }

  // ---- reads ------------------------------------------------------------------------------

  /** Live slots in id order (cached until a point is added or removed). */
  sortedSlots(): number[] {
    if (this.sortedCache) return this.sortedCache;
    const slots: number[] = [];
    for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1) slots.push(s);
    slots.sort((a, b) => comparePointIds(this.slotIds[a]!, this.slotIds[b]!));
    this.sortedCache = slots;
    return slots;
  }

  record(slot: number, payload: PayloadSelector, vectors: VectorSelector): RecordJson {
    const out: RecordJson = { id: this.slotIds[slot]! };
    const p = selectPayload(this.payloads[slot] ?? null, payload);
    if (p !== undefined) out.payload = p;
    const v = this.vectorOutput(slot, vectors);
    if (v !== undefined) out.vector = v;
    return out;
  }

  vectorOutput(slot: number, selector: VectorSelector): unknown {
    if (selector === false) return undefined;
    if (!this.meta.named && (selector === true || selector.includes(''))) {
      const col = this.columns.get('')!;
      return col.has(slot) ? vectorToJson(col.view(slot)) : undefined;
    }
    const out: Record<string, number[]> = {};
    for (const [name, col] of this.columns) {
      if (selector !== true && !selector.includes(name)) continue;
      if (col.has(slot)) out[name] = vectorToJson(col.view(slot));
    }
    return out;
  }

  retrieve(body: Record<string, unknown>): RecordJson[] {
    const payload = parseWithPayload(body.with_payload, true);
    const vectors = parseWithVector(body.with_vector, false);
    const out: RecordJson[] = [];
    const seen = new Set<number>();
    (body.ids as unknown[]).forEach((raw, i) => {
      const slot = this.idToSlot.get(parsePointId(raw, `ids[${i}]`));
      if (slot !== undefined && !seen.has(slot)) {
        seen.add(slot);
        out.push(this.record(slot, payload, vectors));
      }
    });
    return out;
  }

  getPoint(rawId: string): RecordJson {
    const id = /^\d+$/.test(rawId) ? Number(rawId) : rawId;
    const parsed = parsePointId(id, 'id');
    const slot = this.idToSlot.get(parsed);
    if (slot === undefined) throw notFound(`No point with id ${parsed} found`);
    return this.record(slot, { kind: 'all' }, true);
  }

  count(body: Record<string, unknown>): { count: number } {
    const pred = this.filter(body.filter);
    if (pred === null) return { count: this.liveCount };
    let n = 0;
    const candidates = this.candidateSlots([body.filter]);
    if (candidates) {
      for (const s of candidates) if (this.alive[s] === 1 && pred(s)) n++;
    } else {
      for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1 && pred(s)) n++;
    }
    return { count: n };
  }

  /**
   * The smallest set of slots an equality condition in the filters' top-level `must` allows
   * (from a keyword/integer/uuid/bool index, or has_id); null when there is none and every
   * point must be examined. Candidates still have to pass the full filter.
   */
  candidateSlots(filters: unknown[]): Set<number> | null {
    let best: Set<number> | null = null;
    for (const f of filters) {
      if (!f || typeof f !== 'object') continue;
      const must = (f as { must?: unknown }).must;
      const list = Array.isArray(must) ? must : must ? [must] : [];
      for (const c of list) {
        const cond = c as { key?: string; match?: { value?: unknown; any?: unknown[] } | null; has_id?: unknown[] };
        let set: Set<number> | undefined;
        if (Array.isArray(cond.has_id)) {
          set = new Set();
          for (const raw of cond.has_id) {
            const slot = this.idToSlot.get(parsePointId(raw, 'has_id'));
            if (slot !== undefined) set.add(slot);
          }
        } else if (typeof cond.key === 'string' && cond.match) {
          const index = this.indexes.get(cond.key);
          if (!index) continue;
          const values = 'value' in cond.match ? [cond.match.value] : Array.isArray(cond.match.any) ? cond.match.any : [];
          // Postings hold only values of the index's type; other types must take the scan.
          const want = index.type === 'integer' ? 'number' : index.type === 'bool' ? 'boolean' : 'string';
          if (values.length === 0 || !values.every((v) => typeof v === want)) continue;
          set = index.lookup(values);
        }
        if (set && (best === null || set.size < best.size)) best = set;
      }
    }
    return best;
  }

  scroll(body: Record<string, unknown>): { points: RecordJson[]; next_page_offset: PointId | null } {
    const limit = (body.limit as number | null | undefined) ?? 10;
    const payload = parseWithPayload(body.with_payload, true);
    const vectors = parseWithVector(body.with_vector, false);
    const pred = this.filter(body.filter);
    if (body.order_by !== undefined && body.order_by !== null) {
      if (body.offset !== undefined && body.offset !== null) throw badRequest('Cannot use an `offset` when using `order_by`');
      const ordered = this.orderBy(body.order_by, pred);
      const points = ordered.slice(0, limit).map(({ slot, value }) => ({ ...this.record(slot, payload, vectors), order_value: value }));
      return { points, next_page_offset: null };
    }
    const slots = this.sortedSlots();
    let start = 0;
    if (body.offset !== undefined && body.offset !== null) {
      const from = parsePointId(body.offset, 'offset');
      let lo = 0;
      let hi = slots.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (comparePointIds(this.slotIds[slots[mid]!]!, from) < 0) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const points: RecordJson[] = [];
    let next: PointId | null = null;
    for (let i = start; i < slots.length; i++) {
      const s = slots[i]!;
      if (pred !== null && !pred(s)) continue;
      if (points.length === limit) {
        next = this.slotIds[s]!;
        break;
      }
      points.push(this.record(s, payload, vectors));
    }
    return { points, next_page_offset: next };
  }

  /** Points ordered by a payload field with a range index; one entry per point. */
  orderBy(raw: unknown, pred: SlotPredicate | null): Array<{ slot: number; value: number | string }> {
    const spec = typeof raw === 'string' ? { key: raw } : (raw as { key: string; direction?: string | null; start_from?: unknown });
    const index = this.indexes.get(spec.key);
    if (!index || !index.supportsRange) {
      throw badRequest(
        `No range index for \`order_by\` key: \`${spec.key}\`. Please create one to use \`order_by\`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions`,
      );
    }
    const desc = spec.direction === 'desc';
    const isDate = index.type === 'datetime';
    const toNum = (v: unknown) => (isDate ? Date.parse(String(v)) : (v as number));
    let from: number | undefined;
    if (spec.start_from !== undefined && spec.start_from !== null) {
      from = typeof spec.start_from === 'string' ? Date.parse(spec.start_from) : (spec.start_from as number);
    }
    const rows: Array<{ slot: number; value: number | string; key: number }> = [];
    for (let s = 0; s < this.slotCount; s++) {
      if (this.alive[s] !== 1 || (pred !== null && !pred(s))) continue;
      const values = index.indexedValues(this.payloads[s] ?? null);
      if (values.length === 0) continue;
      let best: { value: number | string; key: number } | undefined;
      for (const v of values) {
        const key = toNum(v);
        if (from !== undefined && (desc ? key > from : key < from)) continue;
        if (!best || (desc ? key > best.key : key < best.key)) best = { value: v as number | string, key };
      }
      if (best) rows.push({ slot: s, ...best });
    }
    rows.sort((a, b) => (desc ? b.key - a.key : a.key - b.key) || comparePointIds(this.slotIds[a.slot]!, this.slotIds[b.slot]!));
    return rows.map(({ slot, value }) => ({ slot, value: isDate ? new Date(Date.parse(String(value))).toISOString() : value }));
  }

  // ---- schema -----------------------------------------------------------------------------

  createIndex(body: { field_name: string; field_schema?: unknown }): void {
    if (body.field_schema === undefined || body.field_schema === null) {
      throw badRequest(`field_schema is required to create an index on \`${body.field_name}\` (the embedded store does not infer it)`);
    }
    const schema = parseIndexSchema(body.field_schema);
    const index = new PayloadIndex(body.field_name, schema);
    for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1) index.add(s, this.payloads[s] ?? null);
    this.saveMeta({ ...this.meta, payload_schema: { ...this.meta.payload_schema, [body.field_name]: schema } });
    this.indexes.set(body.field_name, index);
  }

  deleteIndex(field: string): void {
    const { [field]: _removed, ...rest } = this.meta.payload_schema;
    this.saveMeta({ ...this.meta, payload_schema: rest });
    this.indexes.delete(field);
  }

  updateMeta(update: (meta: CollectionMeta) => CollectionMeta): void {
    this.saveMeta(update(this.meta));
  }

  /** meta.json first, memory after: a change the disk refused is not half made. */
  private saveMeta(next: CollectionMeta): void {
    const file = path.join(this.dir, 'meta.json');
    try {
      writeJsonDurably(file, next);
    } catch (err) {
      throw storageError(err, file);
    }
    this.meta = next;
  }

  info(): Record<string, unknown> {
    const m = this.meta;
    let indexed = 0;
    for (const col of this.columns.values()) indexed += col.count;
    const payloadSchema: Record<string, unknown> = {};
    for (const [key, index] of this.indexes) payloadSchema[key] = index.info();
    const problem = this.log.problem;
    const warnings = this.compactionProblem ? [{ message: this.compactionProblem.message }] : [];
    return {
      // Red while writes fail: what failed and that writes are retried, in Qdrant's fields.
      status: problem ? 'red' : 'green',
      optimizer_status: problem ? { error: problem } : 'ok',
      ...(warnings.length > 0 ? { warnings } : {}),
      indexed_vectors_count: indexed,
      points_count: this.liveCount,
      segments_count: 1,
      config: {
        params: { ...m.params, vectors: m.named ? m.vectors : m.vectors[''] },
        hnsw_config: m.hnsw_config,
        optimizer_config: m.optimizers_config,
        wal_config: m.wal_config,
        quantization_config: m.quantization_config,
        ...(m.metadata ? { metadata: m.metadata } : {}),
      },
      payload_schema: payloadSchema,
    };
  }

  /** Raw bytes of stored vectors (live points), for memory accounting. */
  vectorBytes(): number {
    let n = 0;
    for (const col of this.columns.values()) n += col.count * col.dim * 4;
    return n;
  }
}

export function parseWithVector(raw: unknown, dflt: boolean): VectorSelector {
  if (raw === undefined || raw === null) return dflt;
  if (raw === true || raw === false) return raw;
  return raw as string[];
}

function stampVersions(op: PointOp, opId: number): void {
  if (op.kind === 'upsert' || op.kind === 'update_vectors') for (const p of op.points) p.version = opId;
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

