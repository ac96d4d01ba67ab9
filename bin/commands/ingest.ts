import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { positiveInt } from './options.ts';
import { parseProductIdRule } from '../../shared/sources/keys.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { ingestDisplay, type IngestOutput } from '../../services/producer/progress.ts';

interface IngestCliOptions {
  json?: boolean;
  progress: boolean;
  include?: string[];
  exclude?: string[];
  contentType?: string[];
  productId?: string;
  dataset?: string;
  concurrency?: string;
  force?: boolean;
  wait: boolean;
  embedded?: boolean;
  allowTestModel?: boolean;
  strict?: boolean;
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description('index catalogue images and text records from S3 or local files')
    .argument('<sources...>', 's3://bucket/prefix/, s3://bucket/records.jsonl, a folder, or a file (.jpg/.png/… or .jsonl/.ndjson/.csv)')
    .option('--json', 'machine-readable progress: JSON lines on stdout (progress, failure, summary events)')
    .option('--no-progress', 'no progress display; only failures and the summary')
    .option('--include <glob...>', 'only keys/paths (relative to the source) matching one of these globs')
    .option('--exclude <glob...>', 'skip keys/paths matching any of these globs')
    .option('--content-type <type...>', 'S3: also take extensionless objects of these content types (e.g. image/*)')
    .option('--product-id <rule>', 'how an image key names its product: products-dir (default), parent-dir, stem-prefix, none, regex:<pattern>')
    .option('--dataset <name>', 'dataset name for record ids (record:<dataset>/<id>; default: the records file name)')
    .option('--concurrency <n>', 'embedded mode: items in flight at once (default: WORKER_CONCURRENCY)')
    .option('--force', 're-encode items even when the stored version is unchanged')
    .option('--no-wait', 'with REDIS_URL: return once everything is queued (follow with `clipstream status RUN`)')
    .option('--embedded', 'run the pipeline in this process even when REDIS_URL is set')
    .option('--allow-test-model', 'embedded mode: fall back to the bundled test model when jina-clip-v2 cannot be had (labelled)')
    .option('--strict', 'exit with status 1 when any item failed')
    .addHelpText(
      'after',
      `
Without REDIS_URL the items are fetched, encoded and stored by this process (the store is QDRANT_URL,
or the embedded store under DATA_DIR). With REDIS_URL they are queued on embed-image/embed-text for
\`clipstream worker\` processes, and this command follows the run until the workers have finished it.
Items whose stored version (S3 ETag / content hash) is unchanged are skipped. Bad items (undecodable
images, empty or oversized texts, malformed lines) are reported with their item and reason; the rest
goes on. Ctrl-C stops taking new items and lets those in flight finish.

Examples:
  clipstream ingest ./examples/catalogue
  clipstream ingest s3://shop/images/ s3://shop/records.jsonl --include 'shoes/**'
  clipstream ingest s3://shop/records.csv --json > ingest.jsonl`,
    )
    .action(async (sources: string[], opts: IngestCliOptions) => {
      const cfg = config();
      const concurrency = positiveInt('--concurrency', opts.concurrency);
      const output: IngestOutput = opts.json ? 'json' : opts.progress ? 'auto' : 'silent';
      const display = ingestDisplay(output);
      // In silent mode failures and notices still matter: print them plainly.
      const listener = output === 'silent'
        ? { failure: (f: { item: string; code: string; reason: string }) => process.stderr.write(`✗ ${f.item}: ${f.code}: ${f.reason}\n`), notice: (l: string) => process.stderr.write(`${l}\n`) }
        : display;

      const abort = new AbortController();
      let signals = 0;
      const onSignal = (name: string) => {
        if (++signals > 1) process.exit(130);
        display.notice(`${name}: finishing the items in flight (again to quit at once)`);
        abort.abort(new Error(name));
      };
      const onInt = () => onSignal('SIGINT');
      const onTerm = () => onSignal('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      try {
        const summary = await runIngest(cfg, sources, {
          listener,
          signal: abort.signal,
          force: opts.force,
          mode: opts.embedded ? 'embedded' : 'auto',
          concurrency,
          wait: opts.wait,
          allowTestModel: opts.allowTestModel,
          sources: {
            include: opts.include,
            exclude: opts.exclude,
            contentTypes: opts.contentType,
            productId: opts.productId ? parseProductIdRule(opts.productId) : undefined,
            records: opts.dataset ? { dataset: opts.dataset } : undefined,
          },
        });
        display.finish(summary);
        if (output === 'silent') process.stderr.write(`${summary.indexed} indexed, ${summary.skipped} unchanged, ${summary.failed} failed (run ${summary.runId})\n`);
        if (summary.interrupted) process.exitCode = 130;
        else if (opts.strict && summary.failed > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      }
    });
}
