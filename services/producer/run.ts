/**
 * `composeRun`: the one place a run is assembled, for `clipstream ingest`, `clipstream sync`,
 * each pass of a rebuild, and the scheduler alike. The modes differ only in the work queue it
 * is handed (work-queue.ts):
 *
 *   sources ──list──▶ compare with the store ──new/changed──▶ work queue ──▶ encoder ──▶ store
 *                      (what the source made before,         (in-process      (the collection the
 *                       or a batched version lookup)          or BullMQ)        run writes to)
 *                          │
 *                          └─ sync: what the source no longer lists ──guard──▶ deleted
 *
 * Unchanged items are neither queued nor encoded. Each source of the run is leased (one run per
 * source and collection at a time), registered in the collection's metadata, and the run leaves a
 * record (start, end, counts, failures) for `clipstream status`.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError, describeError, isClipstreamError } from '../../shared/errors.ts';
import { isItemFailure, isUnchanged, type PipelineStore } from '../../shared/pipeline/index.ts';
import { newRunId } from '../../shared/queue/runs.ts';
import { sourceRootOf, type SourceSpec } from '../../shared/sources/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { withStoreRetry } from '../../shared/store/retry.ts';
import { collectionMetadata, ensureCollection, lexicalSignature, resolveAlias, verifyCollection, type CollectionSpec } from '../../shared/store/schema.ts';
import { registerSources } from '../../shared/store/source-registry.ts';
import { sourceHoldings, storedVersions, type StoredVersion } from '../../shared/store/versions.ts';
import { acquireAll, type Lease, type RunKind, type RunOutcome, type SyncCounts } from '../../shared/state/types.ts';
import { ProgressTracker, type IngestSummary, type ProgressListener } from './progress.ts';
import { ReadAhead } from './read-ahead.ts';
import { catalogueEntries, compactSelection, selectionOptions, type IngestSourceOptions, type SourceSelection } from './sources.ts';
import type { QueuedRun, WorkQueue } from './work-queue.ts';

/** Items per store lookup and per hand-over to the queue. */
const CHUNK = 256;
/** Ids per delete request. */
const DELETE_CHUNK = 1000;
/** Times a run lists again after Redis lost its state (with `resume`). */
const MAX_RESUMES = 3;

export interface DeletePolicy {
  /** Largest share of a source's points one sync may delete (SYNC_MAX_DELETE_SHARE). */
  maxShare: number;
  /** `--allow-mass-delete`: delete even beyond the share. */
  allowMassDelete: boolean;
}

export interface RunPlan {
  kind: RunKind;
  sources: readonly SourceSpec[];
  /** Include/exclude globs, product id rule, dataset — as the flags said them (stored with the source). */
  selection?: SourceSelection | undefined;
  /** Parsed options the flags cannot express (tests); merged over `selection`'s. */
  sourceOptions?: IngestSourceOptions | undefined;
  /** The physical collection to fill; default: the one behind the alias (created if there is none). */
  collection?: string | undefined;
  /** Sync: delete the points of what the sources no longer list. */
  deleteMissing?: DeletePolicy | undefined;
  /** Re-encode even what the store holds unchanged. */
  force?: boolean | undefined;
  /** `cli`, `schedule:<id>`, `rebuild:<run id>`. */
  trigger?: string | undefined;
  runId?: string | undefined;
  signal?: AbortSignal | undefined;
  listener?: ProgressListener | undefined;
  /** Distributed: when Redis loses the run's state, list again and queue what the store lacks. */
  resume?: boolean | undefined;
  /** How long a source's lease outlives a crashed run (RUN_LEASE_MS). */
  leaseMs?: number | undefined;
  /** Replaces the listing of a source (tests, benchmarks). */
  entries?: ((spec: SourceSpec) => AsyncIterable<CatalogueItem | ItemFailure>) | undefined;
}

export interface RunDeps {
  queue: WorkQueue;
  /** Needed for everything but a distributed ingest without QDRANT_URL (whose workers check versions). */
  store?: PipelineStore | undefined;
}

export interface RunSummary extends IngestSummary {
  kind: RunKind;
  collection?: string;
  outcome: RunOutcome;
  /** Why it failed, or what it held back. */
  error?: string;
  sync?: SyncCounts;
}

interface SourcePass {
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

export function collectionSpec(config: Config, model: string, dims: readonly number[] = config.encoder.dims): CollectionSpec {
  return { alias: config.store.collection, dims, model, payloadIndexes: config.store.payloadIndexes, lexical: lexicalSignature(config) };
}

export async function composeRun(config: Config, plan: RunPlan, deps: RunDeps): Promise<RunSummary> {
  const { queue, store } = deps;
  const runId = plan.runId ?? newRunId();
  const listener = plan.listener;
  const notice = (line: string) => listener?.notice?.(line);
  if (plan.deleteMissing && !store) {
    throw new ClipstreamError('CONFIG_INVALID', 'a sync compares the sources with the store and needs to reach it: set QDRANT_URL');
  }
  // Parsed before anything is locked or recorded: a bad --product-id regex fails the command at once.
  const sourceOptions = { ...selectionOptions(plan.selection), ...plan.sourceOptions };
  const target = await resolveTarget(config, plan, deps);
  const model = target.model ?? queue.model;

  const leases = await acquireAll(
    queue.locks,
    plan.sources.map((s) => `${target.collection ?? config.store.collection}|${sourceRootOf(s)}`),
    { holder: `${plan.kind} run ${runId}`, leaseMs: plan.leaseMs ?? config.runs.leaseMs },
  );
  if (!Array.isArray(leases)) {
    throw new ClipstreamError('RUN_LOCKED', `${leases.key.split('|')[1]} is in use by ${leases.heldBy} (one run per source at a time); try again when it has ended`);
  }
  const register = async (collection: string) => {
    const selection = compactSelection(plan.selection);
    await registerSources(
      store!.client,
      collection,
      plan.sources.map((s) => ({ root: sourceRootOf(s), spec: 'path' in s ? s.path : s.spec, ...(Object.keys(selection).length ? { selection } : {}), registeredAt: new Date().toISOString() })),
      { storeUrl: store!.url },
    );
  };
  try {
    if (store && target.collection) await register(target.collection);
    await queue.runs.create({ id: runId, kind: plan.kind, sources: plan.sources.map((s) => s.spec), collection: target.collection, trigger: plan.trigger ?? 'cli' });
    notice(
      `run ${runId}: ${plan.kind} ${queue.mode === 'distributed' ? `queued for the workers (${config.queue.prefix})` : 'in this process'}` +
        (target.collection ? ` into ${target.collection}` : ''),
    );
    const summary = await execute(config, plan, deps, { runId, collection: target.collection, model, leases, sourceOptions });
    if (store && !target.collection) {
      // The first worker made the collection meanwhile: register the sources now that it exists.
      const made = await resolveAlias(store.client, config.store.collection, { storeUrl: store.url });
      if (made) await register(made);
    }
    return summary;
  } finally {
    await Promise.all(leases.map((l) => l.release()));
  }
}

interface Target {
  collection?: string | undefined;
  /** The model the target's points are encoded with (its metadata); what "unchanged" compares. */
  model?: string | undefined;
}

/**
 * The physical collection the run writes to, checked against the configuration: a stored model,
 * dims or schema version other than the configured ones means a rebuild, not a write.
 */
async function resolveTarget(config: Config, plan: RunPlan, deps: RunDeps): Promise<Target> {
  const { queue, store } = deps;
  if (!store) return {};
  const spec = collectionSpec(config, queue.model);
  const opts = { storeUrl: store.url };
  if (plan.collection) {
    await verifyCollection(store.client, spec, plan.collection, opts);
    return { collection: plan.collection, model: (await collectionMetadata(store.client, plan.collection, opts))?.model };
  }
  if (queue.mode === 'distributed') {
    // Only a worker knows its model for sure: the producer leaves creating the first collection to it.
    const behind = await resolveAlias(store.client, spec.alias, opts);
    if (!behind) return {};
    await verifyCollection(store.client, spec, behind, opts);
    return { collection: behind, model: (await collectionMetadata(store.client, behind, opts))?.model };
  }
  const ensured = await ensureCollection(store.client, spec, opts);
  return { collection: ensured.collection, model: queue.model };
}

async function execute(
  config: Config,
  plan: RunPlan,
  deps: RunDeps,
  ctx: { runId: string; collection: string | undefined; model: string; leases: Lease[]; sourceOptions: IngestSourceOptions },
): Promise<RunSummary> {
  const { queue } = deps;
  const newTracker = () => {
    const t = new ProgressTracker(ctx.runId, queue.mode);
    if (queue.mode === 'distributed') t.enqueued = 0;
    return t;
  };
  const run: QueuedRun = { id: ctx.runId, collection: ctx.collection, tracker: newTracker(), listener: plan.listener, signal: plan.signal };
  const emit = () => plan.listener?.progress?.(run.tracker.snapshot());
  const ticker = setInterval(emit, 250);
  const sync: SyncCounts | undefined = plan.deleteMissing ? emptySync() : undefined;
  let outcome: RunOutcome = 'succeeded';
  let error: string | undefined;
  let interrupted: boolean;
  try {
    let passes: SourcePass[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        const listing = await listAndSubmit(config, plan, deps, run, ctx, sync);
        passes = listing.passes;
        interrupted = await queue.settle(run);
        if (!interrupted && listing.lastOfDuplicates.length > 0) {
          // Ids listed twice: the last occurrence wins, written after the first has settled.
          await queue.submit(run, listing.lastOfDuplicates, false);
          interrupted = await queue.settle(run);
        }
        break;
      } catch (err) {
        if (!(plan.resume && isClipstreamError(err, 'QUEUE_STATE_LOST') && attempt < MAX_RESUMES)) throw err;
        plan.listener?.notice?.(`${describeError(err)}\n--resume: listing again and queueing what the store lacks`);
        // The run starts over under the same id: its record, counts and sync figures from scratch.
        await queue.runs.create({ id: ctx.runId, kind: plan.kind, sources: plan.sources.map((s) => s.spec), collection: ctx.collection, trigger: plan.trigger ?? 'cli' });
        run.tracker = newTracker();
        if (sync) Object.assign(sync, emptySync());
      }
    }
    if (ctx.leases.some((l) => l.lost)) throw new ClipstreamError('RUN_LOCKED', 'this run lost its lease on a source (the state store was unreachable for longer than RUN_LEASE_MS): nothing was deleted');
    if (plan.deleteMissing && sync && !interrupted) {
      const held = await deleteMissing(plan.deleteMissing, deps, ctx.collection!, passes, sync, plan.listener);
      if (held.guard) {
        outcome = 'failed';
        error = held.guard;
      } else if (held.incomplete) {
        error = held.incomplete;
      }
    }
    if (interrupted) outcome = 'interrupted';
  } catch (err) {
    outcome = 'failed';
    error = describeError(err);
    // Items already handed over still settle (and get counted) before the run is recorded.
    if (!isClipstreamError(err, 'QUEUE_STATE_LOST')) await queue.settle(run).catch(() => false);
    await record(queue, ctx.runId, run.tracker, outcome, error, sync);
    clearInterval(ticker);
    throw err;
  }
  clearInterval(ticker);
  emit();
  await record(queue, ctx.runId, run.tracker, outcome, error, sync);
  return {
    ...run.tracker.summary({ interrupted, model: ctx.model, ...(deps.store ? { store: deps.store.url } : {}) }),
    kind: plan.kind,
    ...(ctx.collection ? { collection: ctx.collection } : {}),
    outcome,
    ...(error ? { error } : {}),
    ...(sync ? { sync } : {}),
  };
}

function emptySync(): SyncCounts {
  return { added: 0, changed: 0, deleted: 0, unchanged: 0, deletionsHeldBack: 0, duplicates: 0 };
}

async function record(queue: WorkQueue, runId: string, tracker: ProgressTracker, outcome: RunOutcome, error: string | undefined, sync: SyncCounts | undefined): Promise<void> {
  await queue.runs
    .finish(runId, {
      outcome,
      ...(error ? { error } : {}),
      ...(sync ? { sync } : {}),
      // The distributed record was counted by the workers as they went; the embedded one is written now.
      ...(queue.mode === 'embedded' ? { counts: tracker.counts, sourceFailures: tracker.sourceFailures, failures: tracker.failures } : {}),
    })
    .catch(() => {
      // Recording is best effort: losing the record must not turn a finished run into a failed one.
    });
}

/** An item with its point id, computed once (a UUIDv5 is a SHA-1). */
interface ListedItem {
  item: CatalogueItem;
  id: string;
}

interface Listing {
  passes: SourcePass[];
  lastOfDuplicates: CatalogueItem[];
}

/** Lists every source, hands new and changed items to the queue, counts the rest. */
async function listAndSubmit(
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

/**
 * Deletes, per source, the points of items the listing no longer has, unless the listing was
 * incomplete (then nothing of that source is deleted) or more than `maxShare` of the source's
 * points would go (the mass-delete guard: nothing of that source is deleted, and the run fails).
 */
async function deleteMissing(
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
