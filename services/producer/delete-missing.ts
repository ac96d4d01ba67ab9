/** The deleting half of a sync: what the sources no longer list goes, behind the guards. */
import { withStoreRetry } from '../../shared/store/retry.ts';
import type { SyncCounts } from '../../shared/state/types.ts';
import type { SourcePass } from './listing.ts';
import type { ProgressListener } from './progress.ts';
import type { DeletePolicy, RunDeps } from './run-plan.ts';

/** Ids per delete request. */
const DELETE_CHUNK = 1000;

/**
 * Deletes, per source, the points of items the listing no longer has, unless the listing was
 * incomplete (then nothing of that source is deleted) or more than `maxShare` of the source's
 * points would go (the mass-delete guard: nothing of that source is deleted, and the run fails).
 */
export async function deleteMissing(
  policy: DeletePolicy,
  deps: RunDeps,
  collection: string,
  passes: readonly SourcePass[],
  sync: SyncCounts,
  listener: ProgressListener | undefined,
): Promise<{ guard?: string; incomplete?: string }> {
  const store = deps.store!;
  const guards: string[] = [];
  const incomplete: string[] = [];
  for (const pass of passes) {
    const holdings = pass.holdings ?? new Map();
    const gone = [...holdings.keys()].filter((id) => !pass.listed.has(id) && !pass.kept.has(id));
    if (gone.length === 0) continue;
    if (pass.unidentified.length > 0) {
      sync.deletionsHeldBack += gone.length;
      const e = pass.unidentified[0]!;
      incomplete.push(
        `${gone.length} deletion(s) in ${pass.spec.spec} held back: its listing was incomplete ` +
          `(${pass.unidentified.length} unreadable entr${pass.unidentified.length === 1 ? 'y' : 'ies'}, e.g. ${e.item}: ${e.reason}); fix the source and sync again`,
      );
      continue;
    }
    const share = gone.length / holdings.size;
    if (share > policy.maxShare && !policy.allowMassDelete) {
      sync.deletionsHeldBack += gone.length;
      guards.push(
        `the sync would delete ${gone.length} of the ${holdings.size} points of ${pass.spec.spec} (${(share * 100).toFixed(1)} %, over the ` +
          `${(policy.maxShare * 100).toFixed(0)} % allowed by SYNC_MAX_DELETE_SHARE), so nothing of it was deleted. ` +
          `If the source really lost that much, run the sync again with --allow-mass-delete`,
      );
      continue;
    }
    for (let i = 0; i < gone.length; i += DELETE_CHUNK) {
      const ids = gone.slice(i, i + DELETE_CHUNK);
      await withStoreRetry(() => store.client.delete(collection, { points: ids, wait: true }), {
        storeUrl: store.url,
        operation: `delete ${ids.length} point(s) from ${collection}`,
      });
      sync.deleted += ids.length;
    }
    listener?.notice?.(`${pass.spec.spec}: ${gone.length} point(s) of items gone from the source deleted`);
  }
  for (const line of [...guards, ...incomplete]) listener?.notice?.(line);
  return {
    ...(guards.length > 0 ? { guard: guards.join('; ') } : {}),
    ...(incomplete.length > 0 ? { incomplete: incomplete.join('; ') } : {}),
  };
}
