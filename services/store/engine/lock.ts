/**
 * One process per data directory (`store.lock` holds its pid): a second one would interleave
 * writes into the same logs. A lock left by a process that no longer exists is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from '../../../shared/process.ts';
import { StoreError } from './errors.ts';

export function takeLock(dir: string): void {
  const file = path.join(dir, 'store.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (pid && pid !== process.pid && isProcessAlive(pid)) {
        throw new StoreError(500, `Service internal error: data directory ${dir} is in use by process ${pid}`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new StoreError(500, `Service internal error: cannot lock data directory ${dir}`);
}

export function releaseLock(dir: string): void {
  fs.rmSync(path.join(dir, 'store.lock'), { force: true });
}
