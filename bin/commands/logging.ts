/**
 * The process log: JSON lines (pino) on stderr at LOG_LEVEL, pretty when stderr is a terminal
 * (pino-pretty, if installed). stdout stays the commands' own output (URLs, --json events).
 * Every process starts with one line saying what it runs: version, model and the resolved
 * configuration with its secrets masked (the masking of `clipstream config`). Lines about an
 * item carry `run_id`, `job_id`, `item` and `collection`, so one item can be followed through.
 */
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { format } from 'node:util';
import pino, { type Logger } from 'pino';
import type { Config } from '../../shared/config/index.ts';
import { CLIPSTREAM_VERSION } from '../../services/metrics/registry.ts';
import { redactConfig } from './config.ts';

export type { Logger } from 'pino';

/** Fields a log call may add; `level` picks the pino level (default info). */
export interface LogFields {
  level?: 'debug' | 'info' | 'warn' | 'error' | undefined;
  run_id?: string | undefined;
  job_id?: string | undefined;
  item?: string | undefined;
  collection?: string | undefined;
  [field: string]: unknown;
}

// Secrets never reach a line, whatever a caller passes: masked by key anywhere in the first levels.
const SECRET_PATHS = ['apiKey', 'qdrantApiKey', 'hfToken', 'password', 'secretAccessKey', 'sessionToken'].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** `fd`: where lines go (stderr). */
export function processLogger(config: Pick<Config, 'logLevel'>, processName: string, fd = 2): Logger {
  const options = { level: config.logLevel, base: { process: processName, pid: process.pid }, redact: { paths: SECRET_PATHS, censor: '***' } };
  if (isatty(fd)) {
    try {
      const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => NodeJS.WritableStream;
      return pino(options, pretty({ destination: fd, sync: true, colorize: true, ignore: 'pid,hostname,process', translateTime: 'SYS:HH:MM:ss.l' }));
    } catch {
      // not installed: plain JSON lines
    }
  }
  return pino(options, pino.destination({ fd, sync: true }));
}

export interface StartupFacts {
  model?: { modelId: string; isTestModel?: boolean };
  [field: string]: unknown;
}

/** The first line: version, model (name, variant, revision, execution provider) and the masked configuration. */
export function logStartup(logger: Logger, config: Config, facts: StartupFacts = {}): void {
  const { model, ...rest } = facts;
  logger.info(
    {
      version: CLIPSTREAM_VERSION,
      model: {
        name: model?.modelId ?? config.model.repo,
        // The variant really used (a MODEL_DIR without the asked one falls back to fp32): the model id says it.
        variant: /@([\w-]+)$/.exec(model?.modelId ?? '')?.[1] ?? config.model.variant,
        revision: config.model.revision,
        execution_provider: config.encoder.executionProvider === 'cuda' ? `cuda:${config.encoder.deviceId}` : 'cpu',
        ...(model?.isTestModel ? { test_model: true } : {}),
      },
      config: redactConfig(config),
      ...rest,
    },
    'starting',
  );
}

/** A `(line, fields)` sink for code that logs through a callback (the worker, the scheduler). */
export function lineLogger(logger: Logger): (line: string, fields?: LogFields) => void {
  return (line, fields) => {
    const { level = 'info', ...rest } = fields ?? {};
    logger[level](rest, line);
  };
}

/**
 * Routes what libraries print on their own (console.warn of a client, Node's process warnings)
 * into the log as JSON lines, so a log collector never meets a stray plain line. For the
 * long-running processes (worker, scheduler, serve).
 */
export function captureConsole(logger: Logger): void {
  console.log = (...args: unknown[]) => logger.info(format(...args));
  console.info = (...args: unknown[]) => logger.info(format(...args));
  console.warn = (...args: unknown[]) => logger.warn(format(...args));
  console.error = (...args: unknown[]) => logger.error(format(...args));
  // Node prints warnings through a 'warning' listener of its own; ours replaces it.
  process.removeAllListeners('warning');
  process.on('warning', (w) => logger.warn({ warning: w.name }, w.message));
}
