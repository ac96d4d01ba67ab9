/**
 * The listing half of a run: each source is read, every item compared with what the store holds,
 * and new or changed items handed to the work queue; unchanged ones are only counted.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { isItemFailure, isUnchanged, type PipelineStore } from '../../shared/pipeline/index.ts';
import { sourceRootOf, type SourceSpec } from '../../shared/sources/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { withStoreRetry } from '../../shared/store/retry.ts';
import { sourceHoldings, storedVersions, type StoredVersion } from '../../shared/store/versions.ts';
import type { SyncCounts } from '../../shared/state/types.ts';
import { ReadAhead } from './read-ahead.ts';
import type { RunDeps, RunPlan } from './run-plan.ts';
import { catalogueEntries, type IngestSourceOptions } from './sources.ts';
import type { QueuedRun } from './work-queue.ts';

/** Items per store lookup and per hand-over to the queue. */
const CHUNK = 256;

export interface SourcePass {
  spec: SourceSpec;
  root: string;
  /** What the index held for this source before the run (sync only). */
  holdings?: Map<string, StoredVersion>;
  listed: Set<string>;
  /** Points of items that failed this time: still in the source, so not deleted. */
  kept: Set<string>;
  /** Failures that name no item (a bad line, an unreadable file): the listing is incomplete. */
  unidentified: ItemFailure[];
}

/** An item with its point id, computed once (a UUIDv5 is a SHA-1). */
interface ListedItem {
  item: CatalogueItem;
  id: string;
}

export interface Listing {
  passes: SourcePass[];
  lastOfDuplicates: CatalogueItem[];
}

/** Lists every source, hands new and changed items to the queue, counts the rest. */
export async function listAndSubmit(
  config: Config,
  plan: RunPlan,
  deps: RunDeps,
  run: QueuedRun,
  ctx: { collection: string | undefined; model: string; sourceOptions: IngestSourceOptions },
  sync: SyncCounts | undefined,
): Promise<Listing> {
  const { queue, store } = deps;
  const { tracker, listener, signal } = run;
  const sourceOptions = ctx.sourceOptions;
  const seen = new Map<string, string>();
  const lastOf = new Map<string, CatalogueItem>();
  const passes: SourcePass[] = [];
  const lookup = store && ctx.collection && !plan.force ? { client: store.client, url: store.url, collection: ctx.collection } : undefined;

  for (const spec of plan.sources) {
    const pass: SourcePass = { spec, root: sourceRootOf(spec), listed: new Set(), kept: new Set(), unidentified: [] };
    passes.push(pass);
    if (plan.deleteMissing) {
      // No collection yet (a first distributed run, before any worker made one): nothing is held.
      pass.holdings = ctx.collection ? await sourceHoldings(store!.client, ctx.collection, pass.root, { storeUrl: store!.url }) : new Map();
    }

    const decide = async (chunk: ListedItem[]) => {
      const fresh: CatalogueItem[] = [];
      const unchanged: CatalogueItem[] = [];
      const adopt: string[] = [];
      let found: Map<string, StoredVersion> | undefined;
      // What the source made before is known; only the rest needs a lookup (adopted or moved points).
      const unknown: string[] = [];
      for (const { id } of chunk) if (!pass.holdings?.has(id)) unknown.push(id);
      if (lookup && unknown.length > 0) found = await storedVersions(lookup.client, lookup.collection, unknown, { storeUrl: lookup.url });
      for (const { item, id } of chunk) {
        const held = pass.holdings?.get(id);
        const stored = held ?? found?.get(id);
        if (!plan.force && lookup && isUnchanged(stored, item.version, ctx.model)) {
          unchanged.push(item);
          if (stored?.sourceRoot !== pass.root) adopt.push(id);
          continue;
        }
        fresh.push(item);
        if (sync) {
          if (stored) sync.changed++;
          else sync.added++;
        }
      }
      if (sync) sync.unchanged += unchanged.length;
      if (adopt.length > 0) await adoptPoints(lookup!, adopt, pass.root);
      if (unchanged.length > 0) await queue.countUnchanged(run, unchanged);
      // Checked against the store just now (or forced): the encoder side need not look again.
      if (fresh.length > 0) await queue.submit(run, fresh, lookup !== undefined || plan.force === true);
    };

    const entries = plan.entries?.(spec) ?? catalogueEntries(config, [spec], { ...sourceOptions, signal });
    const reader = new ReadAhead<CatalogueItem | ItemFailure>(entries, 10_000, () => tracker.total++);
    const onAbort = () => reader.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    let chunk: ListedItem[] = [];
    try {
      for await (const entry of reader) {
        if (signal?.aborted) break;
        if (isItemFailure(entry)) {
          // A failure that names its item keeps that item's point; one that names a line or a
          // file means the listing is incomplete, and nothing of this source may be deleted.
          if (entry.sourceUri) pass.kept.add(pointId(entry.sourceUri));
          else pass.unidentified.push(entry);
          await queue.countSourceFailure(run, entry);
          continue;
        }
        const id = pointId(entry.sourceUri);
        pass.listed.add(id);
        const before = seen.get(id);
        if (before !== undefined) {
          if (sync) sync.duplicates++;
          // Not a distinct item: the total counts each id once.
          tracker.total--;
          listener?.notice?.(`${entry.sourceUri} is listed more than once in ${spec.spec}: the last one wins`);
          if (before !== entry.version) lastOf.set(id, entry);
          else lastOf.delete(id);
          continue;
        }
        seen.set(id, entry.version);
        chunk.push({ item: entry, id });
        // Flush full chunks, and partial ones whenever listing is slower than queueing.
        if (chunk.length >= CHUNK || reader.buffered === 0) {
          await decide(chunk);
          chunk = [];
        }
      }
      if (chunk.length > 0 && !signal?.aborted) await decide(chunk);
    } finally {
      reader.stop();
      signal?.removeEventListener('abort', onAbort);
    }
  }
  tracker.listing = false;
  // Each last occurrence is written once more, after the first has settled.
  tracker.total += lastOf.size;
  return { passes, lastOfDuplicates: [...lastOf.values()] };
}

async function adoptPoints(lookup: { client: PipelineStore['client']; url: string; collection: string }, ids: string[], root: string): Promise<void> {
  await withStoreRetry(() => lookup.client.setPayload(lookup.collection, { points: ids, payload: { source_root: root }, wait: true }), {
    storeUrl: lookup.url,
    operation: `set source_root of ${ids.length} point(s) in ${lookup.collection}`,
  });
}
