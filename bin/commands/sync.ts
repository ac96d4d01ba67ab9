import type { Command } from 'commander';
import { runSync } from '../../services/producer/ingest.ts';
import { runFromCli, withRunOptions, type RunCliOptions } from './run-command.ts';

export function register(program: Command): void {
  withRunOptions(
    program
      .command('sync')
      .description('make the index hold exactly what the sources hold: add new, re-encode changed, delete gone items')
      .argument('<sources...>', 's3://bucket/prefix/, s3://bucket/records.jsonl, a folder, or a file — as given to ingest'),
  )
    .option('--allow-mass-delete', 'delete even when more than SYNC_MAX_DELETE_SHARE of a source\'s points would go')
    .addHelpText(
      'after',
      `
Compares each source's listing with the points that source made before (payload source_root):
new and changed items (ETag / content hash) are encoded and stored, unchanged ones are left alone
(not even queued), and points of items the source no longer lists are deleted. A sync of one source
never touches another source's points.

Deletion is guarded: if a source's listing fails or is incomplete (an unreadable records file or
line), nothing of it is deleted; if more than SYNC_MAX_DELETE_SHARE (default 20 %) of a source's
points would go, nothing of it is deleted and the sync exits with status 1, saying how many and
that --allow-mass-delete overrides. Records files: an id missing from the file is a deletion, a
changed text a change; an id listed twice is reported and the last one wins.

Examples:
  clipstream sync s3://shop/catalogue/
  clipstream sync ./catalogue s3://shop/records.jsonl --json
  clipstream sync s3://shop/catalogue/ --allow-mass-delete`,
    )
    .action(async (sources: string[], opts: RunCliOptions & { allowMassDelete?: boolean }) => {
      await runFromCli(opts, (cfg, options) => runSync(cfg, sources, { ...options, allowMassDelete: opts.allowMassDelete }));
    });
}
