/**
 * Thumbnails for image hits, fetched by the service from where the image lives (S3 or the local
 * folder) and resized, so the browser never needs — or sees — store or S3 credentials. Only
 * sources of points that exist in the store can be served: the route looks the point up by id
 * and reads its `source`, so no client-chosen path or key ever reaches the file system or S3.
 * A local file is read only if its real path, taken on every read, stays where it may: under
 * QUERY_THUMBNAIL_ROOTS, or — when none are set — exactly at the indexed path, with no symbolic
 * link on the way (a file swapped for a link after ingest is not followed out of the catalogue).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { LRUCache } from 'lru-cache';
import sharp from 'sharp';
import { ClipstreamError } from '../../shared/errors.ts';
import { readConfinedLocalBytes } from '../../shared/sources/local.ts';

export interface Thumbnail {
  bytes: Buffer;
  contentType: string;
}

export interface ThumbnailOptions {
  /** Largest original the service will read. */
  maxSourceBytes: number;
  maxSourcePixels: number;
  /** S3 client, created on first use (credentials from the SDK's default chain). */
  s3: () => Promise<S3Client>;
  /** Folders local images may be read from (real paths are compared); empty: see readConfinedLocalBytes. */
  roots: readonly string[];
  /** Bytes of thumbnails kept in memory. */
  cacheBytes?: number;
}

export class ThumbnailService {
  private readonly cache: LRUCache<string, Thumbnail>;

  constructor(private readonly o: ThumbnailOptions) {
    this.cache = new LRUCache({ maxSize: o.cacheBytes ?? 32 * 1024 * 1024, sizeCalculation: (t) => t.bytes.length || 1 });
  }

  /** `version` (the point's content hash) keys the cache, so a replaced image never shows stale. */
  async get(source: string, version: string, size: number): Promise<Thumbnail> {
    const key = `${source}\n${version}\n${size}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const original = await this.read(source);
    let bytes: Buffer;
    try {
      bytes = await sharp(original, { limitInputPixels: this.o.maxSourcePixels })
        .rotate()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer();
    } catch (err) {
      throw new ClipstreamError('IMAGE_DECODE_FAILED', `cannot make a thumbnail: ${(err as Error).message}`, { item: source, cause: err });
    }
    const thumb = { bytes, contentType: 'image/webp' };
    this.cache.set(key, thumb);
    return thumb;
  }

  private async read(source: string): Promise<Buffer> {
    if (source.startsWith('s3://')) {
      // The AWS SDK is loaded only when an S3 image is first shown: a local catalogue never pays for it.
      const { fetchObjectBytes } = await import('../../shared/sources/s3.ts');
      return fetchObjectBytes(await this.o.s3(), source, { maxBytes: this.o.maxSourceBytes, retry: { maxAttempts: 2 } });
    }
    if (source.startsWith('file://')) return readConfinedLocalBytes(source, { maxBytes: this.o.maxSourceBytes, roots: this.o.roots });
    throw new ClipstreamError('NOT_FOUND', 'no thumbnail for this kind of source', { item: source });
  }
}
