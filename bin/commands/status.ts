import type { Command } from 'commander';
import { config, type Config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openQueues, QUEUE_NAMES, type QueueContext } from '../../shared/queue/index.ts';
import { LocalState } from '../../shared/state/local.ts';
import type { RunLog, RunRecord } from '../../shared/state/types.ts';
import { describeSync } from '../../services/producer/progress.ts';
import { rebuildNeeded } from '../../shared/store/rebuild-check.ts';
import { connectStore } from '../../services/store-connect.ts';

interface StatusCliOptions {
  json?: boolean;
  limit: string;
  failures: string;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('runs (ingest, sync, rebuild) and queue depths: counts, outcome and failures of a run')
    .argument('[run]', 'a run id (as printed by `clipstream ingest` / `sync`); without it, the recent runs')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'runs to list', '20')
    .option('--failures <n>', 'failures to show for one run', '50')
    .addHelpText(
      'after',
      '\nWith REDIS_URL the runs are read from Redis (every producer and worker records there); without it\n' +
        'from DATA_DIR/state.db (embedded runs and schedules). It also says when the index needs a rebuild.\n\n' +
        'Examples:\n  clipstream status\n  clipstream status 20260127T025009Z-3fa9c1 --json',
    )
    .action(async (runId: string | undefined, opts: StatusCliOptions) => {
      const cfg = config();
      let ctx: QueueContext | undefined;
      let state: LocalState | undefined;
      try {
        let runs: RunLog;
        if (cfg.queue.redisUrl) {
          ctx = await openQueues(cfg.queue, { connectionName: 'clipstream-status' });
          runs = ctx.runs;
        } else {
          state = LocalState.open(cfg.store.dataDir);
          runs = state.runs;
        }
        const queues = ctx ? await queueDepths(ctx) : undefined;
        const rebuild = await rebuildNotice(cfg);
        if (runId) {
          const run = await runs.read(runId, { failures: Number(opts.failures) || 50 });
          if (!run) throw new ClipstreamError('NOT_FOUND', `no run ${runId} in ${ctx ? cfg.queue.prefix : `${cfg.store.dataDir}/state.db`} (the last 500 runs are kept)`);
          if (opts.json) process.stdout.write(JSON.stringify({ run, ...(queues ? { queues } : {}), ...(rebuild ? { rebuild_required: rebuild } : {}) }, null, 2) + '\n');
          else process.stdout.write([describeRun(run), queues ? describeQueues(queues) : '', rebuild ? `rebuild required: ${rebuild}` : ''].filter(Boolean).join('\n') + '\n');
          return;
        }
        const list = await runs.list(Number(opts.limit) || 20);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ runs: list, ...(queues ? { queues } : {}), ...(rebuild ? { rebuild_required: rebuild } : {}) }, null, 2) + '\n');
          return;
        }
        if (list.length === 0) process.stdout.write('no runs yet\n');
        for (const run of list) process.stdout.write(runLine(run) + '\n');
        if (queues) process.stdout.write(describeQueues(queues) + '\n');
        if (rebuild) process.stdout.write(`rebuild required: ${rebuild}\n`);
      } finally {
        await ctx?.close();
        state?.close();
      }
    });
}

/**
 * Why the index must be rebuilt, if it must. Nothing when the store cannot be reached or is held
 * by another process (the embedded store is one process's): status is about runs and still answers.
 */
async function rebuildNotice(cfg: Config): Promise<string | undefined> {
  if (!cfg.store.qdrantUrl && cfg.queue.redisUrl) return undefined;
  try {
    const store = await connectStore(cfg);
    try {
      return await rebuildNeeded(cfg, store);
    } finally {
      await store.close();
    }
  } catch {
    return undefined;
  }
}

type QueueDepths = Record<string, Record<string, number>>;

async function queueDepths(ctx: QueueContext): Promise<QueueDepths> {
  const out: QueueDepths = {};
  for (const [modality, name] of Object.entries(QUEUE_NAMES)) {
    const queue = modality === 'image' ? ctx.queues.image : ctx.queues.text;
    out[name] = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  }
  return out;
}

function totals(run: RunRecord) {
  const { image, text } = run.counts;
  return {
    enqueued: image.enqueued + text.enqueued,
    skipped: image.skipped + text.skipped,
    done: image.done + text.done,
    failed: image.failed + text.failed + run.sourceFailures,
  };
}

function stateOf(run: RunRecord): string {
  // Distributed work may go on after the producer ended (--no-wait): the work's state comes first.
  if (run.state !== 'finished') return run.state;
  return run.outcome ?? run.state;
}

function runLine(run: RunRecord): string {
  const t = totals(run);
  const sync = run.sync ? `, ${describeSync(run.sync)}` : '';
  return `${run.id}  ${stateOf(run).padEnd(11)} ${run.kind.padEnd(7)} queued ${t.enqueued}, done ${t.done}, unchanged ${t.skipped}, failed ${t.failed}${sync}  ${run.sources.join(' ')}`;
}

export function describeRun(run: RunRecord): string {
  const t = totals(run);
  const lines = [
    `run ${run.id}: ${run.kind}, ${stateOf(run)}${run.trigger && run.trigger !== 'cli' ? ` (${run.trigger})` : ''}`,
    `  sources:  ${run.sources.join(' ')}`,
    ...(run.collection ? [`  collection: ${run.collection}`] : []),
    `  started:  ${run.startedAt}${run.producedAt ? `, listed ${run.producedAt}` : ''}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}${run.endedAt ? `, ended ${run.endedAt}` : ''}`,
    `  images:   queued ${run.counts.image.enqueued}, done ${run.counts.image.done}, unchanged ${run.counts.image.skipped}, failed ${run.counts.image.failed}`,
    `  texts:    queued ${run.counts.text.enqueued}, done ${run.counts.text.done}, unchanged ${run.counts.text.skipped}, failed ${run.counts.text.failed}`,
    `  source failures (bad lines, unreadable files): ${run.sourceFailures}`,
    `  pending:  ${Math.max(0, t.enqueued - t.done - (t.failed - run.sourceFailures))}`,
  ];
  if (run.sync) lines.push(`  sync:     ${describeSync(run.sync)}`);
  if (run.error) lines.push(`  ${run.outcome === 'failed' ? 'error' : 'note'}:    ${run.error}`);
  if (run.failures.length > 0) {
    lines.push(`  failures (newest first${t.failed > run.failures.length ? `, ${run.failures.length} of ${t.failed}` : ''}):`);
    for (const f of run.failures) lines.push(`    ${f.item}: ${f.code}: ${f.reason}`);
  }
  return lines.join('\n');
}

function describeQueues(q: QueueDepths): string {
  return Object.entries(q)
    .map(([name, c]) => `${name}: ${c.waiting ?? 0} waiting, ${c.active ?? 0} active, ${c.delayed ?? 0} delayed (retrying), ${c.failed ?? 0} failed (dead letters)`)
    .join('\n');
}
