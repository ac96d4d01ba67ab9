import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { DEFAULT_SCHEDULER_CONCURRENCY, startScheduler } from '../../services/scheduler/distributed.ts';
import { positiveInt } from './options.ts';
import { recordProcessInfo, startOpsEndpoint } from '../../services/metrics/index.ts';
import { QUEUE_NAMES, SCHEDULES_QUEUE } from '../../shared/queue/queues.ts';
import { redactRedisUrl } from '../../shared/queue/connection.ts';
import { captureConsole, lineLogger, logStartup, processLogger } from './logging.ts';

export function register(program: Command): void {
  program
    .command('scheduler')
    .description('run the schedules kept in Redis (`clipstream schedule add`): scheduled syncs and rebuilds; needs REDIS_URL and QDRANT_URL')
    .option('--concurrency <n>', 'firings handled at once; a firing while its schedule still runs is seen and skipped', String(DEFAULT_SCHEDULER_CONCURRENCY))
    .option('--lock-duration <ms>', "a firing's lock: a killed scheduler's firing is taken over after about this long", '30000')
    .option('--stalled-interval <ms>', 'how often to look for firings of dead schedulers', '30000')
    .addHelpText(
      'after',
      `
The schedules are BullMQ job schedulers on the queue <QUEUE_PREFIX>:schedules; BullMQ keeps each
next firing in Redis, so they survive restarts of every process. This process lists the sources
and follows each run; \`clipstream worker\` processes encode. Several schedulers may run (each
firing goes to one); leases in Redis keep one run per source across all of them. Every firing
leaves a run record (\`clipstream status\`): a run, or a skip when the previous run of the schedule
(or another run of its sources) is still going.

SIGTERM/SIGINT: stop taking firings, interrupt the runs going on (items in flight finish; the
records say interrupted; a rebuild resumes on its next run), close. A second signal quits at once.

Example:
  REDIS_URL=redis://localhost:6379 QDRANT_URL=http://localhost:6333 clipstream scheduler`,
    )
    .action(async (opts: { concurrency: string; lockDuration: string; stalledInterval: string }) => {
      const cfg = config();
      const logger = processLogger(cfg, 'scheduler');
      captureConsole(logger);
      const log = lineLogger(logger);
      logStartup(logger, cfg);
      const ops = await startOpsEndpoint(cfg, 'scheduler');
      let scheduler;
      try {
        if (ops) {
          log(`metrics and health: ${ops.url}/metrics, /healthz, /readyz`);
          const redis = await ops.watchQueues([SCHEDULES_QUEUE, ...Object.values(QUEUE_NAMES)], log);
          const shown = redactRedisUrl(cfg.queue.redisUrl ?? '');
          ops.setReadiness(async () => {
            const ok = await Promise.race([redis?.ping().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref())]);
            return { redis: { ok: ok === true, detail: ok ? `ok: ${shown}` : `Redis at ${shown} does not answer` } };
          });
          recordProcessInfo(ops.registry, {});
        }
        scheduler = await startScheduler(cfg, {
          concurrency: positiveInt('--concurrency', opts.concurrency),
          lockDurationMs: positiveInt('--lock-duration', opts.lockDuration),
          stalledIntervalMs: positiveInt('--stalled-interval', opts.stalledInterval),
          log,
        });
      } catch (err) {
        await ops?.close();
        throw err;
      }
      const running = scheduler;
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          log(`${signal} again: quitting now`);
          process.exit(1);
        }
        stopping = true;
        log(`${signal}: interrupting the scheduled runs, then closing`);
        running.close().then(() => ops?.close()).then(
          () => process.exit(0),
          (err: unknown) => {
            log(`close failed: ${describeError(err)}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
