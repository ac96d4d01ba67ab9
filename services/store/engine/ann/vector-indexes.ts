/**
 * A collection's ANN indexes, one per dense named vector that gets one (see params.ts): made
 * before the log replay (so the replay fills their appendable parts), mapped back onto their
 * files after it, remade when a vector's index settings change, and closed with the collection.
 */
import type { CollectionMeta } from '../meta.ts';
import type { PointState } from '../point-state.ts';
import { VectorColumn } from '../vectors.ts';
import { DenseIndex } from './dense-index.ts';
import { annDir } from './files.ts';
import { annParams, fingerprint } from './params.ts';

export class VectorIndexes {
  private readonly byName = new Map<string, DenseIndex>();
  private readonly dir: string;
  private opened = false;

  constructor(
    collectionDir: string,
    private readonly state: PointState,
    meta: CollectionMeta,
  ) {
    this.dir = annDir(collectionDir);
    this.attach(meta, false);
  }

  /** After the log replay: the persisted indexes are mapped back onto the points. */
  open(): void {
    this.opened = true;
    for (const idx of this.byName.values()) idx.open();
  }

  /**
   * The collection's configuration changed (vector added or dropped, hnsw, quantisation or
   * optimiser settings): indexes whose layout changed are rebuilt, others take the new thresholds.
   */
  reconfigure(meta: CollectionMeta): void {
    this.attach(meta, true);
  }

  private attach(meta: CollectionMeta, existing: boolean): void {
    for (const [name, idx] of this.byName) {
      const params = annParams(meta, name);
      if (this.state.vectors.get(name) !== idx.column || params === null || fingerprint(params) !== fingerprint(idx.params)) {
        idx.discard();
        this.byName.delete(name);
      } else idx.params = params;
    }
    for (const [name, storage] of this.state.vectors) {
      if (!(storage instanceof VectorColumn) || this.byName.has(name)) continue;
      const params = annParams(meta, name);
      if (params === null) continue;
      const idx = new DenseIndex(name, storage, this.state.slots, params, this.dir);
      storage.observer = idx;
      this.byName.set(name, idx);
      if (existing) {
        idx.seed();
        if (this.opened) idx.open();
      }
    }
  }

  get(name: string): DenseIndex | undefined {
    return this.byName.get(name);
  }

  /** Whether any index has folding to do (collection status yellow). */
  get optimizing(): boolean {
    for (const idx of this.byName.values()) if (idx.optimizing) return true;
    return false;
  }

  /** The last indexing failure, if any index has one. */
  get problem(): string | null {
    for (const idx of this.byName.values()) if (idx.problem) return idx.problem;
    return null;
  }

  close(): void {
    for (const idx of this.byName.values()) idx.close();
  }
}
