/**
 * The store's small JSON files (a collection's meta.json, the data directory's aliases.json):
 * replaced atomically and durably, and read back strictly — a damaged file is refused with an
 * error naming it and what is wrong, never taken for empty.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreCorruptionError } from './errors.ts';
import { fsyncDir } from './log-files.ts';

/** Writes `file` through a temporary file and a rename: readers see the old or the new one whole. */
export function writeJsonDurably(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      const bytes = Buffer.from(JSON.stringify(value, null, 2));
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    // A half-written temporary file is no use to anyone, and on a full disk it holds space.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file));
}

/**
 * Reads and checks a JSON file; `check` returns what is wrong with the parsed value, or null.
 * `hint` says what to do about a damaged one.
 */
export function readJsonFile<T>(file: string, check: (value: unknown) => string | null, hint: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StoreCorruptionError(file, `cannot read ${file}: ${(err as Error).message}. ${hint}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new StoreCorruptionError(file, `${file} is damaged (${(err as Error).message}); refusing to open rather than start without it. ${hint}`);
  }
  const problem = check(value);
  if (problem !== null) throw new StoreCorruptionError(file, `${file} is damaged (${problem}); refusing to open rather than start without it. ${hint}`);
  return value as T;
}

const DISTANCES = new Set(['Cosine', 'Dot', 'Euclid', 'Manhattan']);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What a collection's meta.json must look like for the collection to open as it was created. */
export function checkCollectionMeta(v: unknown): string | null {
  if (!isObject(v)) return 'not a JSON object';
  if (typeof v.name !== 'string' || v.name.length === 0) return '"name" is not a collection name';
  if (typeof v.named !== 'boolean') return '"named" is not a boolean';
  if (!isObject(v.vectors)) return '"vectors" is not an object';
  if (v.sparse_vectors !== undefined && !isObject(v.sparse_vectors)) return '"sparse_vectors" is not an object';
  for (const [name, p] of Object.entries(v.vectors)) {
    if (!isObject(p)) return `vectors.${name} is not an object`;
    if (!Number.isInteger(p.size) || (p.size as number) < 1) return `vectors.${name}.size is not a positive integer`;
    if (typeof p.distance !== 'string' || !DISTANCES.has(p.distance)) return `vectors.${name}.distance is not a distance`;
  }
  if (!v.named && !('' in v.vectors)) return 'the unnamed vector is missing';
  for (const key of ['hnsw_config', 'optimizers_config', 'wal_config', 'params', 'payload_schema'] as const) {
    if (!isObject(v[key])) return `"${key}" is not an object`;
  }
  return null;
}

/** aliases.json: alias name → collection name. */
export function checkAliases(v: unknown): string | null {
  if (!isObject(v)) return 'not a JSON object';
  for (const [alias, target] of Object.entries(v)) if (typeof target !== 'string') return `alias ${JSON.stringify(alias)} does not name a collection`;
  return null;
}
