/**
 * Free space under DATA_DIR (the embedded store, the model cache, state.db, calibration): a
 * full volume makes the store refuse writes (507) and a model download fail half-way.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { fail, ok, type Finding } from './check.ts';
import { formatBytes } from './model.ts';

export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

export async function checkDisk(config: Config, minFreeBytes = DEFAULT_MIN_FREE_BYTES): Promise<Finding> {
  const dataDir = config.store.dataDir;
  // DATA_DIR may not exist yet: the volume is the one of its nearest existing ancestor.
  let dir = dataDir;
  for (;;) {
    try {
      await fs.access(dir);
      break;
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  try {
    const st = await fs.statfs(dir);
    const free = st.bavail * st.bsize;
    const total = st.blocks * st.bsize;
    const share = total > 0 ? ` (${((100 * free) / total).toFixed(0)} % of ${formatBytes(total)})` : '';
    const where = dir === dataDir ? dataDir : `${dataDir} (not created yet; volume of ${dir})`;
    if (free < minFreeBytes) {
      return fail('disk', `${formatBytes(free)} free under ${where}${share}, less than ${formatBytes(minFreeBytes)}`, 'free space on the volume, or point DATA_DIR (and MODEL_CACHE_DIR) at a larger one');
    }
    return ok('disk', `${formatBytes(free)} free under ${where}${share}`);
  } catch (err) {
    return fail('disk', `cannot read the free space under ${dataDir}: ${describeError(err)}`, 'check DATA_DIR');
  }
}
