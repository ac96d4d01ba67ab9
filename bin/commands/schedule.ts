import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import type { ScheduleView } from '../../shared/state/types.ts';
import { defineSchedule, describeTiming, scheduleSelection } from '../../services/scheduler/schedule-spec.ts';
import { openSchedules } from '../../services/scheduler/open.ts';

interface AddCliOptions {
  cron?: string;
  tz?: string;
  every?: string;
  mode: string;
  include?: string[];
  exclude?: string[];
  contentType?: string[];
  productId?: string;
  dataset?: string;
  allowMassDelete?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('scheduled syncs and rebuilds: add, list, remove (in Redis with REDIS_URL, else in DATA_DIR/state.db)')
    .addHelpText(
      'after',
      `
With REDIS_URL, schedules are BullMQ job schedulers under QUEUE_PREFIX and \`clipstream scheduler\`
runs them (the embed workers encode). Without it they are kept in DATA_DIR/state.db and
\`clipstream serve\` (or \`npm start\`) runs them in its own process. Either way one run per source
runs at a time: a firing while the previous run of the schedule (or any run of its sources) is
still going is skipped, and recorded as skipped. Every firing leaves a run record
(\`clipstream status\`, trigger schedule:<id>).

Examples:
  clipstream schedule add nightly s3://shop/catalogue/ s3://shop/records.jsonl --cron '0 3 * * *' --tz Europe/Berlin
  clipstream schedule add quarter-hourly ./catalogue --every 15m --include '**/*.jpg'
  clipstream schedule add weekly-rebuild --mode rebuild --cron '0 4 * * 0'
  clipstream schedule list
  clipstream schedule remove nightly`,
    );

  schedule
    .command('add')
    .description('add a schedule (or replace the one with the same id)')
    .argument('<id>', 'a name for it: letters, digits, . _ - (runs are recorded with trigger schedule:<id>)')
    .argument('[sources...]', 'as given to sync; a rebuild without sources rebuilds the ones the live collection has registered')
    .option('--cron <pattern>', "a cron pattern as BullMQ reads it (cron-parser: 5 fields, or 6 with seconds), e.g. '0 3 * * *'")
    .option('--tz <zone>', 'IANA time zone of the cron pattern, e.g. Europe/Berlin (default UTC)')
    .option('--every <interval>', 'a fixed interval instead: 30s, 15m, 6h, 1d (first run at once, then every interval)')
    .option('--mode <mode>', 'sync or rebuild', 'sync')
    .option('--include <glob...>', 'only keys/paths (relative to the source) matching one of these globs')
    .option('--exclude <glob...>', 'skip keys/paths matching any of these globs')
    .option('--content-type <type...>', 'S3: also take extensionless objects of these content types (e.g. image/*)')
    .option('--product-id <rule>', 'how an image key names its product: products-dir (default), parent-dir, stem-prefix, none, regex:<pattern>')
    .option('--dataset <name>', 'dataset name for record ids (record:<dataset>/<id>; default: the records file name)')
    .option('--allow-mass-delete', "the scheduled syncs may delete beyond SYNC_MAX_DELETE_SHARE of a source's points")
    .option('--json', 'print the schedule as JSON')
    .action(async (id: string, sources: string[], opts: AddCliOptions) => {
      const defined = defineSchedule({
        id,
        sources,
        mode: opts.mode,
        cron: opts.cron,
        tz: opts.tz,
        every: opts.every,
        selection: { include: opts.include, exclude: opts.exclude, contentTypes: opts.contentType, productId: opts.productId, dataset: opts.dataset },
        allowMassDelete: opts.allowMassDelete,
      });
      const opened = await openSchedules(config());
      try {
        const existed = (await opened.schedules.list()).some((s) => s.id === id);
        await opened.schedules.add(defined);
        const view = (await opened.schedules.list()).find((s) => s.id === id) ?? defined;
        if (opts.json) {
          process.stdout.write(JSON.stringify({ schedule: view, replaced: existed, keptIn: opened.where }, null, 2) + '\n');
          return;
        }
        process.stdout.write(`schedule ${id} ${existed ? 'replaced' : 'added'}: ${describeSchedule(view)}\n`);
        process.stdout.write(`kept in ${opened.where}; run by ${opened.runBy}\n`);
      } finally {
        await opened.close();
      }
    });

  schedule
    .command('list')
    .description('each schedule with its next run and its last run (outcome, run id)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const opened = await openSchedules(config());
      try {
        const all = await opened.schedules.list();
        if (opts.json) {
          process.stdout.write(JSON.stringify({ schedules: all, keptIn: opened.where }, null, 2) + '\n');
          return;
        }
        if (all.length === 0) process.stdout.write(`no schedules in ${opened.where}\n`);
        for (const s of all) process.stdout.write(`${describeSchedule(s)}\n`);
      } finally {
        await opened.close();
      }
    });

  schedule
    .command('remove')
    .description('remove a schedule; a run it started goes on to its end')
    .argument('<id>')
    .action(async (id: string) => {
      const opened = await openSchedules(config());
      try {
        if (!(await opened.schedules.remove(id))) throw new ClipstreamError('NOT_FOUND', `no schedule ${JSON.stringify(id)} in ${opened.where} (see clipstream schedule list)`);
        process.stdout.write(`schedule ${id} removed\n`);
      } finally {
        await opened.close();
      }
    });
}

/** Two or three lines: id, mode, timing, next and last run; sources; how they are read. */
function describeSchedule(s: ScheduleView): string {
  const last = s.last ? `last ${s.last.outcome} at ${s.last.at} (run ${s.last.runId})${s.last.error ? `: ${s.last.error}` : ''}` : 'not run yet';
  const lines = [`${s.id}: ${s.mode}, ${describeTiming(s)}; next ${s.next ?? '(none)'}; ${last}`, `  sources: ${s.sources.length > 0 ? s.sources.join(' ') : '(those registered in the live collection)'}`];
  const selection = scheduleSelection(s);
  const read = [
    ...Object.entries(selection).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`),
    ...(s.options?.allowMassDelete ? ['mass deletes allowed'] : []),
  ];
  if (read.length > 0) lines.push(`  options: ${read.join('; ')}`);
  return lines.join('\n');
}
