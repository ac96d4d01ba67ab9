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
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError, describeError, isClipstreamError } from '../../shared/errors.ts';
import { newRunId } from '../../shared/queue/runs.ts';
import { sourceRootOf } from '../../shared/sources/index.ts';
import { collectionMetadata, ensureCollection, lexicalSignature, resolveAlias, verifyCollection, type CollectionSpec } from '../../shared/store/schema.ts';
import { registerSources } from '../../shared/store/source-registry.ts';
import { acquireAll, type Lease, type RunOutcome, type SyncCounts } from '../../shared/state/types.ts';
import { deleteMissing } from './delete-missing.ts';
import { listAndSubmit, type SourcePass } from './listing.ts';
import { ProgressTracker } from './progress.ts';
import type { RunDeps, RunPlan, RunSummary } from './run-plan.ts';
import { compactSelection, selectionOptions, type IngestSourceOptions } from './sources.ts';
import type { QueuedRun, WorkQueue } from './work-queue.ts';

/** Times a run lists again after Redis lost its state (with `resume`). */
const MAX_RESUMES = 3;

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
