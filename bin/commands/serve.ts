import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { startQueryService } from '../../services/query/server.ts';
import { openEmbeddedScheduling } from '../../services/scheduler/embedded.ts';
import { captureConsole, logStartup, processLogger } from './logging.ts';

export function register(program: Command): void {
  program
    .command('serve')
    .description('start the query service: search API (/v1/search), search page (/), docs (/docs), metrics (/metrics)')
    .option('--host <host>', 'interface to listen on (default: HOST, 127.0.0.1)')
    .option('--port <port>', 'TCP port, 0 picks a free one (default: PORT, 8080)')
    .option('--allow-test-model', 'fall back to the bundled test model when jina-clip-v2 cannot be had (labelled everywhere)')
    .option('--log', 'log every request (JSON lines at LOG_LEVEL)')
    .addHelpText(
      'after',
      '\nThe store is QDRANT_URL, or the embedded store under DATA_DIR when unset. Set API_KEY to require\n' +
        'an x-api-key header on every route but the page, health, metrics and docs. Limits: QUERY_MAX_TEXT_CHARS,\n' +
        'QUERY_MAX_IMAGE_BYTES, QUERY_MAX_IMAGE_PIXELS, QUERY_MAX_LIMIT, QUERY_TIMEOUT_MS; slow clients:\n' +
        'QUERY_REQUEST_TIMEOUT_MS, QUERY_HEADERS_TIMEOUT_MS, QUERY_MAX_CONNECTIONS; load shedding:\n' +
        'QUERY_MAX_EVENT_LOOP_DELAY_MS, QUERY_MAX_PENDING_ENCODES. Image URLs are fetched only from\n' +
        'QUERY_IMAGE_URL_ALLOW hosts at public addresses (QUERY_IMAGE_URL_PRIVATE_NETS for more); thumbnails read\n' +
        'local files only under QUERY_THUMBNAIL_ROOTS, or without any symbolic link when unset. See SECURITY.md.\n' +
        'Example:\n  clipstream serve --port 8080\n  curl -s localhost:8080/v1/search -H content-type:application/json -d \'{"text":"rote Schuhe"}\'',
    )
    .action(async (opts: { host?: string; port?: string; allowTestModel?: boolean; log?: boolean }) => {
      const base = config();
      let port = base.server.port;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new ClipstreamError('BAD_REQUEST', `--port ${JSON.stringify(opts.port)}: expected an integer from 0 to 65535`);
        }
      }
      const c = { ...base, server: { ...base.server, host: opts.host ?? base.server.host, port } };
      const logger = processLogger(c, 'serve');
      captureConsole(logger);
      const notice = (line: string) => logger.info(line);
      // Without Redis the schedules of DATA_DIR/state.db run in this process, on the encoder and store it serves with.
      const scheduling = c.queue.redisUrl ? undefined : await openEmbeddedScheduling(c, { allowTestModel: opts.allowTestModel, onNotice: notice });
      const service = await startQueryService(c, { encoder: scheduling?.encoder, store: scheduling?.store, allowTestModel: opts.allowTestModel, onNotice: notice, log: opts.log }).catch(async (err: unknown) => {
        await scheduling?.close();
        throw err;
      });
      logStartup(logger, c, { url: service.url });
      process.stdout.write(`search page: ${service.url}/\nAPI docs:    ${service.url}/docs\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        notice(`serve: ${signal}, closing`);
        service.close().then(() => scheduling?.close()).then(
          () => process.exit(0),
          (err: unknown) => {
            notice(`serve: close failed: ${(err as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
