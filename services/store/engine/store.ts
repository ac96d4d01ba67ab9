/**
 * The store: collections (one directory each under <dataDir>/collections), aliases, and the
 * operations of Qdrant's REST API expressed on request bodies that have already passed schema
 * validation. No HTTP here: the server in ../http wraps this, and tests may use it directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Schemas } from '@qdrant/js-client-rest';
import { collectionNotFound, conflict, notFound, StoreCorruptionError, storageError, validationError, wrongInput } from './errors.ts';
import { Collection, type UpdateResult, type WriteOptions } from './collection.ts';
import { checkAliases, readJsonFile, writeJsonDurably } from './json-file.ts';
import { releaseLock, takeLock } from './lock.ts';
import { fsyncDir } from './log-files.ts';
import { buildMeta, updatedMeta } from './meta.ts';
import { query, queryGroups } from './query/index.ts';
import * as legacy from './query/legacy.ts';
import { facet, matrixOffsets, matrixPairs } from './query/explore.ts';
import { validateBody } from './validate.ts';
import { checkTimeout, enforceStrictMode } from './strict-mode.ts';
import { cleanupSnapshots, CollectionSnapshots } from './snapshots/index.ts';
import { FullSnapshots } from './snapshots/full.ts';

const FORBIDDEN_NAME_CHARS = /[<>:"/\\|?*\0]/;

type Body = Record<string, unknown>;

export class Store {
  readonly dataDir: string;
  private readonly collections = new Map<string, Collection>();
  private aliases = new Map<string, string>();
  private closed = false;
  /** Collection snapshots (snapshots/index.ts). */
  readonly snapshots: CollectionSnapshots;
  /** Full snapshots: every collection and the aliases (snapshots/full.ts). */
  readonly fullSnapshots: FullSnapshots;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.snapshots = new CollectionSnapshots(this);
    this.fullSnapshots = new FullSnapshots(this);
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
    cleanupSnapshots(this.dataDir);
    finishReplacements(root);
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

  createCollection(name: string, rawBody: unknown): boolean {
    const body = checked<Schemas['CreateCollection']>('CreateCollection', rawBody ?? {});
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

  collectionList(): Collection[] {
    return [...this.collections.values()];
  }

  aliasMap(): Record<string, string> {
    return Object.fromEntries(this.aliases);
  }

  /** Sets these aliases, replacing any of the same name (a full snapshot's recovery). */
  restoreAliases(aliases: Record<string, string>): void {
    const next = new Map(this.aliases);
    for (const [alias, target] of Object.entries(aliases)) {
      if (!this.collections.has(target)) throw collectionNotFound(target);
      next.set(alias, target);
    }
    this.saveAliases(next);
    this.aliases = next;
  }

  /** The collection a snapshot recovery into `name` replaces (an alias's target), or a new name. */
  recoveryTarget(name: string): string {
    const target = this.aliases.get(name) ?? name;
    checkCollectionName(target);
    return target;
  }

  /**
   * Puts the collection prepared in `tmp` (a `.tmp-*` directory under collections/ whose
   * meta.json names `name`) in place of the collection called `name`, if there is one. Its log
   * is replayed once first, so a bad one is refused before anything is replaced. The rename of
   * `tmp` is the commit point: it carries a REPLACES file naming the old directory, and an open
   * after a crash finishes the replacement (finishReplacements).
   */
  async installCollection(name: string, tmp: string): Promise<void> {
    await Collection.open(tmp).close();
    const root = path.join(this.dataDir, 'collections');
    const final = path.join(root, `c-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    const old = this.collections.get(name);
    try {
      if (old) writeJsonDurably(path.join(tmp, REPLACES), path.basename(old.dir));
      fs.renameSync(tmp, final);
      fsyncDir(root);
    } catch (err) {
      throw storageError(err, final);
    }
    const next = Collection.open(final);
    this.collections.set(name, next);
    if (old) {
      old.destroy();
      const trash = path.join(root, `.deleted-${path.basename(old.dir)}`);
      fs.renameSync(old.dir, trash);
      fsyncDir(root);
      fs.rm(trash, { recursive: true, force: true }, () => {});
    }
    fs.rmSync(path.join(final, REPLACES), { force: true });
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

  updateCollection(name: string, rawBody: unknown): boolean {
    const body = checked<Schemas['UpdateCollection']>('UpdateCollection', rawBody ?? {});
    const c = this.resolve(name);
    for (const vname of Object.keys(body.vectors ?? {})) {
      if (!c.meta.vectors[vname]) throw wrongInput(`Not existing vector name error: ${vname}`);
    }
    for (const vname of Object.keys(body.sparse_vectors ?? {})) {
      if (!c.meta.sparse_vectors?.[vname]) throw wrongInput(`Not existing vector name error: ${vname}`);
    }
    c.updateMeta((m) => updatedMeta(m, body));
    return true;
  }

  /** PUT /collections/{name}/vectors/{vector}: a new dense or sparse named vector. */
  async createVectorName(name: string, vectorName: string, rawBody: unknown, opts: WriteOptions): Promise<UpdateResult> {
    const body = checked<Schemas['VectorNameConfig']>('VectorNameConfig', rawBody);
    if (vectorName.length === 0) throw validationError('vector_name', 'must not be empty');
    const c = this.resolve(name);
    await c.createVectorName(vectorName, body);
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  async deleteVectorName(name: string, vectorName: string, opts: WriteOptions): Promise<UpdateResult> {
    await this.resolve(name).deleteVectorName(vectorName);
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  // ---- aliases ------------------------------------------------------------------------

  updateAliases(rawBody: unknown): boolean {
    const body = checked<Schemas['ChangeAliasesOperation']>('ChangeAliasesOperation', rawBody);
    const next = new Map(this.aliases);
    for (const action of body.actions as Body[]) {
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

  createIndex(name: string, rawBody: unknown, opts: WriteOptions): UpdateResult {
    this.resolve(name).createIndex(this.strictly<Schemas['CreateFieldIndex']>(name, 'CreateFieldIndex', rawBody));
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  deleteIndex(name: string, field: string, opts: WriteOptions): UpdateResult {
    this.resolve(name).deleteIndex(field);
    return { operation_id: 0, status: opts.wait ? 'completed' : 'acknowledged' };
  }

  // ---- points: writes -------------------------------------------------------------------

  upsert(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).upsert(this.strictly(name, 'PointInsertOperations', body), opts);
  }

  deletePoints(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).deletePoints(this.strictly(name, 'PointsSelector', body), opts);
  }

  setPayload(name: string, body: unknown, opts: WriteOptions, overwrite: boolean): Promise<UpdateResult> {
    return this.resolve(name).setPayload(this.strictly(name, 'SetPayload', body), opts, overwrite);
  }

  deletePayload(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).deletePayload(this.strictly(name, 'DeletePayload', body), opts);
  }

  clearPayload(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).clearPayload(this.strictly(name, 'PointsSelector', body), opts);
  }

  updateVectors(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).updateVectors(this.strictly(name, 'UpdateVectors', body), opts);
  }

  deleteVectors(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult> {
    return this.resolve(name).deleteVectors(this.strictly(name, 'DeleteVectors', body), opts);
  }

  /**
   * points/batch: operations apply in order; each one is checked against the state the previous
   * ones left, and the whole batch is made durable with one sync.
   */
  batch(name: string, body: unknown, opts: WriteOptions): Promise<UpdateResult[]> {
    return this.resolve(name).batch(this.strictly(name, 'UpdateOperations', body), opts);
  }

  // ---- points: reads --------------------------------------------------------------------

  retrieve(name: string, body: unknown) {
    return this.resolve(name).retrieve(this.strictly(name, 'PointRequest', body));
  }

  getPoint(name: string, id: string) {
    return this.resolve(name).getPoint(id);
  }

  scroll(name: string, body: unknown = {}) {
    return this.resolve(name).scroll(this.strictly(name, 'ScrollRequest', body ?? {}));
  }

  count(name: string, body: unknown = {}) {
    return this.resolve(name).count(this.strictly(name, 'CountRequest', body ?? {}));
  }

  query(name: string, body: unknown = {}) {
    return query(this, this.resolve(name), this.strictly(name, 'QueryRequest', body ?? {}));
  }

  queryBatch(name: string, body: unknown) {
    const c = this.resolve(name);
    return this.strictly<Schemas['QueryRequestBatch']>(name, 'QueryRequestBatch', body).searches.map((s) => query(this, c, s));
  }

  queryGroups(name: string, body: unknown) {
    return queryGroups(this, this.resolve(name), this.strictly(name, 'QueryGroupsRequest', body));
  }

  search(name: string, body: unknown) {
    return legacy.search(this, this.resolve(name), this.strictly(name, 'SearchRequest', body));
  }

  searchBatch(name: string, body: unknown) {
    return legacy.searchBatch(this, this.resolve(name), this.strictly(name, 'SearchRequestBatch', body));
  }

  searchGroups(name: string, body: unknown) {
    return legacy.searchGroups(this, this.resolve(name), this.strictly(name, 'SearchGroupsRequest', body));
  }

  recommend(name: string, body: unknown) {
    return legacy.recommend(this, this.resolve(name), this.strictly(name, 'RecommendRequest', body));
  }

  recommendBatch(name: string, body: unknown) {
    return legacy.recommendBatch(this, this.resolve(name), this.strictly(name, 'RecommendRequestBatch', body));
  }

  recommendGroups(name: string, body: unknown) {
    return legacy.recommendGroups(this, this.resolve(name), this.strictly(name, 'RecommendGroupsRequest', body));
  }

  discover(name: string, body: unknown) {
    return legacy.discover(this, this.resolve(name), this.strictly(name, 'DiscoverRequest', body));
  }

  discoverBatch(name: string, body: unknown) {
    return legacy.discoverBatch(this, this.resolve(name), this.strictly(name, 'DiscoverRequestBatch', body));
  }

  matrixPairs(name: string, body: unknown = {}) {
    return matrixPairs(this.resolve(name), this.strictly(name, 'SearchMatrixRequest', body ?? {}));
  }

  matrixOffsets(name: string, body: unknown = {}) {
    return matrixOffsets(this.resolve(name), this.strictly(name, 'SearchMatrixRequest', body ?? {}));
  }

  facet(name: string, body: unknown) {
    return facet(this.resolve(name), this.strictly(name, 'FacetRequest', body));
  }

  /** `?timeout=` on a request to a collection, against its strict mode's max_timeout. */
  checkTimeout(name: string, timeout: string | null): void {
    const c = this.collections.get(name) ?? this.collections.get(this.aliases.get(name) ?? '');
    if (c) checkTimeout(c, timeout);
  }

  /**
   * A body checked against its schema and then against the collection's strict mode
   * (strict-mode.ts): refused requests never reach the engine.
   */
  private strictly<T>(name: string, schema: string, body: unknown): T {
    const checkedBody = checked<T>(schema, body);
    enforceStrictMode(this.resolve(name), schema, checkedBody);
    return checkedBody;
  }

  /** Names and sizes of the collections, for telemetry and metrics. */
  collectionStats(): Array<{ name: string; points: number; vectors: number }> {
    return [...this.collections.values()].map((c) => ({ name: c.name, points: c.liveCount, vectors: c.state.vectors.size }));
  }

  /** Raw bytes of all stored vectors, for memory accounting in benchmarks. */
  vectorBytes(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.vectorBytes();
    return n;
  }
}

/**
 * A request body checked against Qdrant's schema for it: whoever calls the engine directly gets
 * the same 400/422 StoreError the REST API answers, never a TypeError from deep inside.
 */
function checked<T>(schema: string, body: unknown): T {
  validateBody(schema, body);
  return body as T;
}

/** Marks a recovered collection directory with the one it replaces (see installCollection). */
const REPLACES = 'REPLACES';

/** Completes replacements a crash interrupted: the directory a recovered collection replaces goes. */
function finishReplacements(root: string): void {
  for (const entry of fs.readdirSync(root)) {
    const marker = path.join(root, entry, REPLACES);
    if (entry.startsWith('.') || !fs.existsSync(marker)) continue;
    const replaced = JSON.parse(fs.readFileSync(marker, 'utf8')) as unknown;
    if (typeof replaced === 'string' && replaced.length > 0 && !replaced.includes('/') && !replaced.startsWith('.') && replaced !== entry) {
      fs.rmSync(path.join(root, replaced), { recursive: true, force: true });
    }
    fs.rmSync(marker);
    fsyncDir(root);
  }
}

function checkCollectionName(name: string): void {
  if (name.length === 0 || name.length > 255) throw validationError('collection_name', 'length must be between 1 and 255');
  const bad = FORBIDDEN_NAME_CHARS.exec(name);
  if (bad) throw validationError('collection_name', `collection name cannot contain "${bad[0]}" char`);
}

