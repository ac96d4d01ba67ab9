import type { Command } from 'commander';
import { runIngest } from '../../services/producer/ingest.ts';
import { runFromCli, withRunOptions, type RunCliOptions } from './run-command.ts';

export function register(program: Command): void {
  withRunOptions(
    program
      .command('ingest')
      .description('index catalogue images and text records from S3 or local files')
      .argument('<sources...>', 's3://bucket/prefix/, s3://bucket/records.jsonl, a folder, or a file (.jpg/.png/… or .jsonl/.ndjson/.csv)'),
  )
    .addHelpText(
      'after',
      `
Without REDIS_URL the items are fetched, encoded and stored by this process (the store is QDRANT_URL,
or the embedded store under DATA_DIR). With REDIS_URL they are queued on embed-image/embed-text for
\`clipstream worker\` processes, and this command follows the run until the workers have finished it.
Items whose stored version (S3 ETag / content hash) is unchanged are skipped. Bad items (undecodable
images, empty or oversized texts, malformed lines) are reported with their item and reason; the rest
goes on. Ctrl-C stops taking new items and lets those in flight finish. Ingest adds and replaces;
\`clipstream sync\` also deletes what a source no longer has.

Examples:
  clipstream ingest ./examples/catalogue --exclude queries.jsonl 'query-images/**'   (the judged queries are for clipstream eval)
  clipstream ingest s3://shop/images/ s3://shop/records.jsonl --include 'shoes/**'
  clipstream ingest s3://shop/records.csv --json > ingest.jsonl`,
    )
    .action(async (sources: string[], opts: RunCliOptions) => {
      await runFromCli(opts, (cfg, options) => runIngest(cfg, sources, options));
    });
}
