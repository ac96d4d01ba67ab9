/**
 * A local folder as a catalogue source: image files become `ImageObject`s (`file:///abs/path`,
 * version = SHA-256 of the bytes), records files are handed back for the records reader.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream, type Stats } from 'node:fs';
import { open, opendir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ImageObject } from '../catalogue/types.ts';
import { ClipstreamError } from '../errors.ts';
import { mapConcurrent } from '../concurrency.ts';
import { imageContentTypeOf, keySelector, productIdOf, recordFormatOf, type KeySelection, type ProductIdRule, type RecordFormat } from './keys.ts';

/**
 * One file found by the walk. `relativeKey` uses `/` on every platform (what globs and product
 * rules see). `refused`: a catalogue file the walk will not take, with the reason.
 */
export type LocalEntry =
  | { kind: 'image'; path: string; relativeKey: string; contentType: string; bytes: number; mtime: Date }
  | { kind: 'records'; path: string; relativeKey: string; format: RecordFormat }
  | { kind: 'refused'; path: string; relativeKey: string; reason: string };

export interface WalkOptions extends KeySelection {
  /** Follow symbolic links to files outside the folder too (default: only links that stay inside it). */
  followSymlinks?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Image and records files under `root`, depth-first in name order (stable across runs, so runs
 * are comparable and resumable by eye). Hidden entries (`.git`, `.DS_Store`, `._x.jpg` from
 * macOS) are skipped, and symbolic links to folders are not followed (no cycles). A symbolic link
 * to a file is followed when its target lies inside `root` (or with `followSymlinks`): otherwise
 * anyone who can write into the catalogue folder could publish any image on the disk.
 */
export async function* walkLocalFolder(root: string, options: WalkOptions = {}): AsyncGenerator<LocalEntry> {
  const base = path.resolve(root);
  const selected = keySelector(options);
  let rootStat;
  try {
    rootStat = await stat(base);
  } catch (err) {
    throw notFound(base, err);
  }
  if (!rootStat.isDirectory()) throw new ClipstreamError('BAD_REQUEST', 'not a folder', { item: base });
  const realBase = await realpath(base);

  async function* walk(dir: string): AsyncGenerator<LocalEntry> {
    const names: Array<{ name: string; isDir: boolean; isFile: boolean; isLink: boolean }> = [];
    for await (const d of await opendir(dir)) {
      if (d.name.startsWith('.')) continue;
      names.push({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile(), isLink: d.isSymbolicLink() });
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      options.signal?.throwIfAborted();
      const full = path.join(dir, e.name);
      if (e.isDir) {
        yield* walk(full);
        continue;
      }
      let isFile = e.isFile;
      let info: Stats | undefined;
      if (e.isLink) {
        info = await stat(full).catch(() => undefined); // a dangling link is not a catalogue file
        isFile = info?.isFile() ?? false;
      }
      if (!isFile) continue;
      const relativeKey = path.relative(base, full).split(path.sep).join('/');
      if (!selected(relativeKey)) continue;
      const contentType = imageContentTypeOf(e.name);
      if (!contentType && !recordFormatOf(e.name)) continue;
      if (e.isLink && !options.followSymlinks) {
        const target = await realpath(full).catch(() => undefined);
        if (!target || !isWithin(target, realBase)) {
          yield { kind: 'refused', path: full, relativeKey, reason: 'symbolic link to a file outside the source folder: not followed (--follow-symlinks to take it)' };
          continue;
        }
      }
      if (contentType) {
        info ??= await stat(full);
        yield { kind: 'image', path: full, relativeKey, contentType, bytes: info.size, mtime: info.mtime };
        continue;
      }
      const format = recordFormatOf(e.name);
      if (format) yield { kind: 'records', path: full, relativeKey, format };
    }
  }
  yield* walk(base);
}

/** `file:///abs/path`, percent-encoded as WHATWG URLs do, so the same file always gives the same URI. */
export function fileUri(file: string): string {
  return pathToFileURL(path.resolve(file)).href;
}

/** SHA-256 (hex) of a file's bytes, streamed. */
export async function hashFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface LocalImageOptions {
  productId?: ProductIdRule | undefined;
  signal?: AbortSignal | undefined;
}

export async function toLocalImageObject(
  entry: Extract<LocalEntry, { kind: 'image' }>,
  options: LocalImageOptions = {},
): Promise<ImageObject> {
  const image: ImageObject = {
    kind: 'image',
    sourceUri: fileUri(entry.path),
    version: await hashFile(entry.path, options.signal),
    bytes: entry.bytes,
    lastModified: entry.mtime.toISOString(),
    contentType: entry.contentType,
  };
  const productId = productIdOf(entry.relativeKey, options.productId);
  if (productId !== undefined) image.productId = productId;
  return image;
}

/** Image files under `root` as `ImageObject`s, hashing up to `concurrency` files at once, in walk order. */
export async function* listLocalImages(
  root: string,
  options: WalkOptions & LocalImageOptions & { concurrency?: number } = {},
): AsyncGenerator<ImageObject> {
  const images = (async function* () {
    for await (const e of walkLocalFolder(root, options)) if (e.kind === 'image') yield e;
  })();
  yield* mapConcurrent(images, options.concurrency ?? 4, (e) => toLocalImageObject(e, options));
}

/**
 * The bytes of a `file://` URI. SOURCE_NOT_FOUND if it is gone, IMAGE_TOO_LARGE over `maxBytes`
 * (checked on the size before reading, and while reading in case the file grows).
 */
export async function readLocalBytes(uri: string, maxBytes = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<Buffer> {
  const file = filePathOf(uri);
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw notFound(uri, err);
  }
  try {
    return await readOpened(handle, uri, maxBytes, signal);
  } finally {
    await handle.close();
  }
}

export interface ConfinedReadOptions {
  maxBytes: number;
  /**
   * Folders the file's real path must lie in. Empty: the real path must be the path as given,
   * i.e. no symbolic link anywhere on the way, so the file is exactly where it was found.
   */
  roots: readonly string[];
  signal?: AbortSignal;
}

/**
 * Like `readLocalBytes`, for a file whose path was decided earlier (a stored point's source):
 * its real path is taken from the open handle itself, on every read, so a file replaced by a
 * symbolic link after it was indexed — or a folder on its path replaced by one — cannot make the
 * caller read something else. Only regular files are read (a FIFO or device never is: the open
 * does not block and the read is refused). Refused files answer NOT_FOUND.
 */
export async function readConfinedLocalBytes(uri: string, options: ConfinedReadOptions): Promise<Buffer> {
  const file = path.resolve(filePathOf(uri));
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw notFound(uri, err);
  }
  try {
    const real = await openedPath(handle, file);
    const allowed =
      options.roots.length === 0 ? real === file : (await realRoots(options.roots)).some((root) => isWithin(real, root));
    if (!allowed) {
      throw new ClipstreamError('NOT_FOUND', 'not read: the file is reached through a symbolic link that leaves the folders it may be read from', { item: uri });
    }
    if (!(await handle.stat()).isFile()) throw new ClipstreamError('NOT_FOUND', 'not read: not a regular file', { item: uri });
    return await readOpened(handle, uri, options.maxBytes, options.signal);
  } finally {
    await handle.close();
  }
}

function filePathOf(uri: string): string {
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw new ClipstreamError('BAD_REQUEST', 'not a file:// URI', { item: uri, cause: err });
  }
}

async function readOpened(handle: FileHandle, uri: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const { size } = await handle.stat();
  if (size > maxBytes) throw tooLarge(uri, size, maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of handle.createReadStream({ autoClose: false, signal })) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw tooLarge(uri, total, maxBytes);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The real path of what `handle` has open. On Linux the kernel says it (/proc/self/fd), which
 * leaves no gap between checking and reading; elsewhere the path is resolved and must name the
 * very file the handle holds (same device and inode), or the read is refused as changed.
 */
async function openedPath(handle: FileHandle, file: string): Promise<string> {
  if (process.platform === 'linux') {
    const real = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    if (real) return real;
  }
  const real = await realpath(file);
  const [held, named] = await Promise.all([handle.stat(), stat(real)]);
  if (held.dev !== named.dev || held.ino !== named.ino) throw new ClipstreamError('NOT_FOUND', 'not read: the file changed while it was opened', { item: file });
  return real;
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const resolved = await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)));
  return resolved.filter((r): r is string => r !== undefined);
}

/** Whether `file` is `dir` or lies under it (both absolute, real paths). */
export function isWithin(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function tooLarge(uri: string, bytes: number, maxBytes: number): ClipstreamError {
  return new ClipstreamError('IMAGE_TOO_LARGE', `file is ${bytes} bytes or more, over the ${maxBytes}-byte limit (IMAGE_MAX_BYTES)`, {
    item: uri,
  });
}

function notFound(item: string, err: unknown): ClipstreamError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ClipstreamError('SOURCE_NOT_FOUND', 'no such file or folder', { item, cause: err });
  return new ClipstreamError('SOURCE_UNREACHABLE', `cannot read: ${(err as Error).message}`, { item, cause: err });
}
