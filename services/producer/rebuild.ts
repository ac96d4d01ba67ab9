/**
 * Zero-downtime re-indexing. Searches always go through the alias; a rebuild fills the next
 * collection version beside the live one and switches the alias to it in one atomic
 * `update_aliases` call, only after checking it:
 *
 *   1. create `<alias>_v<N+1>` with the configured model, dims and schema (marked `building`),
 *      or resume the half-built one a crashed rebuild left (if it still matches the settings);
 *   2. fill it: a sync of every source into it (unchanged points of a resumed version are kept);
 *   3. a final sync pass into it right before the swap, so changes made to the sources while it
 *      was filling reach it (the live collection was kept current by scheduled syncs meanwhile);
 *   4. check it: its point count against the sources' listing (within the failed items), and a
 *      fixed sample of its own points each found by a coarse-to-fine query;
 *   5. mark it built, swap the alias, drop versions beyond REBUILD_KEEP_VERSIONS.
 *
 * `rollback` points the alias back at the newest built version older than the live one.
 */
import type { Config } from '../../shared/config/index.ts';
import { ClipstreamError, describeError } from '../../shared/errors.ts';
import { newRunId } from '../../shared/queue/runs.ts';
import { coarseToFineSearch, sortedDims, storedStageVectors } from '../../shared/store/coarse-to-fine.ts';
import { dropCollection, listVersions, markBuilt, versionOf, type CollectionVersion } from '../../shared/store/collection-versions.ts';
import { withStoreRetry } from '../../shared/store/retry.ts';
import { collectionVersionName, createCollectionVersion, resolveAlias, schemaDifferences, switchAlias } from '../../shared/store/schema.ts';
import { registeredSources } from '../../shared/store/source-registry.ts';
import { isLease, type Lease } from '../../shared/state/types.ts';
import type { PipelineStore } from '../../shared/pipeline/index.ts';
import type { IngestOptions } from './ingest.ts';
import { openWorkQueue } from './open-queue.ts';
import { collectionSpec, composeRun } from './run.ts';
import type { RunSummary } from './run-plan.ts';
import { parseSources, type SourceSelection } from './sources.ts';
import type { WorkQueue } from './work-queue.ts';

/** Points whose own vector must find them again, in the check before the swap. */
const CHECK_SAMPLE = 5;

export interface RebuildOptions extends Omit<IngestOptions, 'collection' | 'resume'> {
  /** Abandon a half-built version a crashed rebuild left instead of resuming it. */
  restart?: boolean | undefined;
  /** `--allow-mass-delete` for the final sync pass. */
  allowMassDelete?: boolean | undefined;
  /** Called between the fill and the final sync pass (tests: changes made while a rebuild runs). */
  afterFill?: ((collection: string) => Promise<void> | void) | undefined;
}

export interface RebuildSummary {
  runId: string;
  alias: string;
  /** What the alias led to before (undefined: there was nothing yet). */
  previous?: string;
  collection: string;
  resumed: boolean;
  points: number;
  passes: RunSummary[];
  dropped: string[];
  outcome: 'succeeded' | 'failed' | 'interrupted';
  error?: string;
}

interface SourceToBuild {
  spec: string;
  selection?: SourceSelection;
}

export async function runRebuild(config: Config, sources: readonly string[], options: RebuildOptions = {}): Promise<RebuildSummary> {
  const notice = (line: string) => options.listener?.notice?.(line);
  const explicit = parseSources(sources, options.cwd);
  const opened = await openWorkQueue(config, { ...options, notice });
  const { queue } = opened;
  const store = opened.store;
  try {
    if (!store) throw new ClipstreamError('CONFIG_INVALID', 'a rebuild creates and checks collections and needs to reach the store: set QDRANT_URL');
    const alias = config.store.collection;
    const lease = await queue.locks.acquire(`rebuild|${alias}`, { holder: 'a rebuild', leaseMs: config.runs.leaseMs });
    if (!isLease(lease)) throw new ClipstreamError('RUN_LOCKED', `alias ${alias} is being rebuilt or rolled back by ${lease.heldBy}; try again when it has ended`);
    const runId = options.runId ?? newRunId();
    try {
      const live = await resolveAlias(store.client, alias, { storeUrl: store.url });
      if (!live && (await exists(store, alias))) {
        throw new ClipstreamError('BAD_REQUEST', `${alias} is a collection, not an alias: a rebuild switches an alias (rename the collection or set QDRANT_COLLECTION to another name)`);
      }
      const toBuild: SourceToBuild[] = explicit.length > 0
        ? explicit.map((s) => ({ spec: s.spec, ...(options.selection ? { selection: options.selection } : {}) }))
        : live
          ? (await registeredSources(store.client, live, { storeUrl: store.url })).map((r) => ({ spec: r.spec, ...(r.selection ? { selection: r.selection } : {}) }))
          : [];
      if (toBuild.length === 0) {
        throw new ClipstreamError('BAD_REQUEST', `no sources to rebuild ${alias} from: ${live ? `${live} has none registered` : 'nothing is indexed yet'}; name them (clipstream rebuild SOURCE…)`);
      }
      await queue.runs.create({ id: runId, kind: 'rebuild', sources: toBuild.map((s) => s.spec), trigger: options.trigger ?? 'cli' });
      try {
        const summary = await rebuild(config, { queue, store }, { alias, live, toBuild, runId, options, lease });
        await queue.runs.finish(runId, {
          outcome: summary.outcome,
          ...(summary.error ? { error: summary.error } : {}),
        });
        return summary;
      } catch (err) {
        await queue.runs.finish(runId, { outcome: 'failed', error: describeError(err) }).catch(() => {});
        throw err;
      }
    } finally {
      await lease.release();
    }
  } finally {
    await opened.close();
  }
}

async function rebuild(
  config: Config,
  deps: { queue: WorkQueue; store: PipelineStore },
  ctx: { alias: string; live: string | undefined; toBuild: SourceToBuild[]; runId: string; options: RebuildOptions; lease: Lease },
): Promise<RebuildSummary> {
  const { queue, store } = deps;
  const { alias, live, options } = ctx;
  const notice = (line: string) => options.listener?.notice?.(line);
  const storeOpts = { storeUrl: store.url };
  const spec = collectionSpec(config, queue.model);

  // 1. The next version, or the half-built one a crashed rebuild left.
  let versions = await listVersions(store.client, alias, storeOpts);
  let next: CollectionVersion | undefined = versions.find((v) => v.building && v.name !== live);
  let resumed = false;
  if (next) {
    const info = await store.client.getCollection(next.name);
    const differs = schemaDifferences(spec, info).filter((p) => !/payload field/.test(p));
    if (options.restart || differs.length > 0) {
      notice(`abandoning the half-built ${next.name}${differs.length > 0 ? ` (${differs.join('; ')})` : ''}`);
      await dropCollection(store.client, next.name, storeOpts);
      next = undefined;
      versions = await listVersions(store.client, alias, storeOpts);
    } else {
      resumed = true;
      notice(`resuming the half-built ${next.name} (what it holds unchanged is kept)`);
    }
  }
  const name = next?.name ?? collectionVersionName(alias, Math.max(0, ...versions.map((v) => v.version)) + 1);
  if (!next) {
    await createCollectionVersion(store.client, spec, name, { ...storeOpts, metadata: { rebuild_state: 'building', rebuild_run: ctx.runId } });
    notice(`building ${name} beside ${live ?? '(nothing yet)'} with ${spec.model}, dims ${spec.dims.join('/')}`);
  }

  // 2 + 3. Fill it, then catch up on what changed meanwhile.
  const passes: RunSummary[] = [];
  for (const pass of ['fill', 'final sync'] as const) {
    if (pass === 'final sync') await options.afterFill?.(name);
    for (const source of ctx.toBuild) {
      const summary = await composeRun(
        config,
        {
          kind: 'sync',
          sources: parseSources([source.spec], options.cwd),
          ...(source.selection ? { selection: source.selection } : {}),
          ...(options.sources ? { sourceOptions: options.sources } : {}),
          collection: name,
          // Filling a new version deletes nothing that matters; stale points of a resumed one may go.
          deleteMissing: { maxShare: config.runs.maxDeleteShare, allowMassDelete: pass === 'fill' || options.allowMassDelete === true },
          force: options.force,
          trigger: `rebuild:${ctx.runId}`,
          signal: options.signal,
          listener: options.listener,
        },
        deps,
      );
      passes.push(summary);
      if (summary.outcome !== 'succeeded') {
        return { runId: ctx.runId, alias, ...(live ? { previous: live } : {}), collection: name, resumed, points: 0, passes, dropped: [], outcome: summary.outcome === 'interrupted' ? 'interrupted' : 'failed', error: `${pass} pass of ${source.spec}: ${summary.error ?? summary.outcome}; the alias stays on ${live ?? '(nothing)'}` };
      }
    }
  }
  if (ctx.lease.lost) throw new ClipstreamError('RUN_LOCKED', 'the rebuild lost its lease on the alias; the alias was not switched');

  // 4. Check it before anything is switched.
  const finals = passes.slice(-ctx.toBuild.length);
  const points = await countPoints(store, name);
  const problems = await checkVersion(store, name, config.encoder.dims, points, finals);
  if (problems.length > 0) {
    return { runId: ctx.runId, alias, ...(live ? { previous: live } : {}), collection: name, resumed, points, passes, dropped: [], outcome: 'failed', error: `${name} failed its checks, the alias stays on ${live ?? '(nothing)'}: ${problems.join('; ')}` };
  }

  // 5. Swap, then keep what rollback needs.
  await markBuilt(store.client, name, storeOpts);
  await switchAlias(store.client, alias, name, storeOpts);
  notice(`alias ${alias} → ${name} (${points} points)${live ? `; ${live} kept for \`clipstream rollback\`` : ''}`);
  const dropped = await dropBeyond(store, alias, name, config.runs.keepVersions);
  for (const d of dropped) notice(`dropped ${d} (REBUILD_KEEP_VERSIONS=${config.runs.keepVersions})`);
  return { runId: ctx.runId, alias, ...(live ? { previous: live } : {}), collection: name, resumed, points, passes, dropped, outcome: 'succeeded' };
}

async function countPoints(store: PipelineStore, collection: string): Promise<number> {
  const r = await withStoreRetry(() => store.client.count(collection, { exact: true }), { storeUrl: store.url, operation: `count ${collection}` });
  return r.count;
}

/**
 * What is wrong with a filled version: fewer points than the sources listed minus the items
 * that failed, more than they listed, or sample points their own vector does not find.
 */
async function checkVersion(store: PipelineStore, collection: string, dims: readonly number[], points: number, finals: readonly RunSummary[]): Promise<string[]> {
  const problems: string[] = [];
  const stored = finals.reduce((n, s) => n + s.indexed + s.skipped, 0);
  const listed = finals.reduce((n, s) => n + s.total, 0);
  if (points < stored) problems.push(`it holds ${points} points, but ${stored} items were stored or unchanged`);
  if (points > listed) problems.push(`it holds ${points} points, more than the ${listed} entries the sources list`);
  const page = await store.client.scroll(collection, { limit: CHECK_SAMPLE, with_payload: false, with_vector: false });
  const target = { client: store.client, collection, dims: sortedDims(dims) };
  for (const p of page.points) {
    const id = String(p.id);
    const vectors = await storedStageVectors(target, id);
    const hits = await coarseToFineSearch(target, { vector: vectors.get(target.dims.at(-1)!)!, limit: 5, withPayload: false });
    if (!hits.some((h) => String(h.id) === id)) problems.push(`a coarse-to-fine query with the vector of point ${id} does not find it (${hits.length} hits)`);
  }
  if (points > 0 && page.points.length === 0) problems.push('no point could be read back');
  return problems;
}

/** Drops built versions beyond `keep` (the live one included), oldest first; never the live one. */
async function dropBeyond(store: PipelineStore, alias: string, live: string, keep: number): Promise<string[]> {
  const built = (await listVersions(store.client, alias, { storeUrl: store.url })).filter((v) => !v.building);
  const liveVersion = built.find((v) => v.name === live)?.version ?? Number.POSITIVE_INFINITY;
  // Versions newer than the live one (left by a rollback) are kept too: they are a roll-forward.
  const older = built.filter((v) => v.version < liveVersion).sort((a, b) => b.version - a.version);
  const dropped: string[] = [];
  for (const v of older.slice(Math.max(0, keep - 1))) {
    await dropCollection(store.client, v.name, { storeUrl: store.url });
    dropped.push(v.name);
  }
  return dropped;
}

async function exists(store: PipelineStore, name: string): Promise<boolean> {
  const { collections } = await store.client.getCollections();
  return collections.some((c) => c.name === name);
}

export interface RollbackResult {
  alias: string;
  from: string;
  to: string;
}

/**
 * Points the alias at the newest built version older than the live one, or at `to`. The newer
 * version is kept, so a rollback can itself be undone (`rollback --to <it>`).
 */
export async function rollback(config: Config, store: PipelineStore, queue: Pick<WorkQueue, 'locks'>, to?: string): Promise<RollbackResult> {
  const alias = config.store.collection;
  const lease = await queue.locks.acquire(`rebuild|${alias}`, { holder: 'a rollback', leaseMs: config.runs.leaseMs });
  if (!isLease(lease)) throw new ClipstreamError('RUN_LOCKED', `alias ${alias} is being rebuilt by ${lease.heldBy}; roll back once it has ended`);
  try {
    const live = await resolveAlias(store.client, alias, { storeUrl: store.url });
    if (!live) throw new ClipstreamError('NOT_FOUND', `there is no alias ${alias} to roll back`);
    const versions = (await listVersions(store.client, alias, { storeUrl: store.url })).filter((v) => !v.building && v.name !== live);
    const liveVersion = versionOf(alias, live) ?? Number.POSITIVE_INFINITY;
    const target = to ? versions.find((v) => v.name === to) : versions.filter((v) => v.version < liveVersion).at(-1);
    if (!target) {
      throw new ClipstreamError('NOT_FOUND', to ? `${to} is not a built version of ${alias} (see clipstream collections)` : `no built version of ${alias} older than ${live} is kept (REBUILD_KEEP_VERSIONS=${config.runs.keepVersions})`);
    }
    // The query service encodes with the configured dims: a version with other vectors cannot be served.
    const problems = schemaDifferences(collectionSpec(config, target.model ?? ''), await store.client.getCollection(target.name)).filter((p) => /^(unexpected )?vector /.test(p));
    if (problems.length > 0) throw new ClipstreamError('STORE_SCHEMA_MISMATCH', `${target.name} does not fit the configured MRL_DIMS: ${problems.join('; ')}`);
    await switchAlias(store.client, alias, target.name, { storeUrl: store.url });
    return { alias, from: live, to: target.name };
  } finally {
    await lease.release();
  }
}
