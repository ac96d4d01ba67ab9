/**
 * Assembles the pipeline stages for a process from its configuration, an open encoder and a
 * store connection. The embedded runner and the queue worker both call `openPipeline`, so the
 * two modes run the same code from the item to the stored point.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/index.ts';
import { createS3Client } from '../sources/s3.ts';
import { ensureCollection, type EnsuredCollection } from '../store/schema.ts';
import { BatchUpserter, type UpserterOptions } from '../store/upserter.ts';
import { storedVersions } from '../store/versions.ts';
import { createByteFetcher } from './fetch.ts';
import { ItemProcessor, type ByteFetcher, type ItemEncoder } from './processor.ts';
import type { StoredVersion } from './versions.ts';

export { ItemProcessor } from './processor.ts';
export type { ByteFetcher, FetchedBytes, ItemEncoder, PointSink, ProcessorStats, ProcessOptions } from './processor.ts';
export { failureOf, isItemError, isItemFailure, type ItemOutcome } from './outcome.ts';
export { VersionLookup, isUnchanged, type StoredVersion, type StoredVersionsFn } from './versions.ts';

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
  /** Defaults to a client from S3_* config, made on first use. */
  s3Client?: () => S3Client;
  /** Replaces the image fetcher (tests, benchmarks). */
  fetchBytes?: ByteFetcher;
  /** Overrides of the upserter's settings (retry policy, linger). */
  upserter?: Partial<Omit<UpserterOptions, 'collection' | 'storeUrl'>>;
}

export interface Pipeline {
  processor: ItemProcessor;
  upserter: BatchUpserter;
  collection: EnsuredCollection;
  /** Skip-unchanged lookup (the producer uses it to enqueue only new or changed items). */
  storedVersions(ids: string[]): Promise<Map<string, StoredVersion>>;
  /** Waits for every accepted point to be stored, then refuses more. */
  close(): Promise<void>;
}

export async function openPipeline(config: Config, options: OpenPipelineOptions): Promise<Pipeline> {
  const { encoder, store } = options;
  const collection = await ensureCollection(
    store.client,
    { alias: config.store.collection, dims: encoder.dims, model: encoder.model.modelId, payloadIndexes: config.store.payloadIndexes },
    { storeUrl: store.url },
  );
  const upserter = new BatchUpserter(store.client, {
    batchSize: config.store.upsertBatchSize,
    concurrency: config.store.upsertConcurrency,
    ...options.upserter,
    collection: collection.collection,
    storeUrl: store.url,
  });
  const versions = async (ids: string[]) => {
    const found = await storedVersions(store.client, collection.collection, ids, { storeUrl: store.url, retry: options.upserter?.retry });
    return new Map([...found].map(([id, contentHash]) => [id, { contentHash }] as const));
  };
  const processor = new ItemProcessor({
    encoder,
    fetchBytes:
      options.fetchBytes ??
      createByteFetcher({ s3Client: options.s3Client ?? (() => createS3Client(config.s3)), maxBytes: config.encoder.imageMaxBytes }),
    sink: upserter,
    model: encoder.model.modelId,
    dims: encoder.dims,
    storedVersions: versions,
    fetchConcurrency: config.s3.concurrency,
  });
  return { processor, upserter, collection, storedVersions: versions, close: () => upserter.close() };
}
