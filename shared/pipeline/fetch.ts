/**
 * Bytes of an image item, wherever it lives: S3 (GET with the sources' retry policy) or a local
 * file. The version stays the one the lister computed, so it compares equal on the next run.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ImageObject } from '../catalogue/types.ts';
import { ClipstreamError } from '../errors.ts';
import { readLocalBytes } from '../sources/local.ts';
import { fetchObjectBytes } from '../sources/s3.ts';
import type { ByteFetcher, FetchedBytes } from './processor.ts';

export interface ByteFetcherOptions {
  /** Called on the first S3 item only, so local-only runs never build an S3 client. */
  s3Client: () => S3Client;
  maxBytes: number;
}

export function createByteFetcher(options: ByteFetcherOptions): ByteFetcher {
  let s3: S3Client | undefined;
  return async (item: ImageObject, signal?: AbortSignal): Promise<FetchedBytes> => {
    const uri = item.sourceUri;
    if (uri.startsWith('s3://')) {
      s3 ??= options.s3Client();
      return { bytes: await fetchObjectBytes(s3, uri, { signal, maxBytes: options.maxBytes }) };
    }
    if (uri.startsWith('file://')) return { bytes: await readLocalBytes(uri, options.maxBytes, signal) };
    throw new ClipstreamError('BAD_REQUEST', 'no fetcher for this kind of source URI', { item: uri });
  };
}
