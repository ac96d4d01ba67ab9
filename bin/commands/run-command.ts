/**
 * What `clipstream ingest` and `clipstream sync` share: the source-selection flags, the output
 * (progress bar, `--json` events, silent), Ctrl-C handling and the exit code. The commands
 * differ only in the run they start.
 */
import type { Command } from 'commander';
import { config, type Config } from '../../shared/config/index.ts';
import { positiveInt } from './options.ts';
import type { ItemFailure } from '../../shared/catalogue/types.ts';
import { ingestDisplay, type IngestOutput, type ProgressListener } from '../../services/producer/progress.ts';
import type { IngestOptions } from '../../services/producer/ingest.ts';
import type { RunSummary } from '../../services/producer/run-plan.ts';
import type { SourceSelection } from '../../services/producer/sources.ts';
import { withProducerMetrics } from '../../services/metrics/producer.ts';
import { logStartup, processLogger } from './logging.ts';

export interface RunCliOptions {
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
  resume?: boolean;
  followSymlinks?: boolean;
}

/** The flags every run command has. */
export function withRunOptions(command: Command): Command {
  return command
    .option('--json', 'machine-readable progress: JSON lines on stdout (progress, failure, summary events)')
    .option('--no-progress', 'no progress display; only failures and the summary')
    .option('--include <glob...>', 'only keys/paths (relative to the source) matching one of these globs')
    .option('--exclude <glob...>', 'skip keys/paths matching any of these globs')
    .option('--content-type <type...>', 'S3: also take extensionless objects of these content types (e.g. image/*)')
    .option('--product-id <rule>', 'how an image key names its product: products-dir (default), parent-dir, stem-prefix, none, regex:<pattern>')
    .option('--dataset <name>', 'dataset name for record ids (record:<dataset>/<id>; default: the records file name)')
    .option('--follow-symlinks', 'local folders: also follow symbolic links to files outside the folder')
    .option('--concurrency <n>', 'embedded mode: items in flight at once (default: WORKER_CONCURRENCY)')
    .option('--force', 're-encode items even when the stored version is unchanged')
    .option('--no-wait', 'with REDIS_URL: return once everything is queued (follow with `clipstream status RUN`)')
    .option('--embedded', 'run the pipeline in this process even when REDIS_URL is set')
    .option('--allow-test-model', 'embedded mode: fall back to the bundled test model when jina-clip-v2 cannot be had (labelled)')
    .option('--resume', 'with REDIS_URL: if Redis loses the run\'s state (restarted without persistence), list again and queue what the store lacks')
    .option('--strict', 'exit with status 1 when any item failed');
}

export function selectionOf(opts: RunCliOptions): SourceSelection {
  const selection: SourceSelection = {};
  if (opts.include) selection.include = opts.include;
  if (opts.exclude) selection.exclude = opts.exclude;
  if (opts.contentType) selection.contentTypes = opts.contentType;
  if (opts.productId) selection.productId = opts.productId;
  if (opts.dataset) selection.dataset = opts.dataset;
  if (opts.followSymlinks) selection.followSymlinks = true;
  return selection;
}

/**
 * Runs `start` with the display and signal handling of a run command; sets the exit code:
 * 130 interrupted, 1 a failed outcome (e.g. the mass-delete guard) or, with --strict, failed items.
 */
export async function runFromCli(
  opts: RunCliOptions,
  start: (cfg: Config, options: IngestOptions) => Promise<RunSummary>,
): Promise<void> {
  const cfg = config();
  const concurrency = positiveInt('--concurrency', opts.concurrency);
  const output: IngestOutput = opts.json ? 'json' : opts.progress ? 'auto' : 'silent';
  const display = ingestDisplay(output);
  // At a terminal the progress bar is the output; elsewhere (containers, CI) a JSON start-up line first.
  if (!process.stderr.isTTY) logStartup(processLogger(cfg, 'producer'), cfg);
  // In silent mode failures and notices still matter: print them plainly.
  const listener: ProgressListener =
    output === 'silent'
      ? { failure: (f: ItemFailure) => process.stderr.write(`✗ ${f.item}: ${f.code}: ${f.reason}\n`), notice: (l: string) => process.stderr.write(`${l}\n`) }
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
    const summary = await withProducerMetrics(cfg, listener, { embedded: opts.embedded }, (reporting) => start(cfg, {
      listener: reporting,
      signal: abort.signal,
      force: opts.force,
      mode: opts.embedded ? 'embedded' : 'auto',
      concurrency,
      wait: opts.wait,
      resume: opts.resume,
      allowTestModel: opts.allowTestModel,
      selection: selectionOf(opts),
    }));
    display.finish(summary);
    if (output === 'silent') process.stderr.write(`${summary.indexed} indexed, ${summary.skipped} unchanged, ${summary.failed} failed (run ${summary.runId})\n`);
    if (summary.interrupted) process.exitCode = 130;
    else if (summary.outcome === 'failed') process.exitCode = 1;
    else if (opts.strict && summary.failed > 0) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
