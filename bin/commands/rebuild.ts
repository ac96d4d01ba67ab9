import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { listVersions } from '../../shared/store/collection-versions.ts';
import { resolveAlias } from '../../shared/store/schema.ts';
import { openLocks } from '../../services/producer/open-queue.ts';
import { ingestDisplay } from '../../services/producer/progress.ts';
import { withProducerMetrics } from '../../services/metrics/producer.ts';
import { logStartup, processLogger } from './logging.ts';
import { rollback, runRebuild } from '../../services/producer/rebuild.ts';
import { connectStore } from '../../services/store-connect.ts';
import { selectionOf, withRunOptions, type RunCliOptions } from './run-command.ts';
import { positiveInt } from './options.ts';

export function register(program: Command): void {
  withRunOptions(
    program
      .command('rebuild')
      .description('re-index into the next collection version, check it, and switch the alias to it (zero downtime)')
      .argument('[sources...]', 'what to build from; default: the sources registered in the live collection (every ingest/sync registers its own)'),
  )
    .option('--restart', 'abandon a half-built version left by an interrupted rebuild instead of resuming it')
    .option('--allow-mass-delete', 'the final sync pass may delete beyond SYNC_MAX_DELETE_SHARE')
    .addHelpText(
      'after',
      `
Searches go through the alias (QDRANT_COLLECTION). A rebuild creates <alias>_v<N+1> with the
configured model, MRL_DIMS and schema, fills it from every source, runs a final sync pass into it
(changes made meanwhile), checks it (point count against the listing, a sample of coarse-to-fine
queries), then switches the alias in one atomic call. The query service follows without a restart;
the previous version is kept for \`clipstream rollback\` (REBUILD_KEEP_VERSIONS, default 2). An
interrupted rebuild never switches the alias; the next one resumes the half-built version.

A rebuild is needed when the model, MRL_DIMS or schema version differ from the stored ones
(\`clipstream status\` and \`sync\` say so). With REDIS_URL the workers do the encoding: run them
with the configured model.

Examples:
  clipstream rebuild
  MODEL_VARIANT=fp32 clipstream rebuild s3://shop/catalogue/ s3://shop/records.jsonl`,
    )
    .action(async (sources: string[], opts: RunCliOptions & { restart?: boolean; allowMassDelete?: boolean }) => {
      const cfg = config();
      const display = ingestDisplay(opts.json ? 'json' : opts.progress ? 'auto' : 'silent');
      if (!process.stderr.isTTY) logStartup(processLogger(cfg, 'producer'), cfg, { run: 'rebuild' });
      const summary = await withProducerMetrics(cfg, display, { embedded: opts.embedded }, (listener) => runRebuild(cfg, sources, {
        listener,
        mode: opts.embedded ? 'embedded' : 'auto',
        concurrency: positiveInt('--concurrency', opts.concurrency),
        force: opts.force,
        allowTestModel: opts.allowTestModel,
        selection: selectionOf(opts),
        restart: opts.restart,
        allowMassDelete: opts.allowMassDelete,
      }));
      if (opts.json) process.stdout.write(JSON.stringify({ event: 'rebuild', ...summary, passes: summary.passes.map((p) => ({ runId: p.runId, sync: p.sync, failed: p.failed })) }) + '\n');
      else if (summary.outcome === 'succeeded') process.stderr.write(`rebuilt: ${summary.alias} → ${summary.collection} (${summary.points} points${summary.resumed ? ', resumed' : ''})${summary.previous ? `; ${summary.previous} kept for rollback` : ''}${summary.dropped.length ? `; dropped ${summary.dropped.join(', ')}` : ''}\n`);
      else process.stderr.write(`rebuild ${summary.outcome}: ${summary.error}\n`);
      if (summary.outcome !== 'succeeded') process.exitCode = summary.outcome === 'interrupted' ? 130 : 1;
    });

  program
    .command('rollback')
    .description('switch the alias back to the previous collection version kept by the last rebuild')
    .option('--to <collection>', 'a specific kept version (e.g. catalogue_v3), also to undo a rollback')
    .action(async (opts: { to?: string }) => {
      const cfg = config();
      if (cfg.queue.redisUrl && !cfg.store.qdrantUrl) {
        throw new ClipstreamError('CONFIG_INVALID', 'a rollback switches the alias in the store and needs to reach it: set QDRANT_URL');
      }
      const [store, locks] = [await connectStore(cfg), await openLocks(cfg)];
      try {
        const r = await rollback(cfg, store, locks, opts.to);
        process.stdout.write(`alias ${r.alias}: ${r.from} → ${r.to}\n`);
      } finally {
        await locks.close();
        await store.close();
      }
    });

  program
    .command('collections')
    .description('the collection versions behind the alias: which is live, which are kept for rollback')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const cfg = config();
      const store = await connectStore(cfg);
      try {
        const alias = cfg.store.collection;
        const [live, versions] = await Promise.all([resolveAlias(store.client, alias, { storeUrl: store.url }), listVersions(store.client, alias, { storeUrl: store.url })]);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ alias, live: live ?? null, versions }, null, 2) + '\n');
          return;
        }
        if (versions.length === 0) process.stdout.write(`no versions of ${alias} yet\n`);
        for (const v of versions) {
          const mark = v.name === live ? 'live' : v.building ? 'building' : 'kept';
          process.stdout.write(`${v.name.padEnd(24)} ${mark.padEnd(9)} ${String(v.points).padStart(9)} points  ${v.model ?? ''}  ${v.builtAt ?? v.createdAt ?? ''}\n`);
        }
      } finally {
        await store.close();
      }
    });
}
