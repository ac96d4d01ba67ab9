/**
 * Assembles the pipeline stages for a process from its configuration, an open encoder and a
 * store connection. The embedded runner and the queue worker both call `openPipeline`, so the
 * two modes run the same code from the item to the stored point.
 *
 * A pipeline writes into whichever physical collection an item is meant for (`processorFor`):
 * during a rebuild the same worker fills the next collection version for one job and keeps the
 * live one current for the next, so the target travels with the work, not with the process.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/index.ts';
import { Semaphore } from '../concurrency.ts';
import { createS3Client } from '../sources/s3.ts';
import { ensureCollection, lexicalSignature, verifyCollection, type CollectionSpec, type EnsuredCollection } from '../store/schema.ts';
import { BatchUpserter, type UpserterOptions } from '../store/upserter.ts';
import { storedVersions, type StoredVersion } from '../store/versions.ts';
import { LexicalAnalyser } from '../lexical/index.ts';
import { createByteFetcher } from './fetch.ts';
import { ProductLexicon } from './lexical.ts';
import { ItemProcessor, type ByteFetcher, type ItemEncoder } from './processor.ts';

export { ItemProcessor } from './processor.ts';
export type { ByteFetcher, ItemEncoder } from './processor.ts';
export { failureOf, isItemFailure, type ItemOutcome } from './outcome.ts';
export { isUnchanged, type StoredVersion } from './versions.ts';

/** The encoder as the pipeline sees it (ClipEncoder satisfies this). */
export interface PipelineEncoder extends ItemEncoder {
  readonly model: { modelId: string };
  readonly dims: number[];
}

export interface PipelineStore {
  client: QdrantClient;
  url: string;
}

export interface OpenPipelineOptions {
  encoder: PipelineEncoder;
  store: PipelineStore;
  /**
   * The physical collection items go to by default. Unset: the one behind the alias
   * (QDRANT_COLLECTION), created as `<alias>_v1` if there is none yet.
   */
  collection?: string;
  /**
   * Workers: do not touch the alias at start-up. Their jobs name the collection to write to; a
   * worker of a new model must be able to start while the alias still leads to the old one.
   */
  lazy?: boolean;
  /** Defaults to a client from S3_* config, made on first use. */
  s3Client?: () => S3Client;
  /** Replaces the image fetcher (tests, benchmarks). */
  fetchBytes?: ByteFetcher;
  /** Overrides of the upserter's settings (retry policy, linger). */
  upserter?: Partial<Omit<UpserterOptions, 'collection' | 'storeUrl'>>;
}

export interface CollectionPipeline {
  collection: string;
  processor: ItemProcessor;
  upserter: BatchUpserter;
  /** Skip-unchanged lookup (the producer uses it to enqueue only new or changed items). */
  storedVersions(ids: string[]): Promise<Map<string, StoredVersion>>;
}

export interface Pipeline extends CollectionPipeline {
  /** The default collection (behind the alias unless `collection` was given). */
  target: EnsuredCollection;
  /** The stages writing into `collection`, checked against the configuration on first use. */
  forCollection(collection: string): Promise<CollectionPipeline>;
  /** Waits for every accepted point (of every collection) to be stored, then refuses more. */
  close(): Promise<void>;
}

export async function openPipeline(config: Config, options: OpenPipelineOptions): Promise<Pipeline> {
  const { encoder, store } = options;
  const spec: CollectionSpec = {
    alias: config.store.collection,
    dims: encoder.dims,
    model: encoder.model.modelId,
    payloadIndexes: config.store.payloadIndexes,
    lexical: lexicalSignature(config),
  };
  const storeOpts = { storeUrl: store.url, retry: options.upserter?.retry };
  // Image fetches in flight are bounded per process, whatever the number of collections.
  const fetchSlots = new Semaphore(config.s3.concurrency);
  const fetchBytes =
    options.fetchBytes ??
    createByteFetcher({ s3Client: options.s3Client ?? (() => createS3Client(config.s3)), maxBytes: config.encoder.imageMaxBytes });
  const opened = new Map<string, Promise<CollectionPipeline>>();
  const lexical = { analyser: lexicalAnalyser(config), fields: config.lexical.fields };
  const upserters: BatchUpserter[] = [];

  const build = (collection: string): CollectionPipeline => {
    const upserter = new BatchUpserter(store.client, {
      batchSize: config.store.upsertBatchSize,
      concurrency: config.store.upsertConcurrency,
      ...options.upserter,
      collection,
      storeUrl: store.url,
    });
    upserters.push(upserter);
    const versions = (ids: string[]) => storedVersions(store.client, collection, ids, storeOpts);
    const processor = new ItemProcessor({
      encoder,
      fetchBytes,
      sink: upserter,
      model: encoder.model.modelId,
      dims: encoder.dims,
      storedVersions: versions,
      fetchSlots,
      lexical: { ...lexical, product: new ProductLexicon(store.client, collection, lexical, storeOpts) },
    });
    return { collection, processor, upserter, storedVersions: versions };
  };

  const forCollection = (collection: string): Promise<CollectionPipeline> => {
    let p = opened.get(collection);
    if (!p) {
      p = verifyCollection(store.client, spec, collection, storeOpts).then(() => build(collection));
      // A failed check (store down, collection gone) is tried again by the next caller.
      p.catch(() => opened.delete(collection));
      opened.set(collection, p);
    }
    return p;
  };

  let target: EnsuredCollection;
  if (options.collection) {
    await verifyCollection(store.client, spec, options.collection, storeOpts);
    target = { alias: spec.alias, collection: options.collection, created: false };
  } else if (options.lazy) {
    target = { alias: spec.alias, collection: spec.alias, created: false };
  } else {
    target = await ensureCollection(store.client, spec, storeOpts);
  }
  const main = options.lazy && !options.collection ? undefined : build(target.collection);
  if (main) opened.set(target.collection, Promise.resolve(main));
  const lazyMain = (): never => {
    throw new Error('a lazy pipeline has no default collection: use forCollection()');
  };

  return {
    target,
    collection: target.collection,
    get processor() {
      return main?.processor ?? lazyMain();
    },
    get upserter() {
      return main?.upserter ?? lazyMain();
    },
    storedVersions: (ids) => (main ? main.storedVersions(ids) : lazyMain()),
    forCollection,
    close: async () => {
      await Promise.all(upserters.map((u) => u.close()));
    },
  };
}

/** The analyser the configuration describes: ingestion and queries must use the same one. */
export function lexicalAnalyser(config: Config): LexicalAnalyser {
  return new LexicalAnalyser({ defaultLang: config.lexical.defaultLang, foldAccents: config.lexical.foldAccents, bm25: config.lexical.bm25 });
}
