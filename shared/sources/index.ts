/**
 * Every catalogue source behind one shape, so the producer treats them alike:
 * `parseSourceSpec` turns a `clipstream ingest SOURCE…` argument into a typed `SourceSpec`,
 * `openSource` turns that into a stream of `CatalogueItem`s and per-item `ItemFailure`s.
 *
 * What a spec means:
 * - `s3://bucket/prefix/` (or a bare `s3://bucket`, or a key with no recognised extension,
 *   which is read as a folder: `s3://b/catalogue` = `s3://b/catalogue/`): every image object
 *   under it, AND every records file (.jsonl/.ndjson/.csv) under it, read as text records. A
 *   catalogue folder usually ships its product texts next to its photos.
 * - `s3://bucket/key.jsonl|.ndjson|.csv`: that records file.
 * - `s3://bucket/key.jpg` (any image extension): that single image.
 * - a local folder (or `file:///…`): the same as an S3 prefix, walked recursively.
 * - a local records file or image file: that file.
 *
 * Datasets: each records file's records are `record:<dataset>/<id>` with dataset = the file's
 * base name without extension (`fr/products.jsonl` → `products`), in a folder as for a single
 * file, so moving a file into a folder does not change its points; `records.dataset` overrides.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CatalogueItem, ImageObject, ItemFailure } from '../catalogue/types.ts';
import { config, type Config } from '../config/index.ts';
import { ClipstreamError, describeError } from '../errors.ts';
import { mapConcurrent } from '../concurrency.ts';
import { imageContentTypeOf, recordFormatOf, type KeySelection, type ProductIdRule, type RecordFormat } from './keys.ts';
import { fileUri, toLocalImageObject, walkLocalFolder, type LocalEntry } from './local.ts';
import { readRecords, readRecordsFile, type RecordOutcome, type RecordReaderOptions } from './records.ts';
import {
  classifyImageEntry,
  createS3Client,
  listObjects,
  openObjectStream,
  s3Uri,
  stripEtag,
  toImageObject,
  withS3Retry,
  type S3ObjectEntry,
} from './s3.ts';

export * from './keys.ts';
export type { RecordReaderOptions } from './records.ts';
export { createS3Client } from './s3.ts';

export type SourceSpec =
  | { kind: 's3-prefix'; spec: string; bucket: string; prefix: string }
  | { kind: 's3-records'; spec: string; bucket: string; key: string; format: RecordFormat }
  | { kind: 's3-image'; spec: string; bucket: string; key: string }
  | { kind: 'local-folder'; spec: string; path: string }
  | { kind: 'local-records'; spec: string; path: string; format: RecordFormat }
  | { kind: 'local-image'; spec: string; path: string };

/**
 * Parses one `clipstream ingest` argument. Local paths are resolved against `cwd` and must
 * exist (SOURCE_NOT_FOUND otherwise); S3 specs are not checked until opened.
 */
export function parseSourceSpec(spec: string, cwd: string = process.cwd()): SourceSpec {
  const raw = spec.trim();
  if (raw === '') throw new ClipstreamError('BAD_REQUEST', 'empty source');
  if (/^s3:\/\//i.test(raw)) {
    const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/is.exec(raw);
    const bucket = m?.[1];
    if (!m || !bucket || !/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(bucket)) {
      throw new ClipstreamError('BAD_REQUEST', 'not an S3 location (expected s3://bucket/prefix/ or s3://bucket/key)', { item: raw });
    }
    const key = m[2] ?? '';
    const format = recordFormatOf(key);
    if (key !== '' && !key.endsWith('/') && format) return { kind: 's3-records', spec: raw, bucket, key, format };
    if (key !== '' && !key.endsWith('/') && imageContentTypeOf(key)) return { kind: 's3-image', spec: raw, bucket, key };
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    return { kind: 's3-prefix', spec: raw, bucket, prefix };
  }
  let file: string;
  try {
    file = /^file:\/\//i.test(raw) ? fileURLToPath(raw) : path.resolve(cwd, raw);
  } catch (err) {
    throw new ClipstreamError('BAD_REQUEST', `not a valid file URI: ${describeError(err)}`, { item: raw });
  }
  let info;
  try {
    info = statSync(file);
  } catch (err) {
    throw new ClipstreamError('SOURCE_NOT_FOUND', 'no such file or folder', { item: raw, cause: err });
  }
  if (info.isDirectory()) return { kind: 'local-folder', spec: raw, path: file };
  const format = recordFormatOf(file);
  if (format) return { kind: 'local-records', spec: raw, path: file, format };
  if (imageContentTypeOf(file)) return { kind: 'local-image', spec: raw, path: file };
  throw new ClipstreamError(
    'BAD_REQUEST',
    'not a catalogue file (images: jpg, jpeg, png, webp, avif, tif, tiff, gif; records: jsonl, ndjson, csv)',
    { item: raw },
  );
}

/**
 * A source's stable identity, stored on each of its points as `source_root`: the canonical URI
 * of what was named (`s3://bucket/prefix/`, `s3://bucket/records.jsonl`, `file:///abs/folder/`,
 * `file:///abs/records.jsonl`). The same folder or prefix always gives the same root, however
 * it was spelled on the command line, so a sync finds exactly the points an earlier run made.
 */
export function sourceRootOf(spec: SourceSpec): string {
  switch (spec.kind) {
    case 's3-prefix':
      return s3Uri(spec.bucket, spec.prefix);
    case 's3-records':
    case 's3-image':
      return s3Uri(spec.bucket, spec.key);
    case 'local-folder':
      return fileUri(spec.path).replace(/\/?$/, '/');
    case 'local-records':
    case 'local-image':
      return fileUri(spec.path);
  }
}

export interface OpenSourceOptions extends KeySelection {
  /** The S3 client (or a factory, so local-only runs never build one). Default: from `s3Config`. */
  s3Client?: (S3Client | (() => S3Client)) | undefined;
  /** Default: `config().s3`. */
  s3Config?: Config['s3'] | undefined;
  /** S3 only: also keep extensionless keys whose stored content type matches (one HEAD each). */
  contentTypes?: readonly string[] | undefined;
  productId?: ProductIdRule | undefined;
  records?: RecordReaderOptions | undefined;
  /** Local folders: follow symbolic links to files outside the folder too (default: only those inside it). */
  followSymlinks?: boolean | undefined;
  /** Parallel HEAD requests / file hashes. Default: `S3_CONCURRENCY` or 8 for local files. */
  concurrency?: number | undefined;
  /** Keys per S3 listing page. */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface SourceProgress {
  images: number;
  recordFiles: number;
  records: number;
  failures: number;
}

export interface OpenedSource {
  spec: SourceSpec;
  /** `sourceRootOf(spec)`: stamped on every item. */
  root: string;
  /** Items and failures in source order. Throws only for what ends the whole source (bucket gone, access denied). */
  items: AsyncIterable<CatalogueItem | ItemFailure>;
  /** One line for logs: the source and what it has produced so far. */
  describe(): string;
  readonly progress: Readonly<SourceProgress>;
}

/** The error's message without the item prefix ClipstreamError adds (the failure names the item already). */
function reasonOf(err: unknown): string {
  if (err instanceof ClipstreamError && err.item && err.message.startsWith(`${err.item}: `)) return err.message.slice(err.item.length + 2);
  return describeError(err);
}

export function isItemFailureEntry(x: CatalogueItem | ItemFailure): x is ItemFailure {
  return !('kind' in x);
}

export function openSource(spec: SourceSpec | string, options: OpenSourceOptions = {}): OpenedSource {
  const parsed = typeof spec === 'string' ? parseSourceSpec(spec) : spec;
  const progress: SourceProgress = { images: 0, recordFiles: 0, records: 0, failures: 0 };
  let client: S3Client | undefined;
  const s3 = (): S3Client => {
    if (client) return client;
    const given = options.s3Client;
    client = typeof given === 'function' ? given() : (given ?? createS3Client(options.s3Config ?? config().s3));
    return client;
  };
  const concurrency = options.concurrency ?? (parsed.kind.startsWith('s3') ? (options.s3Config ?? config().s3).concurrency : 8);

  const root = sourceRootOf(parsed);
  async function* counted(source: AsyncIterable<CatalogueItem | ItemFailure>): AsyncGenerator<CatalogueItem | ItemFailure> {
    for await (const x of source) {
      if (isItemFailureEntry(x)) progress.failures++;
      else {
        if (x.kind === 'image') progress.images++;
        else progress.records++;
        x.sourceRoot = root;
      }
      yield x;
    }
  }

  async function* records(outcomes: AsyncIterable<RecordOutcome>, name: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    progress.recordFiles++;
    try {
      for await (const o of outcomes) yield 'record' in o ? o.record : o.failure;
    } catch (err) {
      // One unreadable records file (dropped connection, permissions) must not end the other files.
      if (err instanceof ClipstreamError && err.code === 'BAD_REQUEST') throw err;
      const code = err instanceof ClipstreamError ? err.code : 'SOURCE_UNREACHABLE';
      yield { item: name, code, reason: `records file could not be read to the end: ${reasonOf(err)}` };
    }
  }

  function s3Records(bucket: string, key: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    const uri = s3Uri(bucket, key);
    return records(
      (async function* () {
        const body = await openObjectStream(s3(), uri, { signal: options.signal });
        yield* readRecords({ name: uri, body }, options.records);
      })(),
      uri,
    );
  }

  async function* s3Prefix(bucket: string, prefix: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    const listed = listObjects({ ...options, client: s3(), bucket, prefix, pageSize: options.pageSize, signal: options.signal });
    const classified = mapConcurrent(listed, concurrency, async (entry): Promise<ImageObject | S3ObjectEntry | ItemFailure | undefined> => {
      if (recordFormatOf(entry.key)) return entry;
      try {
        return await classifyImageEntry(s3(), entry, options);
      } catch (err) {
        // A HEAD that keeps failing costs that object, not the listing.
        if (options.signal?.aborted || !(err instanceof ClipstreamError)) throw err;
        const uri = s3Uri(entry.bucket, entry.key);
        return { item: uri, code: err.code, reason: reasonOf(err), sourceUri: uri };
      }
    });
    for await (const x of classified) {
      if (!x) continue;
      if ('kind' in x || 'item' in x) yield x;
      else yield* s3Records(x.bucket, x.key);
    }
  }

  async function* s3Image(bucket: string, key: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    const uri = s3Uri(bucket, key);
    const head = await withS3Retry(uri, (sendOptions) => s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }), sendOptions), {
      signal: options.signal,
    });
    const entry: S3ObjectEntry = {
      bucket,
      key,
      relativeKey: key,
      size: head.ContentLength ?? 0,
      etag: stripEtag(head.ETag),
      lastModified: head.LastModified,
    };
    yield toImageObject(entry, imageContentTypeOf(key) ?? head.ContentType ?? 'application/octet-stream', options.productId);
  }

  async function* localFolder(root: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    const walked = walkLocalFolder(root, options);
    const classified = mapConcurrent(walked, concurrency, async (entry): Promise<ImageObject | LocalEntry | ItemFailure> => {
      if (entry.kind === 'refused') return { item: fileUri(entry.path), code: 'BAD_REQUEST', reason: entry.reason };
      if (entry.kind !== 'image') return entry;
      try {
        return await toLocalImageObject(entry, options);
      } catch (err) {
        // Removed or unreadable since the walk: that file only.
        const uri = fileUri(entry.path);
        return { item: uri, code: err instanceof ClipstreamError ? err.code : 'SOURCE_UNREACHABLE', reason: reasonOf(err), sourceUri: uri };
      }
    });
    for await (const x of classified) {
      if ('item' in x) yield x;
      else if (x.kind === 'records') yield* records(readRecordsFile(x.path, options.records), x.path);
      else yield x as ImageObject;
    }
  }

  async function* localImage(file: string): AsyncGenerator<CatalogueItem | ItemFailure> {
    const info = statSync(file);
    const contentType = imageContentTypeOf(file)!;
    const entry = { kind: 'image' as const, path: file, relativeKey: path.basename(file), contentType, bytes: info.size, mtime: info.mtime };
    yield await toLocalImageObject(entry, options);
  }

  const items = (): AsyncGenerator<CatalogueItem | ItemFailure> => {
    switch (parsed.kind) {
      case 's3-prefix':
        return s3Prefix(parsed.bucket, parsed.prefix);
      case 's3-records':
        return s3Records(parsed.bucket, parsed.key);
      case 's3-image':
        return s3Image(parsed.bucket, parsed.key);
      case 'local-folder':
        return localFolder(parsed.path);
      case 'local-records':
        return records(readRecordsFile(parsed.path, options.records), parsed.path);
      case 'local-image':
        return localImage(parsed.path);
    }
  };

  return {
    spec: parsed,
    root,
    items: { [Symbol.asyncIterator]: () => counted(items()) },
    progress,
    describe: () => {
      const what = parsed.kind.startsWith('s3') ? parsed.spec : 'path' in parsed ? parsed.path : parsed.spec;
      const p = progress;
      return `${what}: ${p.images} images, ${p.records} records from ${p.recordFiles} records files, ${p.failures} failures`;
    },
  };
}
