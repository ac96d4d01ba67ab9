/**
 * One collection: its configuration (meta.json, meta.ts), its points in memory
 * (point-state.ts), the log that makes every change durable (durability.ts), and the entry
 * points the store calls — writes turned into ops (operations.ts), reads (reads.ts) — on
 * bodies that have passed schema validation.
 */
import path from 'node:path';
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, storageError, wrongInput } from './errors.ts';
import { compileFilter, type FilterJson, type FilterTarget, type SlotPredicate } from './filter.ts';
import type { PointId } from './ids.ts';
import { parseIndexSchema } from './indexes.ts';
import { checkCollectionMeta, readJsonFile, writeJsonDurably } from './json-file.ts';
import { CollectionLog, type UpdateResult, type WriteOptions } from './durability.ts';
import { VectorIndexes } from './ann/vector-indexes.ts';
import { VectorFile, vectorFilePath } from './disk-vectors.ts';
import { configInfo, withoutVectorName, withVectorName, type CollectionMeta } from './meta.ts';
import * as ops from './operations.ts';
import type { Payload, PayloadSelector } from './payload.ts';
import { PointState } from './point-state.ts';
import * as reads from './reads.ts';
import type { PointOp } from './records.ts';
import { SparseVectors } from './sparse.ts';
import { VectorColumn } from './vectors.ts';
import { denseStorage } from './multivectors.ts';
import type { VectorStorage } from './vector-storage.ts';

export type { UpdateResult, WriteOptions } from './durability.ts';
export type { CollectionMeta } from './meta.ts';

export class Collection implements FilterTarget, ops.OpContext, reads.ReadContext {
  readonly dir: string;
  meta: CollectionMeta;
  readonly state: PointState;
  /** ANN indexes of the dense vectors (made before the replay, which fills them). */
  readonly ann: VectorIndexes;
  private log!: CollectionLog;

  private constructor(dir: string, meta: CollectionMeta) {
    this.dir = dir;
    this.meta = meta;
    this.state = new PointState(meta);
    for (const [name, p] of Object.entries(meta.vectors)) if (p.on_disk && !p.multivector_config) this.column(name).backWithFile(new VectorFile(vectorFilePath(dir, name), p.size));
    this.ann = new VectorIndexes(dir, this.state, meta);
  }

  private closeVectorFiles(): void {
    for (const s of this.state.vectors.values()) if (s instanceof VectorColumn) s.file?.close();
  }

  static create(dir: string, meta: CollectionMeta): Collection {
    writeJsonDurably(path.join(dir, 'meta.json'), meta);
    return Collection.open(dir, { create: true });
  }

  static open(dir: string, opts: { create?: boolean } = {}): Collection {
    const meta = readJsonFile<CollectionMeta>(
      path.join(dir, 'meta.json'),
      checkCollectionMeta,
      "It holds the collection's vector configuration: restore it from a backup (the points are in the log beside it)",
    );
    const c = new Collection(dir, meta);
    try {
      c.log = new CollectionLog(dir, c.state, meta.name, opts);
    } catch (err) {
      c.ann.close();
      throw err;
    }
    c.ann.open();
    return c;
  }

  get name(): string {
    return this.meta.name;
  }

  get named(): boolean {
    return this.meta.named;
  }

  async close(): Promise<void> {
    this.ann.close();
    await this.log.close();
    this.closeVectorFiles();
  }

  /** Deletes the collection's files (the caller has unregistered it). */
  destroy(): void {
    this.ann.close();
    this.log.abandon();
    this.closeVectorFiles();
  }

  /** Rewrites the log as the live points now (or once the write in flight is done). */
  compact(): void {
    this.log.compact();
  }

  /** Resolves once every write appended so far is written and applied. */
  settled(): Promise<void> {
    return this.log.whenIdle();
  }

  /**
   * What a snapshot copies, taken in one turn so the two agree: the configuration and the log's
   * written prefix (every op before it applied, none after it).
   */
  snapshotSource(): { meta: CollectionMeta; log: { fd: number; end: number; file: string } } {
    return { meta: structuredClone(this.meta), log: this.log.openWrittenPrefix() };
  }

  // ---- what filters, ops and queries see -------------------------------------------------

  get slotCount(): number {
    return this.state.slots.slotCount;
  }
  get liveCount(): number {
    return this.state.slots.liveCount;
  }
  get alive(): Uint8Array {
    return this.state.slots.alive;
  }
  get versions(): number[] {
    return this.state.slots.versions;
  }
  payloadOf(slot: number): Payload | null {
    return this.state.slots.payloads[slot] ?? null;
  }
  slotOf(id: PointId): number | undefined {
    return this.state.slots.slotOf(id);
  }
  idOf(slot: number): PointId {
    return this.state.slots.slotIds[slot]!;
  }
  liveSlots(): Iterable<number> {
    return this.state.slots.live();
  }
  sortedSlots(): number[] {
    return this.state.slots.sorted();
  }
  hasVector(name: string, slot: number): boolean {
    return this.state.vectors.get(name)?.has(slot) ?? false;
  }
  isVectorName(name: string): boolean {
    return this.state.vectors.has(name);
  }
  isTextIndexed(key: string): boolean {
    return this.state.indexes.get(key)?.type === 'text';
  }
  vectorStorage(name: string): VectorStorage | undefined {
    return this.state.vectors.get(name);
  }

  filter(raw: unknown, where = 'filter'): SlotPredicate | null {
    if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw badRequest(`${where}: expected a filter object`);
    return compileFilter(raw as FilterJson | null | undefined, this, where);
  }

  /** The storage of a named vector, or Qdrant's error for a name the collection lacks. */
  storage(name: string): VectorStorage {
    const s = this.state.vectors.get(name);
    if (!s) throw wrongInput(`Not existing vector name error: ${name}`);
    return s;
  }

  /** A dense vector's column (queries that need a dense one). */
  column(name: string): VectorColumn {
    const s = this.storage(name);
    if (!(s instanceof VectorColumn)) throw wrongInput(`vector ${JSON.stringify(name)} is a ${s.kind === 'multi' ? 'multivector' : 'sparse vector'}; this query needs a dense one`);
    return s;
  }

  sparse(name: string): SparseVectors {
    const s = this.storage(name);
    if (!(s instanceof SparseVectors)) throw wrongInput(`vector ${JSON.stringify(name)} is a dense vector, not a sparse one`);
    return s;
  }

  // ---- writes -----------------------------------------------------------------------------

  commit(opsList: PointOp[], opts: WriteOptions): Promise<UpdateResult[]> {
    return this.log.commit(opsList, opts);
  }

  private async one(op: PointOp, opts: WriteOptions): Promise<UpdateResult> {
    return (await this.log.commit([op], opts))[0]!;
  }

  upsert(body: Schemas['PointInsertOperations'], opts: WriteOptions) {
    return this.one(ops.upsertOp(this, body), opts);
  }
  deletePoints(body: Schemas['PointsSelector'], opts: WriteOptions) {
    return this.one(ops.deleteOp(this, body), opts);
  }
  setPayload(body: Schemas['SetPayload'], opts: WriteOptions, overwrite: boolean) {
    return this.one(ops.setPayloadOp(this, body, overwrite), opts);
  }
  deletePayload(body: Schemas['DeletePayload'], opts: WriteOptions) {
    return this.one(ops.deletePayloadOp(this, body), opts);
  }
  clearPayload(body: Schemas['PointsSelector'], opts: WriteOptions) {
    return this.one(ops.clearPayloadOp(this, body), opts);
  }
  updateVectors(body: Schemas['UpdateVectors'], opts: WriteOptions) {
    return this.one(ops.updateVectorsOp(this, body), opts);
  }
  deleteVectors(body: Schemas['DeleteVectors'], opts: WriteOptions) {
    return this.one(ops.deleteVectorsOp(this, body), opts);
  }

  /**
   * points/batch: operations apply in order; each one is checked against the state the previous
   * ones left, and the whole batch is made durable with one sync.
   */
  async batch(body: Schemas['UpdateOperations'], opts: WriteOptions): Promise<UpdateResult[]> {
    if (!Array.isArray(body.operations)) throw badRequest('operations: expected a list');
    const results: UpdateResult[] = [];
    for (const operation of body.operations) results.push(...(await this.log.commit([ops.batchOp(this, operation as Record<string, unknown>)], { wait: false })));
    if (opts.wait) await this.log.commit([], opts);
    return results.map((r) => ({ ...r, status: opts.wait ? 'completed' : 'acknowledged' }));
  }

  // ---- reads ------------------------------------------------------------------------------

  record(slot: number, payload: PayloadSelector, vectors: reads.VectorSelector): reads.RecordJson {
    return reads.record(this, slot, payload, vectors);
  }
  retrieve(body: Schemas['PointRequest']) {
    return reads.retrieve(this, body);
  }
  getPoint(rawId: string) {
    return reads.getPoint(this, rawId);
  }
  count(body: Schemas['CountRequest']) {
    return reads.count(this, body);
  }
  scroll(body: Schemas['ScrollRequest']) {
    return reads.scroll(this, body);
  }
  candidateSlots(filters: unknown[]): Set<number> | null {
    return reads.candidateSlots(this, filters);
  }
  orderBy(raw: unknown, pred: SlotPredicate | null) {
    return reads.orderBy(this, raw, pred);
  }

  // ---- schema -----------------------------------------------------------------------------

  createIndex(body: Schemas['CreateFieldIndex']): void {
    if (body.field_schema === undefined || body.field_schema === null) {
      throw badRequest(`field_schema is required to create an index on \`${body.field_name}\` (the embedded store does not infer it)`);
    }
    const schema = parseIndexSchema(body.field_schema);
    this.saveMeta({ ...this.meta, payload_schema: { ...this.meta.payload_schema, [body.field_name]: schema } });
    this.state.addIndex(body.field_name, schema);
  }

  deleteIndex(field: string): void {
    const { [field]: _removed, ...rest } = this.meta.payload_schema;
    this.saveMeta({ ...this.meta, payload_schema: rest });
    this.state.indexes.delete(field);
  }

  updateMeta(update: (meta: CollectionMeta) => CollectionMeta): void {
    this.saveMeta(update(this.meta));
    this.ann.reconfigure(this.meta);
  }

  /**
   * A new named vector: no point has it until written. The log is compacted first, so values an
   * earlier vector of the same name left in it (replay skips names not configured) stay gone.
   */
  async createVectorName(name: string, config: Schemas['VectorNameConfig']): Promise<void> {
    withVectorName(this.meta, name, config);
    await this.log.compactWhenIdle();
    const next = withVectorName(this.meta, name, config);
    this.saveMeta(next);
    const dense = next.vectors[name];
    const storage = dense ? denseStorage(dense) : new SparseVectors(next.sparse_vectors![name]!);
    if (storage instanceof VectorColumn && dense?.on_disk) storage.backWithFile(new VectorFile(vectorFilePath(this.dir, name), dense.size));
    this.state.addVector(name, storage);
    this.ann.reconfigure(next);
  }

  /**
   * Drops a named vector from the configuration and from memory, then compacts the log so its
   * values are gone from disk too (until then replay skips them: the name is not configured).
   */
  async deleteVectorName(name: string): Promise<void> {
    const next = withoutVectorName(this.meta, name);
    // Writes in flight carry values of the name; they are applied before it goes.
    while (!this.log.idle) await this.log.whenIdle();
    this.saveMeta(next);
    const dropped = this.state.vectors.get(name);
    this.state.dropVector(name);
    if (dropped instanceof VectorColumn) dropped.file?.remove();
    this.ann.reconfigure(next);
    await this.log.compactWhenIdle();
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
    // As Qdrant counts: vectors in an ANN index (a vector without one counts all it holds).
    let indexed = 0;
    for (const [name, storage] of this.state.vectors) indexed += this.ann.get(name)?.indexed ?? storage.count;
    const payloadSchema: Record<string, unknown> = {};
    for (const [key, index] of this.state.indexes) payloadSchema[key] = index.info();
    const problem = this.log.problem;
    const warning = this.log.warning;
    return {
      // Red while writes fail: what failed and that writes are retried, in Qdrant's fields.
      // Yellow while the optimiser folds points into an index, as Qdrant reports it.
      status: problem ? 'red' : this.ann.optimizing ? 'yellow' : 'green',
      optimizer_status: problem ? { error: problem } : 'ok',
      ...(warning || this.ann.problem ? { warnings: [warning, this.ann.problem].filter((m) => m !== null).map((message) => ({ message })) } : {}),
      indexed_vectors_count: indexed,
      points_count: this.liveCount,
      segments_count: 1,
      config: configInfo(this.meta),
      payload_schema: payloadSchema,
    };
  }

  /** Raw bytes of stored vectors (live points), for memory accounting. */
  vectorBytes(): number {
    return this.state.vectorBytes();
  }
}
