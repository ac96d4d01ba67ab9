/**
 * Skip-unchanged needs the stored version of every item, and asking the store one id at a time
 * would cost a round trip per item. Lookups from concurrent callers are gathered for a few
 * milliseconds (or until `maxBatch` ids wait) and answered by one retrieve call.
 */
import type { StoredVersion } from '../store/versions.ts';

export type { StoredVersion } from '../store/versions.ts';

/** Point id → stored version, for the ids that exist. */
export type StoredVersionsFn = (ids: string[]) => Promise<Map<string, StoredVersion>>;

export interface VersionLookupOptions {
  maxBatch?: number;
  maxWaitMs?: number;
}

interface Waiter {
  id: string;
  resolve: (v: StoredVersion | undefined) => void;
  reject: (err: unknown) => void;
}

export class VersionLookup {
  private pending: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private calls = 0;

  constructor(
    private readonly fetch: StoredVersionsFn,
    options: VersionLookupOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxWaitMs = options.maxWaitMs ?? 5;
  }

  /** Store round trips made so far (for tests and stats). */
  get roundTrips(): number {
    return this.calls;
  }

  get(id: string): Promise<StoredVersion | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    if (batch.length === 0) return;
    this.calls++;
    const ids = [...new Set(batch.map((w) => w.id))];
    this.fetch(ids).then(
      (found) => batch.forEach((w) => w.resolve(found.get(w.id))),
      (err) => batch.forEach((w) => w.reject(err)),
    );
  }
}

/**
 * True when the stored point was built from this very version by this very model. A point
 * without a recorded model counts as another model's: re-encoding it is the safe side.
 */
export function isUnchanged(stored: StoredVersion | undefined, version: string, model: string): boolean {
  return stored !== undefined && stored.contentHash === version && stored.model === model;
}
