/**
 * The pipeline stages for one catalogue item, identical in the embedded runner and the queue
 * worker:
 *
 *   skip-unchanged check → fetch bytes (images; bounded) → encode (micro-batched by the
 *   encoder, so concurrent items share batches) → build the point → hand it to the batched
 *   upserter, which resolves once the point is stored with wait=true.
 *
 * A failure of the item itself (undecodable image, empty text, object gone) becomes a `failed`
 * outcome; infrastructure trouble (store unavailable after its retries, encoder closed) is
 * thrown, so the caller can retry the job or stop the run.
 */
import type { CatalogueItem, ImageObject } from '../catalogue/types.ts';
import { Semaphore } from '../concurrency.ts';
import type { MatryoshkaVectors } from '../encoder/types.ts';
import { pointId } from '../store/ids.ts';
import { buildPoint, type CataloguePoint } from '../store/points.ts';
import type { SparseVector } from '../lexical/index.ts';
import { imageVector, recordVector, type LexicalSettings } from './lexical.ts';
import { failureOf, isItemError, type ItemOutcome } from './outcome.ts';
import { isUnchanged, VersionLookup, type StoredVersion, type StoredVersionsFn } from './versions.ts';

/** The part of the encoder the pipeline uses (ClipEncoder satisfies it). */
export interface ItemEncoder {
  encodeText(input: { text: string; item?: string }): Promise<MatryoshkaVectors>;
  encodeImage(input: { bytes: Uint8Array; item?: string }): Promise<MatryoshkaVectors>;
}

export interface FetchedBytes {
  bytes: Uint8Array;
  /** The version of what was actually read (GET's ETag, hash of the file), when known. */
  version?: string;
}

/** Reads an image's bytes (S3 GET or local file); throws SOURCE_NOT_FOUND for a missing object. */
export type ByteFetcher = (item: ImageObject, signal?: AbortSignal) => Promise<FetchedBytes>;

/** Where finished points go: resolves once the point is durably stored (wait=true). */
export interface PointSink {
  add(point: CataloguePoint): Promise<unknown>;
  /**
   * Records that an unchanged point now belongs to `sourceRoot` (its payload `source_root`),
   * without re-encoding it: a point written before sources were tracked, or moved between sources.
   */
  adopt?(id: string, sourceRoot: string): Promise<unknown>;
}

export interface ItemProcessorDeps {
  encoder: ItemEncoder;
  fetchBytes: ByteFetcher;
  sink: PointSink;
  /** Recorded in every payload, e.g. `jinaai/jina-clip-v2@fp16`. */
  model: string;
  dims: readonly number[];
  /** Stored versions by point id; without it nothing is skipped. */
  storedVersions?: StoredVersionsFn;
  /** Image fetches in flight at once (S3_CONCURRENCY), or slots shared with other processors of the process. */
  fetchSlots: number | Semaphore;
  /** How the `lex` vector is made; without it points get an empty one. */
  lexical?: LexicalSettings;
}

export interface ProcessOptions {
  /** Re-encode even when the stored version matches. */
  force?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface ProcessorStats {
  indexed: number;
  skipped: number;
  failed: number;
  fetchedBytes: number;
  /** Summed over concurrent fetches. */
  fetchMs: number;
  /** Summed over concurrent upserts: how long items waited for wait=true. */
  storeMs: number;
}

export class ItemProcessor {
  private readonly fetchSlots: Semaphore;
  private readonly versions: VersionLookup | undefined;
  private readonly counters: ProcessorStats = { indexed: 0, skipped: 0, failed: 0, fetchedBytes: 0, fetchMs: 0, storeMs: 0 };

  constructor(private readonly deps: ItemProcessorDeps) {
    this.fetchSlots = typeof deps.fetchSlots === 'number' ? new Semaphore(deps.fetchSlots) : deps.fetchSlots;
    this.versions = deps.storedVersions ? new VersionLookup(deps.storedVersions) : undefined;
  }

  get model(): string {
    return this.deps.model;
  }

  /** The stored version of this item's point, if any (one batched lookup shared with other callers). */
  private async stored(id: string): Promise<StoredVersion | undefined> {
    return this.versions ? this.versions.get(id) : undefined;
  }

  async process(item: CatalogueItem, options: ProcessOptions = {}): Promise<ItemOutcome> {
    const uri = item.sourceUri;
    let id: string;
    try {
      id = pointId(uri);
    } catch (err) {
      return this.fail(uri, err);
    }
    if (!options.force) {
      const stored = await this.stored(id);
      if (isUnchanged(stored, item.version, this.deps.model)) {
        if (item.sourceRoot && stored?.sourceRoot !== item.sourceRoot) await this.deps.sink.adopt?.(id, item.sourceRoot);
        this.counters.skipped++;
        return { status: 'skipped', item: uri, pointId: id, modality: item.kind };
      }
    }
    let point: CataloguePoint;
    let warnings: string[] = [];
    try {
      let current: CatalogueItem = item;
      let vectors: MatryoshkaVectors;
      let lex: SparseVector | undefined;
      const lexical = this.deps.lexical;
      if (item.kind === 'image') {
        const fetched = await this.fetch(item, options.signal);
        // The object may have changed since it was listed: record what was really encoded.
        if (fetched.version && fetched.version !== item.version) current = { ...item, version: fetched.version };
        vectors = await this.deps.encoder.encodeImage({ bytes: fetched.bytes, item: uri });
        if (lexical) lex = await imageVector(item, lexical);
      } else {
        vectors = await this.deps.encoder.encodeText({ text: item.text, item: uri });
        if (lexical) {
          const made = recordVector(item, lexical);
          lex = made.vector;
          warnings = made.problems;
        }
      }
      point = buildPoint(current, vectors, { model: this.deps.model, dims: this.deps.dims, ...(lex ? { lex } : {}) });
    } catch (err) {
      if (isItemError(err)) return this.fail(uri, err);
      throw err;
    }
    const started = performance.now();
    try {
      await this.deps.sink.add(point);
    } finally {
      this.counters.storeMs += performance.now() - started;
    }
    // A product's images carry its records' words: a stored record updates them.
    if (item.kind === 'text' && item.productId) await this.deps.lexical?.product?.refreshImages(item.productId);
    this.counters.indexed++;
    return { status: 'indexed', item: uri, pointId: id, modality: item.kind, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  stats(): ProcessorStats {
    return { ...this.counters };
  }

  private async fetch(item: ImageObject, signal?: AbortSignal): Promise<FetchedBytes> {
    return this.fetchSlots.run(async () => {
      const started = performance.now();
      try {
        const fetched = await this.deps.fetchBytes(item, signal);
        this.counters.fetchedBytes += fetched.bytes.byteLength;
        return fetched;
      } finally {
        this.counters.fetchMs += performance.now() - started;
      }
    });
  }

  private fail(item: string, err: unknown): ItemOutcome {
    this.counters.failed++;
    return { status: 'failed', item, failure: failureOf(item, err) };
  }
}
