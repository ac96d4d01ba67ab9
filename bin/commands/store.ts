import type { Command } from 'commander';
import { ClipstreamError } from '../../shared/errors.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';
import { loadConfig } from '../../shared/config/index.ts';
import { StoreCorruptionError } from '../../services/store/engine/errors.ts';
import { describeRepair, repairStore } from '../../services/store/engine/repair.ts';
import { config } from '../../shared/config/index.ts';
import { CLIPSTREAM_VERSION } from '../../services/metrics/registry.ts';
import { processLogger } from './logging.ts';
import * as snapshotCommand from './store-snapshot.ts';

export function register(program: Command): void {
  const store = program.command('store').description('the embedded Qdrant-compatible vector store');
  store
    .command('serve')
    .description('serve a data directory over Qdrant\'s REST API (use any Qdrant client against it)')
    .option('--port <port>', 'TCP port (0 picks a free one)', '6333')
    .option('--host <host>', 'interface to listen on (loopback unless you mean to expose it)', '127.0.0.1')
    .requiredOption('--data <dir>', 'data directory (created if missing; one server per directory)')
    .option('--api-key <key>', 'require this key in the api-key header (or Authorization: Bearer), like Qdrant')
    .addHelpText(
      'after',
      '\nWrites acknowledged with ?wait=true are fsync\'d before the reply and survive a crash.\n' +
        'A damaged file in the data directory stops the server from starting (see `store repair`).\n' +
        'Example:\n  clipstream store serve --data ./data/store --port 6333\n  curl localhost:6333/collections',
    )
    .action(async (opts: { port: string; host: string; data: string; apiKey?: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new ClipstreamError('BAD_REQUEST', `--port ${JSON.stringify(opts.port)}: expected an integer from 0 to 65535`);
      }
      let running;
      try {
        running = await startEmbeddedStore({ dataDir: opts.data, host: opts.host, port, apiKey: opts.apiKey, parseThreads: loadConfig().store.parseThreads });
      } catch (err) {
        // A damaged file says what and where itself; the repair hint is part of it.
        if (err instanceof StoreCorruptionError) throw new ClipstreamError('STORE_UNAVAILABLE', err.detail, { cause: err });
        throw new ClipstreamError('STORE_UNAVAILABLE', `cannot serve ${opts.data} on ${opts.host}:${port}: ${(err as Error).message}`, { cause: err });
      }
      process.stdout.write(`store listening on ${running.url} (data: ${opts.data})\n`);
      processLogger(config(), 'store').info({ version: CLIPSTREAM_VERSION, url: running.url, data: opts.data, api_key: opts.apiKey ? 'set' : 'unset' }, 'starting');
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`store: ${signal}, closing\n`);
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`store: close failed: ${(err as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
  store
    .command('repair')
    .description('salvage a data directory the store refuses to open (damaged log, meta.json or aliases.json)')
    .requiredOption('--data <dir>', 'data directory (the store must not be running on it)')
    .option('--dry-run', 'report what is damaged and what a repair would keep, changing nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nEach damaged log is copied to <data>/repair-<time>/ first; every intact frame, before and after\n' +
        'the damage, goes into a new log. The report lists what was lost: byte ranges, frames and the\n' +
        'operation ids in each hole. Exit status 0 when the store opens afterwards, 1 when something\n' +
        'needs restoring by hand (a damaged meta.json), 2 on errors.\n' +
        'Example:\n  clipstream store repair --data ./data/store --dry-run\n  clipstream store repair --data ./data/store',
    )
    .action((opts: { data: string; dryRun?: boolean; json?: boolean }) => {
      let report;
      try {
        report = repairStore(opts.data, { dryRun: opts.dryRun });
      } catch (err) {
        throw new ClipstreamError('STORE_UNAVAILABLE', `cannot repair ${opts.data}: ${(err as Error).message}`, { cause: err });
      }
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeRepair(report).join('\n')}\n`);
      if (!report.ok) process.exitCode = 1;
    });
  snapshotCommand.register(store);
}
