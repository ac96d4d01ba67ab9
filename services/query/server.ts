/**
 * Starting the query service as a process component: open the encoder and the store (unless the
 * caller already holds them, as the demo does after ingesting), build the app, listen. Whatever
 * was opened here is closed by `close()`; what the caller passed in stays the caller's.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { rebuildNeeded } from '../../shared/store/rebuild-check.ts';
import { connectStore } from '../store-connect.ts';
import { buildQueryApp } from './app.ts';
import type { QueryEncoder, StoreHandle } from './search.ts';

export interface QueryServiceOptions {
  encoder?: QueryEncoder | undefined;
  store?: StoreHandle | undefined;
  /** Fall back to the bundled test model when jina-clip-v2 cannot be had (the output says so). */
  allowTestModel?: boolean | undefined;
  onNotice?: ((line: string) => void) | undefined;
  /** Log requests (pino, to stdout) at LOG_LEVEL. */
  log?: boolean | undefined;
}

export interface QueryService {
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface RunningQueryService extends QueryService {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
}

/** The app with its dependencies, not listening (the CLI's direct search uses `inject()`). */
export async function openQueryService(config: Config, opts: QueryServiceOptions = {}): Promise<QueryService> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    // Reverse order of opening: stop serving before the store and encoder go away.
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    let encoder = opts.encoder;
    if (!encoder) {
      // Off the main thread: inference is synchronous in onnxruntime-node and would stall every request.
      const opened = await EncoderThread.open(config, { allowTestModel: opts.allowTestModel, onNotice: opts.onNotice });
      closers.push(() => opened.close());
      encoder = opened;
    }
    let store = opts.store;
    if (!store) {
      const connection = await connectStore(config);
      closers.push(() => connection.close());
      store = connection;
      if (connection.embedded) opts.onNotice?.(`store: embedded, ${connection.url}`);
    }
    const app = await buildQueryApp({
      config,
      encoder,
      store,
      logger: opts.log && config.logLevel !== 'silent' ? { level: config.logLevel } : false,
      defaultMetrics: true,
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    });
    closers.push(() => app.close());
    // Said at start-up (/readyz says it too): the index was built with other settings.
    void rebuildNeeded(config, store, { model: encoder.model.modelId }).then(
      (why) => why && opts.onNotice?.(`rebuild required: ${why}`),
      () => {},
    );
    return { app, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export async function startQueryService(config: Config, opts: QueryServiceOptions = {}): Promise<RunningQueryService> {
  const service = await openQueryService(config, opts);
  try {
    await service.app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    await service.close();
    throw err;
  }
  const address = service.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return { ...service, url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}` };
}
