/**
 * An ANN index on disk, beside the collection's log in `<collection>/ann/`:
 * - `<vector>.<gen>.usearch`: the usearch index file of one generation (written whole by the
 *   optimiser thread, fsynced, never changed afterwards);
 * - `<vector>.<epoch>.keys`: what each index key stands for, one fixed-size record per key
 *   (the point id and the version its vector was written at), appended as keys are handed out;
 *   a key whose entry left the index is overwritten with a dead record;
 * - `<vector>.json`: the manifest naming the current generation, its size and SHA-256 and how
 *   many key records count. Written last and atomically, so a crash at any moment leaves the
 *   previous generation whole; a file that does not match it is not used (the index is rebuilt
 *   from the points, which the log holds).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PointId } from '../ids.ts';
import { writeJsonDurably } from '../json-file.ts';

export const MANIFEST_FORMAT = 1;
export const KEY_RECORD_BYTES = 25;
const DEAD = 0;
const NUMBER_ID = 1;
const UUID_ID = 2;

export interface Manifest {
  format: number;
  fingerprint: string;
  epoch: string;
  gen: number;
  index_file: string;
  index_bytes: number;
  index_sha256: string;
  keys_file: string;
  key_count: number;
}

export function annDir(collectionDir: string): string {
  return path.join(collectionDir, 'ann');
}

/** A file-name stem for a vector name (any string, "" included). */
export function stem(vectorName: string): string {
  return `v-${Buffer.from(vectorName, 'utf8').toString('hex')}`;
}

export function manifestPath(dir: string, vectorName: string): string {
  return path.join(dir, `${stem(vectorName)}.json`);
}

/** The manifest, or null when it is missing or not one this code wrote. */
export function readManifest(file: string): Manifest | null {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  const m = v as Partial<Manifest> | null;
  if (!m || typeof m !== 'object' || m.format !== MANIFEST_FORMAT) return null;
  if (typeof m.index_file !== 'string' || typeof m.keys_file !== 'string' || typeof m.fingerprint !== 'string' || typeof m.epoch !== 'string') return null;
  if (!Number.isInteger(m.gen) || !Number.isInteger(m.index_bytes) || !Number.isInteger(m.key_count) || typeof m.index_sha256 !== 'string') return null;
  return m as Manifest;
}

export function writeManifest(file: string, m: Manifest): void {
  writeJsonDurably(file, m);
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** True when the index file is the one the manifest describes (size and content hash). */
export function indexFileMatches(dir: string, m: Manifest): boolean {
  const file = path.join(dir, m.index_file);
  try {
    if (fs.statSync(file).size !== m.index_bytes) return false;
    return sha256File(file) === m.index_sha256;
  } catch {
    return false;
  }
}

export interface KeyRecord {
  id: PointId;
  stamp: number;
}

/** Encodes key records for keys [first, first + records.length) (null: a dead key). */
export function encodeKeyRecords(records: (KeyRecord | null)[]): Buffer {
  const buf = Buffer.alloc(records.length * KEY_RECORD_BYTES);
  records.forEach((r, i) => {
    const off = i * KEY_RECORD_BYTES;
    if (r === null) return;
    if (typeof r.id === 'number') {
      buf[off] = NUMBER_ID;
      buf.writeDoubleLE(r.id, off + 1);
    } else {
      buf[off] = UUID_ID;
      buf.write(r.id.replace(/-/g, ''), off + 1, 16, 'hex');
    }
    buf.writeDoubleLE(r.stamp, off + 17);
  });
  return buf;
}

/** The first `count` key records of a keys file, or null when it is shorter than that. */
export function readKeyRecords(file: string, count: number): (KeyRecord | null)[] | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (buf.length < count * KEY_RECORD_BYTES) return null;
  const out: (KeyRecord | null)[] = new Array(count);
  for (let k = 0; k < count; k++) {
    const off = k * KEY_RECORD_BYTES;
    const type = buf[off];
    const stamp = buf.readDoubleLE(off + 17);
    if (type === NUMBER_ID) out[k] = { id: buf.readDoubleLE(off + 1), stamp };
    else if (type === UUID_ID) {
      const h = buf.toString('hex', off + 1, off + 17);
      out[k] = { id: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`, stamp };
    } else if (type === DEAD) out[k] = null;
    else return null;
  }
  return out;
}

/** The keys file, opened for positional writes. */
export class KeysFile {
  private readonly fd: number;

  constructor(readonly file: string, truncate: boolean) {
    this.fd = fs.openSync(file, truncate ? 'w+' : fs.existsSync(file) ? 'r+' : 'w+');
  }

  /** Writes records for keys [first, …) and marks `dead` keys, then syncs. */
  write(first: number, records: (KeyRecord | null)[], dead: number[]): void {
    const bytes = encodeKeyRecords(records);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(this.fd, bytes, off, bytes.length - off, first * KEY_RECORD_BYTES + off);
    const zero = Buffer.alloc(1);
    for (const k of dead) fs.writeSync(this.fd, zero, 0, 1, k * KEY_RECORD_BYTES);
    fs.fsyncSync(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Removes the files of `vectorName` in `dir` that `keep` does not name (old generations, torn leftovers). */
export function removeStale(dir: string, vectorName: string, keep: string[]): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `${stem(vectorName)}.`;
  for (const e of entries) {
    if (!e.startsWith(prefix) || e === `${stem(vectorName)}.json` || keep.includes(e)) continue;
    fs.rmSync(path.join(dir, e), { force: true });
  }
}
