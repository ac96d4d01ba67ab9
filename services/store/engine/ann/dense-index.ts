/**
 * The ANN index of one dense named vector, as Qdrant segments work: points written land in an
 * appendable part (searched exactly), and once that part holds more than `indexing_threshold`
 * the optimiser thread folds it into a usearch HNSW index, whose file the main thread maps
 * (usearch `view`: no copy, the kernel pages it in). Search merges the index's candidates
 * (re-scored with the original vectors, so scores are the exact ones) with the exact scan of
 * the appendable part.
 *
 * Index keys are handed out in sequence (never reused); the key ↔ slot maps say which entries
 * are current. A point rewritten or deleted leaves its entry behind as a tombstone: it is
 * skipped by searches and removed from the index by the next fold. The keys file records each
 * key's point id and the version its vector was written at, so a reopened collection (whose
 * log replay may place points in other slots) maps entries back to points, and re-indexes any
 * point whose vector changed since.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import usearch from 'usearch';
import type { SlotPredicate } from '../filter.ts';
import type { SlotTable } from '../slots.ts';
import { TopK } from '../topk.ts';
import { higherIsBetter, type ColumnObserver, type VectorColumn } from '../vectors.ts';
import { indexFileMatches, KeysFile, manifestPath, readKeyRecords, readManifest, removeStale, stem, writeManifest, type KeyRecord, type Manifest } from './files.ts';
import { optimizer, type FoldResult, type UsearchConfig } from './optimizer.ts';
import { fingerprint, usearchMetric, type AnnParams } from './params.ts';

const { Index } = usearch;
type UsearchIndex = InstanceType<typeof Index>;

/** Points per fold: large enough that rewriting the index file is a small part of a fold. */
const FOLD_MAX = 131_072;
/** Tombstones are vacuumed once they are this share of the index (Qdrant's deleted_threshold) … */
const VACUUM_SHARE = 0.2;
/** … and at least this many (vacuum_min_vector_number). */
const VACUUM_MIN = 1000;
/**
 * Once an index exists, a remainder below the threshold is folded in after this long without
 * writes: a quiet collection is then searched through its index alone (Qdrant would leave it in
 * its plain segment, whose scan is SIMD; ours is JavaScript).
 */
const QUIET_MS = 1000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Extra beam for a filtered search (post-filtering loses the matches HNSW ranks deeper). */
const FILTER_MARGIN = 2;

export interface IndexSearch {
  k: number;
  ef: number | null;
  pred: SlotPredicate | null;
  /** Share of points the filter lets through (1 without a filter): widens the index search. */
  selectivity: number;
  threshold: number | null;
  indexedOnly: boolean;
  oversampling: number | null;
  rescore: boolean | null;
}

export class DenseIndex implements ColumnObserver {
  params: AnnParams;
  private epoch: string = randomUUID();
  private keyOfSlot = new Int32Array(16).fill(-1);
  private slotOfKey = new Int32Array(16).fill(-1);
  /** Bumped at every write or clear of a slot: tells a fold whether a vector changed meanwhile. */
  private gens = new Uint32Array(16);
  /** The version each slot's vector was written at (recorded with its key). */
  private stamps = new Float64Array(16);
  private nextKey = 0;
  /** The appendable part: slots holding a vector not (validly) in the index. */
  readonly pending = new Set<number>();
  /** Keys whose entries are tombstones still in the index file. */
  private stale: number[] = [];
  private view: UsearchIndex | null = null;
  /** Entries in the mapped index file, tombstones included. */
  private viewSize = 0;
  /** Current entries. */
  indexed = 0;
  private manifest: Manifest | null = null;
  private keysFile: KeysFile | null = null;
  private folding = false;
  private scheduled = false;
  private quietTimer: NodeJS.Timeout | null = null;
  /** After a failed fold, none before this time (a full disk is not retried at every write). */
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastWrite = 0;
  private ready = false;
  private closed = false;
  /** The last fold failure (the index keeps serving; the next fold retries). */
  problem: string | null = null;

  constructor(
    readonly name: string,
    readonly column: VectorColumn,
    private readonly slots: SlotTable,
    params: AnnParams,
    private readonly dir: string,
  ) {
    this.params = params;
  }

  // ---- the column's changes -------------------------------------------------------------

  written(slot: number): void {
    this.grow(slot);
    this.gens[slot]!++;
    this.stamps[slot] = this.slots.versions[slot] ?? 0;
    this.unmap(slot);
    this.pending.add(slot);
    this.lastWrite = Date.now();
    this.schedule();
  }

  cleared(slot: number): void {
    this.grow(slot);
    this.gens[slot]!++;
    this.unmap(slot);
    this.pending.delete(slot);
    this.lastWrite = Date.now();
    this.schedule();
  }

  /** Every vector the column holds goes into the appendable part (an index made for existing data). */
  seed(): void {
    for (const s of this.slots.live()) if (this.column.has(s)) this.written(s);
  }

  private grow(slot: number): void {
    if (slot < this.gens.length) return;
    let n = this.gens.length;
    while (n <= slot) n *= 2;
    const keys = new Int32Array(n).fill(-1);
    keys.set(this.keyOfSlot);
    this.keyOfSlot = keys;
    const gens = new Uint32Array(n);
    gens.set(this.gens);
    this.gens = gens;
    const stamps = new Float64Array(n);
    stamps.set(this.stamps);
    this.stamps = stamps;
  }

  private map(key: number, slot: number): void {
    if (key >= this.slotOfKey.length) {
      let n = this.slotOfKey.length;
      while (n <= key) n *= 2;
      const grown = new Int32Array(n).fill(-1);
      grown.set(this.slotOfKey);
      this.slotOfKey = grown;
    }
    this.slotOfKey[key] = slot;
    this.keyOfSlot[slot] = key;
    this.indexed++;
  }

  private unmap(slot: number): void {
    const key = this.keyOfSlot[slot]!;
    if (key < 0) return;
    this.keyOfSlot[slot] = -1;
    this.slotOfKey[key] = -1;
    this.stale.push(key);
    this.indexed--;
  }

  // ---- opening ----------------------------------------------------------------------------

  /**
   * After the log replay (every vector is then in the appendable part): maps the persisted
   * index back onto the points, unless its files are missing, torn or built otherwise, in which
   * case they go and the index is rebuilt from the points.
   */
  open(): void {
    const mf = readManifest(manifestPath(this.dir, this.name));
    let loaded = false;
    if (mf && mf.fingerprint === fingerprint(this.params) && indexFileMatches(this.dir, mf)) {
      const records = readKeyRecords(path.join(this.dir, mf.keys_file), mf.key_count);
      if (records) {
        loaded = true;
        const view = this.newIndex();
        view.view(path.join(this.dir, mf.index_file));
        const contained = records.length > 0 ? (view.contains(BigUint64Array.from(records, (_, k) => BigInt(k))) as boolean[]) : [];
        const claimed = new Map<number, number>();
        for (let k = 0; k < records.length; k++) {
          if (!contained[k]) continue;
          const r = records[k];
          const slot = r ? this.slots.slotOf(r.id) : undefined;
          if (r && slot !== undefined && this.column.has(slot) && this.stamps[slot] === r.stamp && !claimed.has(slot)) {
            claimed.set(slot, k);
            this.map(k, slot);
            this.pending.delete(slot);
          } else if (r && slot !== undefined && claimed.has(slot)) {
            // Two entries for one vector: neither is trusted.
            this.unmap(slot);
            this.pending.add(slot);
            this.stale.push(k);
          } else this.stale.push(k);
        }
        this.view = view;
        this.viewSize = view.size();
        this.nextKey = mf.key_count;
        this.manifest = mf;
        this.epoch = mf.epoch;
        this.keysFile = new KeysFile(path.join(this.dir, mf.keys_file), false);
      }
    }
    removeStale(this.dir, this.name, loaded && mf ? [mf.index_file, mf.keys_file] : []);
    if (!loaded) fs.rmSync(manifestPath(this.dir, this.name), { force: true });
    this.ready = true;
    this.schedule();
  }

  // ---- the optimiser ----------------------------------------------------------------------

  /** Work the optimiser has to do now (collection status yellow). */
  get optimizing(): boolean {
    return this.folding || this.due(true);
  }

  /** A fold is due: the appendable part reached the threshold, tombstones want vacuuming, or (quiet) a remainder waits beside an index. */
  private due(quiet = false): boolean {
    if (!this.ready || this.closed) return false;
    const p = this.params;
    if (p.indexingBytes <= 0) return false;
    if (this.pending.size * p.dim * 4 >= p.indexingBytes) return true;
    if (this.stale.length >= VACUUM_MIN && this.stale.length > VACUUM_SHARE * this.viewSize) return true;
    return quiet && this.view !== null && this.pending.size > 0;
  }

  private schedule(): void {
    if (this.scheduled || this.folding || !this.ready || this.closed || this.retryTimer) return;
    if (this.due()) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.fold(false);
      });
    } else if (this.due(true) && !this.quietTimer) {
      this.quietTimer = setTimeout(() => {
        this.quietTimer = null;
        if (Date.now() - this.lastWrite >= QUIET_MS) this.fold(true);
        else this.schedule();
      }, QUIET_MS).unref();
    }
  }

  private fold(quiet: boolean): void {
    if (this.folding || this.closed || !this.due(quiet)) return;
    this.folding = true;
    const dim = this.params.dim;
    const n = Math.min(FOLD_MAX, this.pending.size);
    const batch = new Int32Array(n);
    const gens = new Uint32Array(n);
    const vectors = new Float32Array(n * dim);
    let i = 0;
    for (const slot of this.pending) {
      if (i === n) break;
      batch[i] = slot;
      gens[i] = this.gens[slot]!;
      vectors.set(this.column.view(slot), i * dim);
      i++;
    }
    const firstKey = this.nextKey;
    this.nextKey += n;
    const keys = new BigUint64Array(n);
    for (let j = 0; j < n; j++) keys[j] = BigInt(firstKey + j);
    const removed = this.stale;
    this.stale = [];
    const gen = (this.manifest?.gen ?? 0) + 1;
    const out = path.join(this.dir, `${stem(this.name)}.${gen}.usearch`);
    const base = this.manifest ? path.join(this.dir, this.manifest.index_file) : null;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      this.failed(err as Error, removed);
      return;
    }
    optimizer
      .fold({ id: this.epoch, config: this.config(), base, remove: BigUint64Array.from(removed, (k) => BigInt(k)), keys, vectors, threads: this.params.threads, out })
      .then(
        (result) => this.folded(result, { batch, gens, firstKey, removed, gen, out }),
        (err: Error) => this.failed(err, removed),
      );
  }

  private folded(result: FoldResult, f: { batch: Int32Array; gens: Uint32Array; firstKey: number; removed: number[]; gen: number; out: string }): void {
    if (this.closed) return;
    const records: (KeyRecord | null)[] = [];
    const current: boolean[] = [];
    for (let j = 0; j < f.batch.length; j++) {
      const slot = f.batch[j]!;
      const ok = this.gens[slot] === f.gens[j] && this.column.has(slot);
      current.push(ok);
      records.push(ok ? { id: this.slots.slotIds[slot]!, stamp: this.stamps[slot]! } : null);
    }
    const previous = this.manifest;
    const keysName = `${stem(this.name)}.${this.epoch}.keys`;
    const next: Manifest = {
      format: 1,
      fingerprint: fingerprint(this.params),
      epoch: this.epoch,
      gen: f.gen,
      index_file: path.basename(f.out),
      index_bytes: result.bytes,
      index_sha256: result.sha256,
      keys_file: keysName,
      key_count: this.nextKey,
    };
    let view: UsearchIndex;
    try {
      this.keysFile ??= new KeysFile(path.join(this.dir, keysName), true);
      this.keysFile.write(f.firstKey, records, f.removed);
      writeManifest(manifestPath(this.dir, this.name), next);
      view = this.newIndex();
      view.view(f.out);
    } catch (err) {
      // The thread's copy is now ahead of the files: it reloads from the manifest's next time.
      optimizer.drop(this.epoch);
      this.failed(err as Error, f.removed);
      return;
    }
    // The new entries become current and the new file is searched, in one step.
    for (let j = 0; j < f.batch.length; j++) {
      const key = f.firstKey + j;
      const slot = f.batch[j]!;
      if (current[j]) {
        this.map(key, slot);
        this.pending.delete(slot);
      } else this.stale.push(key);
    }
    this.view = view;
    this.viewSize = result.size;
    this.manifest = next;
    this.problem = null;
    this.retryMs = RETRY_FIRST_MS;
    if (previous && previous.index_file !== next.index_file) fs.rm(path.join(this.dir, previous.index_file), { force: true }, () => {});
    this.folding = false;
    this.schedule();
  }

  private failed(err: Error, removed: number[]): void {
    this.stale.push(...removed);
    this.folding = false;
    if (this.closed) return;
    this.problem = `indexing vector ${JSON.stringify(this.name)} failed: ${err.message}`;
    process.stderr.write(`store: ${this.problem} (retried in ${this.retryMs / 1000} s)\n`);
    // Retried after a pause that doubles with each failure (not at every write against a full disk).
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedule();
    }, this.retryMs).unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private config(): UsearchConfig {
    const p = this.params;
    return { dimensions: p.dim, metric: usearchMetric(p), quantization: p.scalar, connectivity: p.m, expansion_add: p.efConstruct, expansion_search: 16 };
  }

  private newIndex(): UsearchIndex {
    const c = this.config();
    return new Index({ dimensions: c.dimensions, metric: c.metric as never, quantization: c.quantization as never, connectivity: c.connectivity, expansion_add: c.expansion_add, expansion_search: c.expansion_search, multi: false });
  }

  // ---- search -----------------------------------------------------------------------------

  /** Whether the index holds anything a search could use. */
  get searchable(): boolean {
    return this.view !== null && this.indexed > 0;
  }

  /**
   * Top k for a prepared query: index candidates (beam max(k, ef), widened for a filter and by
   * oversampling) re-scored exactly, plus the appendable part scanned exactly. Null when a
   * filtered search would have to visit a large part of the index (the caller scans instead).
   */
  search(query: Float32Array, s: IndexSearch): { slots: number[]; scores: number[] } | null {
    const view = this.view!;
    const col = this.column;
    const higher = higherIsBetter(col.distance);
    const quantised = this.params.scalar !== 'f32';
    const rescore = !quantised || (s.rescore ?? this.params.defaultRescore);
    const over = quantised ? Math.max(1, s.oversampling ?? this.params.defaultOversampling) : 1;
    const lim = s.threshold;
    // A filter keeps about `selectivity` of what the beam finds: widened by its inverse, and by
    // FILTER_MARGIN more, as the filtered top k then come from deeper in the beam.
    const beam = Math.max(s.k * over, s.ef ?? this.params.efConstruct);
    let want = s.pred === null ? beam : Math.ceil((FILTER_MARGIN * beam) / Math.max(s.selectivity, 1e-6));
    let heap = new TopK(s.k, higher);
    for (;;) {
      if (want > this.viewSize) want = this.viewSize;
      if (s.pred !== null && want > this.viewSize / 4 && want > 4 * s.k * over) return null;
      const r = view.search(query, Math.max(1, want), 1);
      let found = 0;
      const keys = r.keys;
      for (let i = 0; i < keys.length; i++) {
        const key = Number(keys[i]!);
        const slot = key < this.slotOfKey.length ? this.slotOfKey[key]! : -1;
        if (slot < 0) continue;
        if (s.pred !== null && !s.pred(slot)) continue;
        found++;
        const score = rescore ? col.score(slot, query) : this.approximate(r.distances[i]!);
        if (lim !== null && (higher ? score < lim : score > lim)) continue;
        heap.push(slot, score);
      }
      // Enough current, matching entries, or nothing more to find.
      if (found >= s.k * over || want >= this.viewSize) break;
      want *= 4;
      heap = new TopK(s.k, higher);
    }
    const pendingBig = this.params.indexingBytes > 0 && this.pending.size * this.params.dim * 4 >= this.params.indexingBytes;
    if (!(s.indexedOnly && pendingBig)) {
      for (const slot of this.pending) {
        if (s.pred !== null && !s.pred(slot)) continue;
        const score = col.score(slot, query);
        if (lim !== null && (higher ? score < lim : score > lim)) continue;
        heap.push(slot, score);
      }
    }
    return heap.drain();
  }

  /** A score from the index's own (quantised) distance, for `rescore: false`. */
  private approximate(d: number): number {
    switch (usearchMetric(this.params)) {
      case 'cos':
      case 'ip':
        return 1 - d;
      case 'l2sq':
        return Math.sqrt(Math.max(0, d));
      case 'hamming':
        // Sign codes: the angle is about π · (differing bits / dim).
        return Math.cos((Math.PI * d) / this.params.dim);
    }
  }

  // ---- lifetime ---------------------------------------------------------------------------

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.column.observer === this) this.column.observer = null;
    optimizer.drop(this.epoch);
    try {
      this.keysFile?.close();
    } catch {
      // Closing a read/write descriptor of a file already synced: nothing lost.
    }
    this.keysFile = null;
    this.view = null;
  }

  /** Closes and deletes the index's files (its vector was dropped or reconfigured). */
  discard(): void {
    this.close();
    fs.rmSync(manifestPath(this.dir, this.name), { force: true });
    removeStale(this.dir, this.name, []);
  }
}
