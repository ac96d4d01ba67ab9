/**
 * The snapshot file of one collection: a POSIX tar holding
 *
 *   manifest.json        format, version, collection, creation time, and each file's size and sha256
 *   meta.json            the collection's configuration (vectors, payload indexes, settings)
 *   points-00000001.log  the collection's op log up to the snapshot's position (frame.ts layout)
 *
 * Recovery extracts only those names (plain files, no paths), checks every size and checksum
 * against the manifest, and replays the log as an open does; anything else is refused with the
 * reason. See docs/store-snapshots.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { badRequest } from '../errors.ts';
import { logName } from '../log-files.ts';
import type { CollectionMeta } from '../meta.ts';

const SNAPSHOT_FORMAT = 'clipstream-store-collection-snapshot';
const SNAPSHOT_VERSION = 1;
const MANIFEST = 'manifest.json';
const META = 'meta.json';
const LOG = logName(1);
/** Read size for copying and hashing (the 64 KiB default makes a 100 MB log thousands of reads). */
const CHUNK = 1 << 20;

interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  collection: string;
  created: string;
  /** Bytes of the log copied: the written prefix at the moment the snapshot was taken. */
  log_bytes: number;
  files: ManifestFile[];
}

/** The sha256 of a file, hex. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: CHUNK }), hash);
  return hash.digest('hex');
}

/**
 * Writes the snapshot tar to `dest` from the collection's configuration and its log's written
 * prefix (`log.fd` up to `log.end`, read through a descriptor of our own, so writes and
 * compactions meanwhile do not reach it). `staging` is an empty directory the caller removes.
 */
export async function writeSnapshot(
  staging: string,
  dest: string,
  source: { meta: CollectionMeta; log: { fd: number; end: number } },
  created: Date,
): Promise<void> {
  const metaFile = path.join(staging, META);
  fs.writeFileSync(metaFile, JSON.stringify(source.meta, null, 2));
  const logFile = path.join(staging, LOG);
  if (source.log.end === 0) fs.writeFileSync(logFile, '');
  else await pipeline(fs.createReadStream('', { fd: source.log.fd, start: 0, end: source.log.end - 1, autoClose: false, emitClose: false, highWaterMark: CHUNK }), fs.createWriteStream(logFile));
  const files: ManifestFile[] = [];
  for (const name of [META, LOG]) {
    const full = path.join(staging, name);
    files.push({ name, size: fs.statSync(full).size, sha256: await sha256File(full) });
  }
  const manifest: Manifest = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    collection: source.meta.name,
    created: created.toISOString(),
    log_bytes: source.log.end,
    files,
  };
  fs.writeFileSync(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2));
  await tar.create({ cwd: staging, file: dest, portable: true, mtime: created }, [MANIFEST, META, LOG]);
  const fd = fs.openSync(dest, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Extracts a snapshot file into `dir` (empty) and checks it against its manifest; returns the
 * manifest. `label` names the snapshot in errors. Afterwards `dir` holds meta.json and the log
 * under the names a collection directory uses.
 */
export async function extractSnapshot(file: string, dir: string, label: string): Promise<Manifest> {
  const refuse = (why: string) => badRequest(`snapshot ${label} cannot be recovered: ${why}`);
  const seen: string[] = [];
  const unexpected: string[] = [];
  try {
    await tar.extract({
      file,
      cwd: dir,
      strict: true,
      filter: (p, entry) => {
        const name = p.replace(/^\.\//, '');
        const plain = 'type' in entry && entry.type === 'File';
        if (plain && (name === MANIFEST || name === META || name === LOG) && !seen.includes(name)) {
          seen.push(name);
          return true;
        }
        unexpected.push(name);
        return false;
      },
    });
  } catch (err) {
    throw refuse(`it is not a readable tar archive (${(err as Error).message})`);
  }
  if (!seen.includes(MANIFEST)) {
    const hint = unexpected.some((n) => n === 'config.json' || n.endsWith('/segments') || /^\d+\//.test(n))
      ? ' (it looks like a snapshot of a Qdrant server, whose segment format the embedded store cannot read: copy the points over with a client instead)'
      : '';
    throw refuse(`it has no ${MANIFEST}, so it is not a snapshot of the embedded store${hint}`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch (err) {
    throw refuse(`${MANIFEST} is not JSON (${(err as Error).message})`);
  }
  if (manifest?.format !== SNAPSHOT_FORMAT) throw refuse(`${MANIFEST} names format ${JSON.stringify(manifest?.format)}, not ${SNAPSHOT_FORMAT}`);
  if (manifest.version !== SNAPSHOT_VERSION) throw refuse(`it is format version ${manifest.version}; this store reads version ${SNAPSHOT_VERSION}`);
  if (unexpected.length > 0) throw refuse(`it holds entries a snapshot does not have: ${unexpected.slice(0, 5).join(', ')}`);
  if (!Array.isArray(manifest.files)) throw refuse(`${MANIFEST} has no file list`);
  for (const name of [META, LOG]) {
    const want = manifest.files.find((f) => f?.name === name);
    if (!want) throw refuse(`${MANIFEST} does not list ${name}`);
    if (!seen.includes(name)) throw refuse(`${name} is missing from the archive`);
    const full = path.join(dir, name);
    const size = fs.statSync(full).size;
    if (size !== want.size) throw refuse(`${name} is ${size} bytes, the manifest says ${want.size} (the file is truncated or damaged)`);
    const sum = await sha256File(full);
    if (sum !== want.sha256) throw refuse(`${name} has sha256 ${sum}, the manifest says ${want.sha256} (the file is damaged)`);
  }
  fs.rmSync(path.join(dir, MANIFEST));
  return manifest;
}
