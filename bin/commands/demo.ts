/**
 * `clipstream demo` (what `npm start` runs): the main job on the embedded default. Ingests the
 * bundled sample catalogue into the embedded store (or QDRANT_URL) in this process, then serves
 * the search page on the same encoder and store, and prints its URL. Re-running is cheap:
 * unchanged items are skipped.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { ingestDisplay } from '../../services/producer/progress.ts';
import { startQueryService } from '../../services/query/server.ts';
import { EmbeddedScheduler } from '../../services/scheduler/embedded.ts';
import { connectStore } from '../../services/store-connect.ts';

const SAMPLE_CATALOGUE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/catalogue');

export function register(program: Command): void {
  program
    .command('demo')
    .description('ingest the bundled sample catalogue (embedded mode) and serve the search page')
    .option('--catalogue <dir>', 'catalogue folder to ingest', SAMPLE_CATALOGUE)
    .option('--no-serve', 'ingest, print the summary and exit')
    .option('--json', 'machine-readable progress (JSON lines)')
    .addHelpText(
      'after',
      '\nRuns on jina-clip-v2 when MODEL_DIR or the model cache has it (or it can be downloaded); otherwise it\n' +
        'says so and runs on the bundled test model, labelled as such. Data goes to DATA_DIR (default ./data).',
    )
    .action(async (opts: { catalogue: string; serve: boolean; json?: boolean }) => {
      const cfg = config();
      const display = ingestDisplay(opts.json ? 'json' : 'auto');
      const notice = (line: string) => display.notice(line);
      // Its own thread: ORT inference is synchronous and would otherwise stall ingestion and the page.
      const encoder = await EncoderThread.open(cfg, { allowTestModel: true, onNotice: notice });
      const store = await connectStore(cfg);
      notice(`store: ${store.embedded ? `embedded (${store.url}), data in ${cfg.store.dataDir}` : store.url}`);
      let keepOpen = false;
      try {
        // The judged queries and their photos beside the catalogue are for `clipstream eval`, not the shop.
        const selection = { exclude: ['queries.jsonl', 'query-images/**'] };
        const summary = await runIngest(cfg, [opts.catalogue], { mode: 'embedded', encoder, store, listener: display, selection });
        display.finish(summary);
        if (!opts.serve) return;
        const service = await startQueryService(cfg, { encoder, store, onNotice: notice });
        // The schedules of DATA_DIR/state.db (`clipstream schedule add`) run here, on the same encoder and store.
        const scheduler = cfg.queue.redisUrl ? undefined : EmbeddedScheduler.start(cfg, { encoder, store, log: notice });
        keepOpen = true;
        const label = encoder.model.isTestModel ? ' [TEST MODEL: colours and product types only]' : '';
        process.stdout.write(`\nsearch page: ${service.url}/${label}\nAPI docs:    ${service.url}/docs\nCtrl-C to stop.\n`);
        const stop = () => {
          void service.close().then(() => scheduler?.close()).then(() => Promise.all([store.close(), encoder.close()])).finally(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } finally {
        if (!keepOpen) {
          await store.close();
          await encoder.close();
        }
      }
    });
}
