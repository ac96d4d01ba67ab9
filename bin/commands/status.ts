import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openQueues, QUEUE_NAMES, type QueueContext, type RunRecord } from '../../shared/queue/index.ts';

interface StatusCliOptions {
  json?: boolean;
  limit: string;
  failures: string;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('ingest runs and queue depths (needs REDIS_URL): counts, state and failures of a run')
    .argument('[run]', 'a run id (as printed by `clipstream ingest`); without it, the recent runs')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'runs to list', '20')
    .option('--failures <n>', 'failures to show for one run', '50')
    .addHelpText('after', '\nExamples:\n  clipstream status\n  clipstream status 20260127T025009Z-3fa9c1 --json')
    .action(async (runId: string | undefined, opts: StatusCliOptions) => {
      const cfg = config();
      if (!cfg.queue.redisUrl) throw new ClipstreamError('CONFIG_INVALID', 'REDIS_URL is not set: runs are recorded in Redis (in-process runs print their summary when they end)');
      const ctx = await openQueues(cfg.queue, { connectionName: 'clipstream-status' });
      try {
        const queues = await queueDepths(ctx);
        if (runId) {
          const run = await ctx.runs.readRun(runId, { failures: Number(opts.failures) || 50 });
          if (!run) throw new ClipstreamError('NOT_FOUND', `no run ${runId} in ${cfg.queue.prefix} (runs are kept for the last 500 ingests)`);
          if (opts.json) process.stdout.write(JSON.stringify({ run, queues }, null, 2) + '\n');
          else process.stdout.write(describeRun(run) + '\n' + describeQueues(queues) + '\n');
          return;
        }
        const runs = await ctx.runs.listRuns(Number(opts.limit) || 20);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ runs, queues }, null, 2) + '\n');
          return;
        }
        if (runs.length === 0) process.stdout.write('no ingest runs yet\n');
        for (const run of runs) process.stdout.write(runLine(run) + '\n');
        process.stdout.write(describeQueues(queues) + '\n');
      } finally {
        await ctx.close();
      }
    });
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

function runLine(run: RunRecord): string {
  const t = totals(run);
  return `${run.id}  ${run.state.padEnd(10)}  queued ${t.enqueued}, done ${t.done}, unchanged ${t.skipped}, failed ${t.failed}  ${run.sources.join(' ')}`;
}

export function describeRun(run: RunRecord): string {
  const t = totals(run);
  const lines = [
    `run ${run.id}: ${run.state}`,
    `  sources:  ${run.sources.join(' ')}`,
    `  started:  ${run.startedAt}${run.producedAt ? `, listed ${run.producedAt}` : ''}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`,
    `  images:   queued ${run.counts.image.enqueued}, done ${run.counts.image.done}, unchanged ${run.counts.image.skipped}, failed ${run.counts.image.failed}`,
    `  texts:    queued ${run.counts.text.enqueued}, done ${run.counts.text.done}, unchanged ${run.counts.text.skipped}, failed ${run.counts.text.failed}`,
    `  source failures (bad lines, unreadable files): ${run.sourceFailures}`,
    `  pending:  ${Math.max(0, t.enqueued - t.done - (t.failed - run.sourceFailures))}`,
  ];
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
