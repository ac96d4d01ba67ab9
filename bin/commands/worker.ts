import type { Command } from 'commander';
import type { Modality } from '../../shared/catalogue/types.ts';
import { config } from '../../shared/config/index.ts';
import { positiveInt } from './options.ts';
import { ClipstreamError, describeError } from '../../shared/errors.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { connectStore } from '../../services/store-connect.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { recordProcessInfo, startOpsEndpoint } from '../../services/metrics/index.ts';
import { QUEUE_NAMES } from '../../shared/queue/queues.ts';
import { backendFacts, describeBackends } from '../../services/doctor/execution-provider.ts';
import { captureConsole, lineLogger, logStartup, processLogger } from './logging.ts';

interface WorkerCliOptions {
  queues: string;
  concurrency?: string;
  allowTestModel?: boolean;
  lockDuration?: string;
  stalledInterval?: string;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('consume the embed queues: fetch, encode (micro-batched), upsert; needs REDIS_URL')
    .option('--queues <list>', 'queues to consume: image, text or image,text', 'image,text')
    .option('--concurrency <n>', 'jobs in flight per queue; the encoder batches across them (default: WORKER_CONCURRENCY)')
    .option('--allow-test-model', 'fall back to the bundled test model when jina-clip-v2 cannot be had (labelled)')
    .option('--lock-duration <ms>', 'job lock: a killed worker\'s jobs are taken over after about this long', '30000')
    .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers', '30000')
    .addHelpText(
      'after',
      `
A job is acknowledged only once its point is stored (wait=true). SIGTERM/SIGINT: stop taking jobs,
finish those in flight, close (a second signal quits at once; its jobs return to the queue after
--lock-duration). Items failing for their own reason (undecodable image, empty text, object gone)
fail at once and stay in the queue's failed set with the reason; store or S3 outages are retried
with exponential backoff.

Scale out with more processes (one per GPU with ORT_EXECUTION_PROVIDER=cuda; the CUDA build of
onnxruntime-node is installed with ONNXRUNTIME_NODE_INSTALL=cuda12 npm install). The store is
QDRANT_URL; without it this process starts the embedded store under DATA_DIR (one process only).

Examples:
  REDIS_URL=redis://localhost:6379 QDRANT_URL=http://localhost:6333 clipstream worker
  clipstream worker --queues text --concurrency 256`,
    )
    .action(async (opts: WorkerCliOptions) => {
      const cfg = config();
      if (!cfg.queue.redisUrl) {
        throw new ClipstreamError('CONFIG_INVALID', 'REDIS_URL is not set: a worker consumes the Redis queues (without Redis, `clipstream ingest` runs the pipeline itself)');
      }
      const modalities = [...new Set(opts.queues.split(',').map((q) => q.trim().replace(/^embed-/, '')))];
      for (const m of modalities) {
        if (m !== 'image' && m !== 'text') throw new ClipstreamError('BAD_REQUEST', `--queues: unknown queue ${JSON.stringify(m)} (expected image, text)`);
      }
      const logger = processLogger(cfg, 'worker');
      captureConsole(logger);
      const log = lineLogger(logger);
      // Before the model loads: /healthz answers (a liveness probe) while /readyz says "starting".
      const ops = await startOpsEndpoint(cfg, 'worker');
      if (ops) {
        log(`metrics and health: ${ops.url}/metrics, /healthz, /readyz`);
        await ops.watchQueues(Object.values(QUEUE_NAMES), log).catch(async (err: unknown) => {
          await ops.close();
          throw err;
        });
      }
      // On its own thread: inference would otherwise stall job fetching, S3 reads and upserts.
      let encoder: EncoderThread;
      let store: Awaited<ReturnType<typeof connectStore>>;
      try {
        encoder = await EncoderThread.open(cfg, { allowTestModel: opts.allowTestModel, onNotice: log });
        store = await connectStore(cfg).catch(async (err: unknown) => {
          await encoder.close();
          throw err;
        });
      } catch (err) {
        await ops?.close();
        throw err;
      }
      // The session was created with these providers (a CUDA provider that cannot load fails start-up, never falls back quietly).
      const provider = cfg.encoder.executionProvider === 'cuda' ? `cuda (device ${cfg.encoder.deviceId}; cpu for operators cuda lacks)` : 'cpu';
      logStartup(logger, cfg, { model: encoder.model, queues: modalities, execution_providers: provider, onnxruntime_backends: describeBackends(backendFacts()) });
      log(`encoder: ${encoder.model.modelId}, execution provider ${provider}; onnxruntime-node backends: ${describeBackends(backendFacts())}`);
      if (store.embedded) log(`QDRANT_URL is not set: using the embedded store under ${cfg.store.dataDir} (run one worker process only)`);
      let worker;
      try {
        worker = await startEmbedWorker(cfg, {
          modalities: modalities as Modality[],
          concurrency: positiveInt('--concurrency', opts.concurrency),
          lockDurationMs: positiveInt('--lock-duration', opts.lockDuration),
          stalledIntervalMs: positiveInt('--stalled-interval', opts.stalledInterval),
          encoder,
          store,
          log,
          metrics: ops?.registry,
        });
      } catch (err) {
        await store.close();
        await encoder.close();
        await ops?.close();
        throw err;
      }
      const started = worker;
      if (ops) {
        ops.setReadiness(worker.readiness);
        recordProcessInfo(ops.registry, { model: encoder.model.modelId, execution_provider: cfg.encoder.executionProvider, queues: modalities.join(',') });
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          log(`${signal} again: quitting now`);
          process.exit(1);
        }
        stopping = true;
        log(`${signal}: no new jobs; finishing those in flight`);
        started
          .close()
          .then(() => Promise.all([encoder.close(), store.close(), ops?.close()]))
          .then(
            () => {
              const s = started.stats();
              log(`stopped: ${s.completed} jobs done (${s.indexed} indexed, ${s.skipped} unchanged), ${s.failed} failed, ${s.retried} retried`);
              process.exit(0);
            },
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
