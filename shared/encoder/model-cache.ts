/**
 * The bookkeeping of a model cache folder: the manifest of completed files (size, etag, commit)
 * and the lock that lets one process at a time download into the folder.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../concurrency.ts';
import { isProcessAlive } from '../process.ts';
import type { Config } from '../config/index.ts';

const MANIFEST_FILE = '.clipstream-manifest.json';
const LOCK_FILE = '.clipstream.lock';
const LOCK_STALE_MS = 120_000;
const LOCK_REFRESH_MS = 30_000;
const LOCK_POLL_MS = 500;

export interface Manifest {
  repo: string;
  revision: string;
  commit?: string | undefined;
  files: Record<string, { size: number; etag?: string | undefined; sha256?: string | undefined; fetchedAt: string }>;
}

/** The file's stat, or undefined when it is not there. */
export async function statOrUndefined(p: string) {
  try {
    return await fs.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export async function readManifest(dir: string, model: Pick<Config['model'], 'repo' | 'revision'>): Promise<Manifest> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
    if (m && typeof m.files === 'object' && m.repo === model.repo && m.revision === model.revision) return m;
  } catch {
    // absent or unreadable: the files on disk are still trusted (they only land there complete)
  }
  return { repo: model.repo, revision: model.revision, files: {} };
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = path.join(dir, `${MANIFEST_FILE}.${process.pid}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await fs.rename(tmp, path.join(dir, MANIFEST_FILE));
}

/** Files of the list not (validly) in the cache folder. */
export async function missingFromCache(dir: string, files: string[], manifest: Manifest): Promise<string[]> {
  const missing: string[] = [];
  for (const f of files) {
    const st = await statOrUndefined(path.join(dir, f));
    const recorded = manifest.files[f];
    if (!st?.isFile() || (recorded && recorded.size !== st.size)) missing.push(f);
  }
  return missing;
}

/**
 * One downloader per cache folder: workers starting together on an empty cache would otherwise
 * append to the same `.incomplete` file. The holder refreshes the lock's mtime, so a lock left
 * by a crashed process (dead pid here, or silent for LOCK_STALE_MS) is taken over.
 */
export async function acquireLock(dir: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  const lockPath = path.join(dir, LOCK_FILE);
  const body = JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
  for (;;) {
    try {
      await fs.writeFile(lockPath, body, { flag: 'wx' });
      const refresh = setInterval(() => {
        const now = new Date();
        fs.utimes(lockPath, now, now).catch(() => undefined);
      }, LOCK_REFRESH_MS);
      refresh.unref();
      return async () => {
        clearInterval(refresh);
        await fs.rm(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let stale: boolean;
    try {
      const [text, st] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath)]);
      const holder = JSON.parse(text) as { pid?: number; host?: string };
      stale =
        Date.now() - st.mtimeMs > LOCK_STALE_MS ||
        (holder.host === os.hostname() && typeof holder.pid === 'number' && holder.pid !== process.pid && !isProcessAlive(holder.pid));
    } catch {
      stale = true; // vanished or half-written; try again at once
    }
    if (stale) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    await sleep(LOCK_POLL_MS, signal);
  }
}
