/**
 * Bytes of an image item, wherever it lives: S3 (GET with the sources' retry policy) or a local
 * file. The version stays the one the lister computed, so it compares equal on the next run.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ImageObject } from '../catalogue/types.ts';
import { ClipstreamError, describeError } from '../errors.ts';
import { fetchObjectBytes } from '../sources/s3.ts';
import type { ByteFetcher, FetchedBytes } from './processor.ts';

export interface ByteFetcherOptions {
  /** Created on first S3 item, so local-only runs never build an S3 client. */
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
    if (uri.startsWith('file://')) return readLocal(uri, options.maxBytes, signal);
    throw new ClipstreamError('BAD_REQUEST', 'no fetcher for this kind of source URI', { item: uri });
  };
}

async function readLocal(uri: string, maxBytes: number, signal?: AbortSignal): Promise<FetchedBytes> {
  const file = fileURLToPath(uri);
  try {
    const { size } = await stat(file);
    if (size > maxBytes) {
      throw new ClipstreamError('IMAGE_TOO_LARGE', `file is ${size} bytes, over the ${maxBytes}-byte limit (IMAGE_MAX_BYTES)`, { item: uri });
    }
    const bytes = await readFile(file, { signal });
    return { bytes };
  } catch (err) {
    if (err instanceof ClipstreamError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ClipstreamError('SOURCE_NOT_FOUND', 'file no longer exists (removed since it was listed)', { item: uri, cause: err });
    }
    throw new ClipstreamError('SOURCE_UNREACHABLE', `cannot read file: ${describeError(err)}`, { item: uri, cause: err });
  }
}
