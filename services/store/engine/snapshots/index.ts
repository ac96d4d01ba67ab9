/**
 * Collection snapshots as Qdrant serves them: created under <dataDir>/snapshots/<collection>/
 * as `<collection>-<id>-<YYYY-MM-DD-HH-MM-SS>.snapshot` with a `.checksum` file beside it
 * (sha256, hex), listed, downloaded, deleted, and recovered from a file:// or http(s):// location
 * or an uploaded file — into the same collection or another name, replacing what is there.
 *
 * A snapshot is taken at a log position (Collection.snapshotSource): every write acknowledged
 * before the request is in it, writes arriving meanwhile go on and are not. Files appear under
 * their final name only once complete (staging directory, then rename), so a crash leaves at
 * most a `.tmp-*` directory, removed at the next open (`cleanupSnapshots`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Collection } from '../collection.ts';
import { badRequest, notFound, storageError } from '../errors.ts';
import { fsyncDir } from '../log-files.ts';
import { readJsonFile, writeJsonDurably, checkCollectionMeta } from '../json-file.ts';
import type { CollectionMeta } from '../meta.ts';
import { extractSnapshot, sha256File, writeSnapshot } from './archive.ts';

/** What the snapshots need from the store. */
export interface SnapshotHost {
  readonly dataDir: string;
  /** A collection by name or alias (404 when missing). */
  resolve(name: string): Collection;
  /** The collection a recovery into `name` replaces: an alias's target, else `name` itself. */
  recoveryTarget(name: string): string;
  /** Puts the collection prepared in `dir` (under collections/, named `.tmp-*`) in place as `name`. */
  installCollection(name: string, dir: string): Promise<void>;
}

export interface SnapshotDescription {
  name: string;
  creation_time: string | null;
  size: number;
  checksum: string | null;
}

export interface RecoverOptions {
  /** Expected sha256 (hex) of the snapshot file; a mismatch refuses the recovery. */
  checksum?: string | null | undefined;
  /** Sent as `api-key` when fetching an http(s) location. */
  apiKey?: string | null | undefined;
}

export const SUFFIX = '.snapshot';
export const CHECKSUM_SUFFIX = '.checksum';

export class CollectionSnapshots {
  constructor(private readonly host: SnapshotHost) {}

  private get root(): string {
    return path.join(this.host.dataDir, 'snapshots');
  }

  /** The directory of a collection's snapshots (names are valid file names; '.'/'..' are escaped). */
  private dirOf(collection: string, shard?: string): string {
    const dir = path.join(this.root, collection === '.' || collection === '..' ? collection.replaceAll('.', '%2E') : collection);
    // Shard snapshots (the embedded store has one shard, 0) beside the collection's, as in Qdrant.
    return shard === undefined ? dir : path.join(dir, 'shards', shard);
  }

  /** A shard id of the collection: only 0 exists. */
  checkShard(name: string, shard: string): void {
    const c = this.host.resolve(name);
    if (shard !== '0') throw notFound(`Shard ${shard} does not exist in collection \`${c.name}\` (the embedded store has shard 0 only)`);
  }

  async create(name: string, shard?: string): Promise<SnapshotDescription> {
    const c = this.host.resolve(name);
    const dir = this.dirOf(c.name, shard);
    const created = new Date();
    const snapshotName = `${c.name}-${BigInt(`0x${randomBytes(7).toString('hex')}`)}-${stamp(created)}${SUFFIX}`;
    let staging: string | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true });
      staging = fs.mkdtempSync(path.join(dir, '.tmp-'));
      const archive = path.join(staging, 'snapshot.tar');
      await this.writeArchive(c, archive, created);
      const checksum = await sha256File(archive);
      writeTextDurably(path.join(dir, snapshotName + CHECKSUM_SUFFIX), checksum);
      // The rename is the commit point: before it, nothing is listed.
      fs.renameSync(archive, path.join(dir, snapshotName));
      fsyncDir(dir);
      return describe(dir, snapshotName);
    } catch (err) {
      if (!fs.existsSync(path.join(dir, snapshotName))) fs.rmSync(path.join(dir, snapshotName + CHECKSUM_SUFFIX), { force: true });
      throw storageError(err, path.join(dir, snapshotName));
    } finally {
      if (staging) fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  /**
   * Writes a snapshot of `c` to `dest` (a file that does not exist yet, in a directory the
   * caller cleans up), taken at the log position of this moment.
   */
  async writeArchive(c: Collection, dest: string, created: Date): Promise<void> {
    const staging = fs.mkdtempSync(path.join(path.dirname(dest), '.tmp-'));
    // One turn: the configuration and the log position agree.
    const source = c.snapshotSource();
    try {
      await writeSnapshot(staging, dest, source, created);
    } finally {
      fs.closeSync(source.log.fd);
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  list(name: string, shard?: string): SnapshotDescription[] {
    const c = this.host.resolve(name);
    const dir = this.dirOf(c.name, shard);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.') && fs.statSync(path.join(dir, n)).isFile())
      .sort()
      .map((n) => describe(dir, n));
  }

  /** The file of a snapshot, for download. */
  file(name: string, snapshotName: string, shard?: string): { file: string; size: number } {
    const file = this.existing(name, snapshotName, shard);
    return { file, size: fs.statSync(file).size };
  }

  delete(name: string, snapshotName: string, shard?: string): boolean {
    const file = this.existing(name, snapshotName, shard);
    fs.rmSync(file);
    fs.rmSync(file + CHECKSUM_SUFFIX, { force: true });
    fsyncDir(path.dirname(file));
    return true;
  }

  private existing(name: string, snapshotName: string, shard?: string): string {
    const c = this.host.resolve(name);
    checkSnapshotName(snapshotName);
    const file = path.join(this.dirOf(c.name, shard), snapshotName);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw notFound(`Snapshot ${snapshotName} not found`);
    return file;
  }

  /** PUT …/snapshots/recover: from a file:// location on this machine or an http(s) URL. */
  async recover(name: string, location: string, opts: RecoverOptions = {}): Promise<boolean> {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw badRequest(`Invalid snapshot URI: ${JSON.stringify(location)} is not a URL (use file:///absolute/path or http(s)://…)`);
    }
    if (url.protocol === 'file:') {
      if (url.host !== '' && url.host !== 'localhost') throw badRequest('Invalid snapshot URI, file path must be absolute or on localhost');
      const file = decodeURIComponent(url.pathname);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw badRequest(`Snapshot file ${JSON.stringify(file)} does not exist`);
      return this.recoverFromFile(name, file, opts.checksum, file);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw badRequest(`Invalid snapshot URI: scheme ${url.protocol.replace(':', '')} is not supported (use file:// or http(s)://)`);
    }
    const download = this.tempFile('download');
    try {
      await fetchTo(url, download, opts.apiKey ?? undefined);
      return await this.recoverFromFile(name, download, opts.checksum, location);
    } finally {
      fs.rmSync(download, { force: true });
    }
  }

  /** POST …/snapshots/upload: the uploaded file (already written to `file`, which this removes). */
  async recoverUpload(name: string, file: string, checksum: string | null | undefined): Promise<boolean> {
    try {
      return await this.recoverFromFile(name, file, checksum, 'upload');
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** A fresh temporary file name for an upload or a download (removed at the next open if left). */
  tempFile(kind: string): string {
    fs.mkdirSync(this.root, { recursive: true });
    return path.join(this.root, `.tmp-${kind}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
  }

  /** Recovers collection `name` from a snapshot file (checked against `checksum` when given). */
  async recoverFromFile(name: string, file: string, checksum: string | null | undefined, label: string): Promise<boolean> {
    if (checksum !== undefined && checksum !== null) {
      const actual = await sha256File(file);
      if (actual !== checksum.toLowerCase()) throw badRequest(`Snapshot checksum mismatch: expected ${checksum}, got ${actual}`);
    }
    const target = this.host.recoveryTarget(name);
    const root = path.join(this.host.dataDir, 'collections');
    const dir = path.join(root, `.tmp-recover-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(dir);
    try {
      await extractSnapshot(file, dir, label);
      const metaFile = path.join(dir, 'meta.json');
      const meta = readJsonFile<CollectionMeta>(metaFile, checkCollectionMeta, 'The snapshot is damaged: take a new one');
      // A snapshot may be recovered under another name: the configuration takes the new one.
      writeJsonDurably(metaFile, { ...meta, name: target });
      await this.host.installCollection(target, dir);
      return true;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** Removes what an interrupted snapshot, upload or download left under <dataDir>/snapshots. */
export function cleanupSnapshots(dataDir: string): void {
  const root = path.join(dataDir, 'snapshots');
  if (!fs.existsSync(root)) return;
  for (const entry of fs.readdirSync(root)) {
    const full = path.join(root, entry);
    if (entry.startsWith('.tmp-')) {
      fs.rmSync(full, { recursive: true, force: true });
      continue;
    }
    if (!fs.statSync(full).isDirectory()) {
      // A full snapshot's checksum whose snapshot never arrived.
      if (entry.endsWith(CHECKSUM_SUFFIX) && !fs.existsSync(full.slice(0, -CHECKSUM_SUFFIX.length))) fs.rmSync(full, { force: true });
      continue;
    }
    cleanSnapshotDir(full);
    const shards = path.join(full, 'shards');
    if (fs.existsSync(shards)) for (const id of fs.readdirSync(shards)) cleanSnapshotDir(path.join(shards, id));
  }
}

/** Removes staging leftovers and checksums whose snapshot never arrived from one snapshot directory. */
function cleanSnapshotDir(dir: string): void {
  if (!fs.statSync(dir).isDirectory()) return;
  const names = new Set(fs.readdirSync(dir));
  for (const n of names) {
    const orphanChecksum = n.endsWith(CHECKSUM_SUFFIX) && !names.has(n.slice(0, -CHECKSUM_SUFFIX.length));
    if (n.startsWith('.tmp-') || orphanChecksum) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
}

/** Snapshot names are plain file names: no directories, nothing hidden. */
export function checkSnapshotName(name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\\') || name.includes('\0') || name.startsWith('.')) {
    // No such snapshot can exist (Qdrant answers path traversal attempts 404 too).
    throw notFound(`Snapshot ${name} not found (a snapshot name is a file name as listed by GET …/snapshots)`);
  }
}

export function describe(dir: string, name: string): SnapshotDescription {
  const file = path.join(dir, name);
  const st = fs.statSync(file);
  let checksum: string | null;
  try {
    checksum = fs.readFileSync(file + CHECKSUM_SUFFIX, 'utf8').trim() || null;
  } catch {
    checksum = null;
  }
  // Qdrant's partial-date-time: no zone, whole seconds.
  return { name, creation_time: st.mtime.toISOString().slice(0, 19), size: st.size, checksum };
}

/** YYYY-MM-DD-HH-MM-SS in UTC, as in Qdrant's snapshot names. */
export function stamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', '-').replaceAll(':', '-');
}

/** A small text file written durably (a checksum). */
export function writeTextDurably(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.tmp-${path.basename(file)}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

async function fetchTo(url: URL, file: string, apiKey: string | undefined): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { headers: apiKey ? { 'api-key': apiKey } : {} });
  } catch (err) {
    throw badRequest(`Failed to download snapshot from ${url.href}: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw badRequest(`Failed to download snapshot from ${url.href}: HTTP ${res.status} ${res.statusText}`);
  }
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), fs.createWriteStream(file));
}
