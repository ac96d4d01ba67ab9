/**
 * The store: collections (one directory each under <dataDir>/collections), aliases, and the
 * operations of Qdrant's REST API expressed on request bodies that have already passed schema
 * validation. No HTTP here: the server in ../http wraps this, and tests may use it directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { badRequest, collectionNotFound, conflict, notFound, StoreCorruptionError, StoreError, storageError, validationError, wrongInput } from './errors.ts';
import { Collection, type CollectionMeta, type UpdateResult, type VectorParamsJson, type WriteOptions } from './collection.ts';
import { checkAliases, readJsonFile, writeJsonDurably } from './json-file.ts';
import { releaseLock, takeLock } from './lock.ts';
import { fsyncDir } from './log.ts';
import { query, queryGroups } from './query.ts';
import type { PointOp } from './records.ts';

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
const FORBIDDEN_NAME_CHARS = /[<>:"/\\|?*\0]/;

type Body = Record<string, unknown>;

export class Store {
  readonly dataDir: string;
  private readonly collections = new Map<string, Collection>();
  private aliases = new Map<string, string>();
  private closed = false;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /**
   * Opens (creating if needed) a store directory and loads every collection into memory. A
   * damaged file anywhere (a log, a meta.json, aliases.json) refuses the whole store with an
   * error naming it: serving a silently shrunken collection would be worse than not serving.
   */
  static open(dataDir: string): Store {
    const dir = path.resolve(dataDir);
    fs.mkdirSync(path.join(dir, 'collections'), { recursive: true });
    takeLock(dir);
    const store = new Store(dir);
    try {
      store.load();
    } catch (err) {
      for (const c of store.collections.values()) c.destroy();
      releaseLock(dir);
      throw err;
    }
    return store;
  }

  private load(): void {
    const root = path.join(this.dataDir, 'collections');
    for (const entry of fs.readdirSync(root)) {
      const full = path.join(root, entry);
      if (entry.startsWith('.')) {
        // An interrupted create (.tmp-*) or delete (.deleted-*).
        fs.rmSync(full, { recursive: true, force: true });
        continue;
      }
      if (!fs.statSync(full).isDirectory()) continue;
      // meta.json is written before a collection directory gets its final name: without it
      // the directory is damaged, not half-made.
      const c = Collection.open(full);
      const twin = this.collections.get(c.name);
      if (twin) {
        c.destroy();
        throw new StoreCorruptionError(full, `collections ${twin.dir} and ${full} both claim the name \`${c.name}\`; refusing to open. Move the one that is not wanted out of ${root}`);
      }
      this.collections.set(c.name, c);
    }
    const aliasFile = path.join(this.dataDir, 'aliases.json');
    if (fs.existsSync(aliasFile)) {
      const hint = `Fix or remove it (aliases can be recreated; \`clipstream store repair --data ${this.dataDir}\` moves it aside)`;
      const saved = readJsonFile<Record<string, string>>(aliasFile, checkAliases, hint);
      for (const [alias, name] of Object.entries(saved)) {
        if (!this.collections.has(name)) {
          throw new StoreCorruptionError(aliasFile, `${aliasFile} is damaged (alias \`${alias}\` points to collection \`${name}\`, which does not exist); refusing to open rather than drop it. ${hint}`);
        }
        this.aliases.set(alias, name);
      }
    }
  }

  /** Closes every collection; the lock goes whatever happens, so a restart is never blocked. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const results = await Promise.allSettled([...this.collections.values()].map((c) => c.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      releaseLock(this.dataDir);
    }
  }

  /** A collection by name or alias. */
  resolve(name: string): Collection {
    const c = this.collections.get(name) ?? this.collections.get(this.aliases.get(name) ?? '');
    if (!c) throw collectionNotFound(name);
    return c;
  }

  // ---- collections --------------------------------------------------------------------

  listCollections(): { collections: Array<{ name: string }> } {
    return { collections: [...this.collections.keys()].map((name) => ({ name })) };
  }

  exists(name: string): { exists: boolean } {
    return { exists: this.collections.has(name) || this.aliases.has(name) };
  }

  info(name: string): Record<string, unknown> {
    return this.resolve(name).info();
  }

  createCollection(name: string, body: Body): boolean {
    checkCollectionName(name);
    if (this.collections.has(name)) throw conflict(`Collection \`${name}\` already exists!`);
    if (this.aliases.has(name)) throw conflict(`Alias \`${name}\` already exists!`);
    const meta = buildMeta(name, body);
    const root = path.join(this.dataDir, 'collections');
    const id = `c-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const tmp = path.join(root, `.tmp-${id}`);
    const final = path.join(root, id);
    try {
      fs.mkdirSync(tmp);
      Collection.create(tmp, meta).destroy();
      fs.renameSync(tmp, final);
      fsyncDir(root);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw storageError(err, path.join(tmp, 'meta.json'));
    }
    this.collections.set(name, Collection.open(final));
    return true;
  }

  deleteCollection(name: string): boolean {
    const c = this.collections.get(name) ?? this.collections.get(this.aliases.get(name) ?? '');
    if (!c) return false;
    const kept = new Map([...this.aliases].filter(([, target]) => target !== c.name));
    if (kept.size !== this.aliases.size) this.saveAliases(kept);
    this.aliases = kept;
    this.collections.delete(c.name);
    c.destroy();
    const root = path.join(this.dataDir, 'collections');
    const trash = path.join(root, `.deleted-${path.basename(c.dir)}`);
    fs.renameSync(c.dir, trash);
    fsyncDir(root);
    fs.rm(trash, { recursive: true, force: true }, () => {});
    return true;
  }

  updateCollection(name: string, body: Body): boolean {
    const c = this.resolve(name);
    const vectorsDiff = (body.vectors ?? {}) as Record<string, Body>;
    for (const vname of Object.keys(vectorsDiff)) {
      if (!c.columns.has(vname)) throw wrongInput(`Not existing vector name error: ${vname}`);
    }
    if (body.sparse_vectors) throw badRequest('sparse vectors are not supported by the embedded store');
    c.updateMeta((m) => {
      const vectors = { ...m.vectors };
      for (const [vname, diff] of Object.entries(vectorsDiff)) {
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
      const quant = body.quantization_config;
      return {
        ...m,
        vectors,
        hnsw_config: { ...m.hnsw_config, ...stripNulls((body.hnsw_config ?? {}) as Body) },
        optimizers_config: { ...m.optimizers_config, ...stripNulls((body.optimizers_config ?? {}) as Body) },
        params: { ...m.params, ...stripNulls((body.params ?? {}) as Body) },
        quantization_config: quant === undefined || quant === null ? m.quantization_config : quant === 'Disabled' ? null : (quant as Body),
        metadata: body.metadata ? { ...(m.metadata ?? {}), ...(body.metadata as Body) } : m.metadata,
      };
    });
    return true;
  }

  // ---- aliases ------------------------------------------------------------------------

  updateAliases(body: { actions: Body[] }): boolean {
    const next = new Map(this.aliases);
    for (const action of body.actions) {
      if (action.create_alias) {
        const { collection_name, alias_name } = action.create_alias as { collection_name: string; alias_name: string };
        if (!this.collections.has(collection_name)) throw collectionNotFound(collection_name);
        if (this.collections.has(alias_name)) throw conflict(`Collection \`${alias_name}\` already exists!`);
        next.set(alias_name, collection_name);
      } else if (action.delete_alias) {
        const { alias_name } = action.delete_alias as { alias_name: string };
        if (!next.delete(alias_name)) throw notFound(`Alias \`${alias_name}\` doesn't exist!`);
      } else if (action.rename_alias) {
        const { old_alias_name, new_alias_name } = action.rename_alias as { old_alias_name: string; new_alias_name: string };
        const target = next.get(old_alias_name);
        if (target === undefined) throw notFound(`Alias \`${old_alias_name}\` doesn't exist!`);
        next.delete(old_alias_name);
        next.set(new_alias_name, target);
      }
    }
    this.saveAliases(next);
    this.aliases = next;
    return true;
  }

  listAliases(): { aliases: Array<{ alias_name: string; collection_name: string }> } {
    return { aliases: [...this.aliases].map(([alias_name, collection_name]) => ({ alias_name, collection_name })) };
  }

  collectionAliases(name: string): { aliases: Array<{ alias_name: string; collection_name: string }> } {
    const c = this.resolve(name);
    return { aliases: this.listAliases().aliases.filter((a) => a.collection_name === c.name) };
  }

  private saveAliases(aliases: Map<string, string>): void {
    const file = path.join(this.dataDir, 'aliases.json');
    try {
      writeJsonDurably(file, Object.fromEntries(aliases));
    } catch (err) {
      throw storageError(err, file);
    }
  }

  // ---- payload indexes ----------------------------------------------------------------

  createIndex(name: string, body: { field_name: string; field_schema?: unknown }, opts: WriteOptions): UpdateResult {
    this.resolve(name).createIndex(body);
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  deleteIndex(name: string, field: string, opts: WriteOptions): UpdateResult {
    this.resolve(name).deleteIndex(field);
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  // ---- points: writes -------------------------------------------------------------------

  async upsert(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.upsertOp(body)], opts))[0]!;
  }

  async deletePoints(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.deleteOp(body)], opts))[0]!;
  }

  async setPayload(name: string, body: Body, opts: WriteOptions, overwrite: boolean): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.setPayloadOp(body, overwrite)], opts))[0]!;
  }

  async deletePayload(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.deletePayloadOp(body)], opts))[0]!;
  }

  async clearPayload(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.clearPayloadOp(body)], opts))[0]!;
  }

  async updateVectors(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.updateVectorsOp(body)], opts))[0]!;
  }

  async deleteVectors(name: string, body: Body, opts: WriteOptions): Promise<UpdateResult> {
    const c = this.resolve(name);
    return (await c.commit([c.deleteVectorsOp(body)], opts))[0]!;
  }

  /**
   * points/batch: operations apply in order; each one is checked against the state the previous
   * ones left, and the whole batch is made durable with one sync.
   */
  async batch(name: string, body: { operations: Body[] }, opts: WriteOptions): Promise<UpdateResult[]> {
    const c = this.resolve(name);
    const results: UpdateResult[] = [];
    for (const operation of body.operations) {
      const [kind, arg] = Object.entries(operation)[0] as [string, Body];
      let op: PointOp;
      switch (kind) {
        case 'upsert':
          op = c.upsertOp(arg);
          break;
        case 'delete':
          op = c.deleteOp(arg);
          break;
        case 'set_payload':
          op = c.setPayloadOp(arg, false);
          break;
        case 'overwrite_payload':
          op = c.setPayloadOp(arg, true);
          break;
        case 'delete_payload':
          op = c.deletePayloadOp(arg);
          break;
        case 'clear_payload':
          op = c.clearPayloadOp(arg);
          break;
        case 'update_vectors':
          op = c.updateVectorsOp(arg);
          break;
        case 'delete_vectors':
          op = c.deleteVectorsOp(arg);
          break;
        default:
          throw badRequest(`unknown batch operation ${kind}`);
      }
      results.push(...(await c.commit([op], { wait: false })));
    }
    if (opts.wait) await c.commit([], opts);
    return results.map((r) => ({ ...r, status: opts.wait ? 'completed' : 'acknowledged' }));
  }

  // ---- points: reads --------------------------------------------------------------------

  retrieve(name: string, body: Body) {
    return this.resolve(name).retrieve(body);
  }

  getPoint(name: string, id: string) {
    return this.resolve(name).getPoint(id);
  }

  scroll(name: string, body: Body) {
    return this.resolve(name).scroll(body);
  }

  count(name: string, body: Body) {
    return this.resolve(name).count(body);
  }

  query(name: string, body: Body) {
    return query(this, this.resolve(name), body);
  }

  queryBatch(name: string, body: { searches: Body[] }) {
    const c = this.resolve(name);
    return body.searches.map((s) => query(this, c, s));
  }

  queryGroups(name: string, body: Body) {
    return queryGroups(this, this.resolve(name), body as Body & { group_by: string });
  }

  /** Raw bytes of all stored vectors, for memory accounting in benchmarks. */
  vectorBytes(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.vectorBytes();
    return n;
  }
}

function stripNulls(o: Body): Body {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

function checkCollectionName(name: string): void {
  if (name.length === 0 || name.length > 255) throw validationError('collection_name', 'length must be between 1 and 255');
  const bad = FORBIDDEN_NAME_CHARS.exec(name);
  if (bad) throw validationError('collection_name', `collection name cannot contain "${bad[0]}" char`);
}

function buildMeta(name: string, body: Body): CollectionMeta {
  if (body.sparse_vectors) throw badRequest('sparse vectors are not supported by the embedded store');
  const raw = (body.vectors ?? {}) as Body;
  const single = typeof raw.size === 'number' && typeof raw.distance === 'string';
  const entries: Array<[string, Body]> = single ? [['', raw]] : (Object.entries(raw) as Array<[string, Body]>);
  const vectors: Record<string, VectorParamsJson> = {};
  for (const [vname, p] of entries) {
    if (p.multivector_config) throw badRequest(`vector ${JSON.stringify(vname)}: multi-vectors are not supported by the embedded store`);
    vectors[vname] = stripNulls(p) as VectorParamsJson;
  }
  const quant = body.quantization_config;
  return {
    name,
    named: !single,
    vectors,
    hnsw_config: { ...DEFAULT_HNSW, ...stripNulls((body.hnsw_config ?? {}) as Body) },
    optimizers_config: { ...DEFAULT_OPTIMIZERS, ...stripNulls((body.optimizers_config ?? {}) as Body) },
    wal_config: { ...DEFAULT_WAL, ...stripNulls((body.wal_config ?? {}) as Body) },
    quantization_config: quant === undefined || quant === null ? null : (quant as Body),
    params: {
      shard_number: body.shard_number ?? 1,
      replication_factor: body.replication_factor ?? 1,
      write_consistency_factor: body.write_consistency_factor ?? 1,
      on_disk_payload: body.on_disk_payload ?? true,
    },
    metadata: (body.metadata as Body | null | undefined) ?? null,
    payload_schema: {},
  };
}
