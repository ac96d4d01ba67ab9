import type { Command } from 'commander';
import { ClipstreamError } from '../../shared/errors.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';

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
        'Example:\n  clipstream store serve --data ./data/store --port 6333\n  curl localhost:6333/collections',
    )
    .action(async (opts: { port: string; host: string; data: string; apiKey?: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new ClipstreamError('BAD_REQUEST', `--port ${JSON.stringify(opts.port)}: expected an integer from 0 to 65535`);
      }
      let running;
      try {
        running = await startEmbeddedStore({ dataDir: opts.data, host: opts.host, port, apiKey: opts.apiKey });
      } catch (err) {
        throw new ClipstreamError('STORE_UNAVAILABLE', `cannot serve ${opts.data} on ${opts.host}:${port}: ${(err as Error).message}`, { cause: err });
      }
      process.stdout.write(`store listening on ${running.url} (data: ${opts.data})\n`);
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
}
