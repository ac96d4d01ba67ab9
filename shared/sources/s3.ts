/**
 * S3 as a catalogue source: list image objects (paginated, filtered) and fetch an object's bytes
 * for the worker, with one retry policy (ours) for throttling, 5xx and dropped connections.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Config } from '../config/index.ts';
import type { ImageObject } from '../catalogue/types.ts';
import { ClipstreamError, describeError } from '../errors.ts';
import { mapConcurrent } from '../concurrency.ts';
import { retry, type BackoffPolicy, type RetryLog } from '../retry.ts';
import {
  contentTypeMatches,
  extensionOf,
  imageContentTypeOf,
  keySelector,
  productIdOf,
  type KeySelection,
  type ProductIdRule,
} from './keys.ts';

/**
 * An S3 client for `S3_ENDPOINT`/`S3_REGION`/`S3_FORCE_PATH_STYLE`; credentials come from the
 * SDK's default chain (environment, profile, instance/container role).
 *
 * The SDK's own retries are off (`maxAttempts: 1`) unless overridden: every call in this module
 * goes through `withS3Retry`, and stacking both would multiply attempts (3 × 4) and hide the
 * real count from the failure message. Checksums are only computed when S3 requires them, which
 * keeps S3-compatible stores (MinIO, s3rver, Ceph) working.
 */
export function createS3Client(s3: Config['s3'], overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000, maxSockets: Math.max(50, s3.concurrency * 2) },
    ...overrides,
  });
}

export interface S3Location {
  bucket: string;
  key: string;
}

/** Splits `s3://bucket/key` (the key may be empty for a bucket root). */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/s.exec(uri);
  if (!m || m[1]!.trim() === '') throw new ClipstreamError('BAD_REQUEST', 'not an s3:// URI (expected s3://bucket/key)', { item: uri });
  return { bucket: m[1]!, key: m[2]! };
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

// ─── retries ────────────────────────────────────────────────────────────────────────────────

export const DEFAULT_S3_RETRY: BackoffPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

interface S3ErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function errorCode(err: unknown): string | undefined {
  const e = err as S3ErrorShape;
  return e?.Code ?? e?.code ?? e?.name;
}

function httpStatus(err: unknown): number | undefined {
  return (err as S3ErrorShape)?.$metadata?.httpStatusCode;
}

const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const RETRYABLE_CODES = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function isS3NotFound(err: unknown): boolean {
  return NOT_FOUND_CODES.has(errorCode(err) ?? '') || httpStatus(err) === 404;
}

/** Throttling, server-side errors and dropped connections: worth another attempt after a pause. */
export function isS3Retryable(err: unknown): boolean {
  const status = httpStatus(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  const code = errorCode(err) ?? '';
  if (RETRYABLE_CODES.has(code)) return true;
  if ((err as S3ErrorShape)?.$retryable) return true;
  return /socket hang up|ECONNRESET|premature close|aborted/i.test(describeError(err)) && !isAbort(err);
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

function reasonOf(err: unknown): string {
  const status = httpStatus(err);
  const code = errorCode(err);
  const message = describeError(err);
  const head = [status ? `HTTP ${status}` : undefined, code && !message.startsWith(code) ? code : undefined].filter(Boolean).join(' ');
  return head ? `${head}: ${message}` : message;
}

/**
 * Runs `attempt` under the retry policy. Not-found becomes SOURCE_NOT_FOUND at once (a key
 * deleted between list and get will not come back); retryable errors are retried with jittered
 * backoff, then become SOURCE_UNREACHABLE naming the item and the attempts; an abort passes
 * through untouched; anything else (access denied, bad request) is SOURCE_UNREACHABLE at once.
 */
export async function withS3Retry<T>(
  item: string,
  /** Gets the SDK's per-request options: the abort signal when there is one. */
  attempt: (sendOptions: { abortSignal?: AbortSignal }) => Promise<T>,
  options: {
    signal?: AbortSignal | undefined;
    retry?: Partial<BackoffPolicy> | undefined;
    onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined;
    log?: RetryLog | undefined;
  } = {},
): Promise<T> {
  try {
    return await retry((_n, signal) => attempt(signal ? { abortSignal: signal } : {}), {
      policy: { ...DEFAULT_S3_RETRY, ...options.retry },
      retryable: (err) => !(err instanceof ClipstreamError) && !isS3NotFound(err) && isS3Retryable(err),
      signal: options.signal,
      operation: item,
      log: options.log,
      onRetry: options.onRetry && ((e) => options.onRetry?.(e.error, e.attempt, e.delayMs)),
      exhausted: (err, n) => new ClipstreamError('SOURCE_UNREACHABLE', `gave up after ${n} attempts: ${reasonOf(err)}`, { item, cause: err }),
    });
  } catch (err) {
    if (options.signal?.aborted || err instanceof ClipstreamError) throw err;
    if (isS3NotFound(err)) throw new ClipstreamError('SOURCE_NOT_FOUND', `not found (${reasonOf(err)})`, { item, cause: err });
    throw new ClipstreamError('SOURCE_UNREACHABLE', reasonOf(err), { item, cause: err });
  }
}

// ─── listing ────────────────────────────────────────────────────────────────────────────────

/** One listed object, before it is classified as an image or a records file. */
export interface S3ObjectEntry {
  bucket: string;
  key: string;
  /** The key relative to the listed prefix (what globs and product rules see). */
  relativeKey: string;
  size: number;
  /** ETag without quotes; undefined if the store sent none. */
  etag?: string | undefined;
  lastModified?: Date | undefined;
}

export interface ListObjectsOptions extends KeySelection {
  client: S3Client;
  bucket: string;
  prefix?: string | undefined;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
  retry?: Partial<BackoffPolicy> | undefined;
}

/**
 * Every object under `prefix` that the globs select, page by page via continuation tokens.
 * "Folder" placeholder keys (ending in `/`) are skipped. A missing bucket is SOURCE_NOT_FOUND.
 */
export async function* listObjects(options: ListObjectsOptions): AsyncGenerator<S3ObjectEntry> {
  const { client, bucket, prefix = '', pageSize = 1000, signal } = options;
  const selected = keySelector(options);
  const where = s3Uri(bucket, prefix);
  let token: string | undefined;
  do {
    const page = await withS3Retry(
      where,
      (sendOptions) =>
        client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, MaxKeys: pageSize, ContinuationToken: token }),
          sendOptions,
        ),
      { signal, retry: options.retry },
    );
    for (const o of page.Contents ?? []) {
      const key = o.Key;
      if (key === undefined || key.endsWith('/')) continue;
      const relativeKey = key.startsWith(prefix) ? key.slice(prefix.length) : key;
      if (!selected(relativeKey)) continue;
      yield {
        bucket,
        key,
        relativeKey,
        size: o.Size ?? 0,
        etag: stripEtag(o.ETag),
        lastModified: o.LastModified,
      };
    }
    // Some S3-compatible stores omit IsTruncated; a token alone means "more".
    token = page.IsTruncated === false ? undefined : page.NextContinuationToken;
  } while (token);
}

/** `"abc"` / `W/"abc"` → `abc`. */
export function stripEtag(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  const v = etag.replace(/^W\//, '').replace(/^"+|"+$/g, '').trim();
  return v === '' ? undefined : v;
}

export interface ListImageObjectsOptions extends ListObjectsOptions {
  /**
   * Content-type patterns (`image/*`, `image/png`). When given, images named by extension must
   * match them too, and keys with NO extension are HEADed and kept if their stored content type
   * matches (content-addressed buckets often have extensionless keys). Without it, selection is
   * by extension alone and costs no request per object.
   */
  contentTypes?: readonly string[] | undefined;
  productId?: ProductIdRule | undefined;
  /** Parallel HEAD requests (only used for extensionless keys with `contentTypes`). */
  concurrency?: number | undefined;
}

/** The listed object as an `ImageObject`: `s3://bucket/key`, version = ETag. */
export function toImageObject(entry: S3ObjectEntry, contentType: string, productIdRule?: ProductIdRule): ImageObject {
  const image: ImageObject = {
    kind: 'image',
    sourceUri: s3Uri(entry.bucket, entry.key),
    // Without an ETag, size+mtime still changes whenever the object is rewritten.
    version: entry.etag ?? `${entry.size}-${entry.lastModified?.getTime() ?? 0}`,
    bytes: entry.size,
    contentType,
  };
  if (entry.lastModified) image.lastModified = entry.lastModified.toISOString();
  const productId = productIdOf(entry.relativeKey, productIdRule);
  if (productId !== undefined) image.productId = productId;
  return image;
}

export interface ClassifyOptions {
  contentTypes?: readonly string[] | undefined;
  productId?: ProductIdRule | undefined;
  signal?: AbortSignal | undefined;
  retry?: Partial<BackoffPolicy> | undefined;
}

/**
 * The listed object as an image, or undefined if it is not one: by extension, or — with
 * `contentTypes`, for an extensionless key only — by the content type a HEAD request reports.
 */
export async function classifyImageEntry(client: S3Client, entry: S3ObjectEntry, options: ClassifyOptions = {}): Promise<ImageObject | undefined> {
  const { contentTypes } = options;
  const byName = imageContentTypeOf(entry.key);
  if (byName) {
    return !contentTypes || contentTypeMatches(byName, contentTypes) ? toImageObject(entry, byName, options.productId) : undefined;
  }
  if (!contentTypes || extensionOf(entry.key) !== '') return undefined;
  const uri = s3Uri(entry.bucket, entry.key);
  let stored: string | undefined;
  try {
    const head = await withS3Retry(
      uri,
      (sendOptions) => client.send(new HeadObjectCommand({ Bucket: entry.bucket, Key: entry.key }), sendOptions),
      options,
    );
    stored = head.ContentType;
  } catch (err) {
    // Deleted since the listing: simply no longer part of the catalogue.
    if (err instanceof ClipstreamError && err.code === 'SOURCE_NOT_FOUND') return undefined;
    throw err;
  }
  return stored && contentTypeMatches(stored, contentTypes) ? toImageObject(entry, stored, options.productId) : undefined;
}

/** Image objects under a prefix, in listing order. */
export async function* listImageObjects(options: ListImageObjectsOptions): AsyncGenerator<ImageObject> {
  const classified = mapConcurrent(listObjects(options), options.concurrency ?? 16, (entry) => classifyImageEntry(options.client, entry, options));
  for await (const image of classified) if (image) yield image;
}

// ─── fetching ───────────────────────────────────────────────────────────────────────────────

export interface FetchOptions {
  signal?: AbortSignal | undefined;
  /** Refuse objects larger than this (checked against Content-Length and while streaming). */
  maxBytes?: number | undefined;
  retry?: Partial<BackoffPolicy> | undefined;
  onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined;
}

/**
 * The bytes of `s3://bucket/key`. The body is read inside the retried attempt, so a connection
 * dropped mid-body is retried like a 503. Errors: SOURCE_NOT_FOUND (deleted since listing),
 * SOURCE_UNREACHABLE (after retries, or access denied), IMAGE_TOO_LARGE (over `maxBytes`).
 */
export async function fetchObjectBytes(client: S3Client, uri: string, options: FetchOptions = {}): Promise<Buffer> {
  const { bucket, key } = parseS3Uri(uri);
  const { maxBytes = Number.POSITIVE_INFINITY } = options;
  return withS3Retry(
    uri,
    async (sendOptions) => {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), sendOptions);
      const body = res.Body as AsyncIterable<Uint8Array> | undefined;
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        destroyBody(body);
        throw tooLarge(uri, res.ContentLength, maxBytes);
      }
      if (!body) return Buffer.alloc(0);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of body) {
        total += chunk.byteLength;
        if (total > maxBytes) {
          destroyBody(body);
          throw tooLarge(uri, total, maxBytes);
        }
        chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      return Buffer.concat(chunks, total);
    },
    options,
  );
}

function tooLarge(uri: string, bytes: number, maxBytes: number): ClipstreamError {
  return new ClipstreamError('IMAGE_TOO_LARGE', `object is ${bytes} bytes or more, over the ${maxBytes}-byte limit (IMAGE_MAX_BYTES)`, {
    item: uri,
  });
}

function destroyBody(body: unknown): void {
  (body as { destroy?: () => void } | undefined)?.destroy?.();
}

/**
 * A streaming body for `s3://bucket/key` (records files). Only opening the object is retried:
 * a stream that fails half-way cannot be resumed without re-reading the lines already yielded.
 */
export async function openObjectStream(
  client: S3Client,
  uri: string,
  options: { signal?: AbortSignal | undefined; retry?: Partial<BackoffPolicy> | undefined } = {},
): Promise<AsyncIterable<Uint8Array>> {
  const { bucket, key } = parseS3Uri(uri);
  const res = await withS3Retry(uri, (sendOptions) => client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), sendOptions), options);
  return (res.Body as AsyncIterable<Uint8Array> | undefined) ?? emptyStream();
}

async function* emptyStream(): AsyncGenerator<Uint8Array> {}
