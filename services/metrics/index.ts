/**
 * Metrics and health for processes without an HTTP API of their own: `startOpsEndpoint` opens
 * the listener on METRICS_PORT (nothing when unset) as early as possible, so `/healthz`
 * answers while the model still loads; `/readyz` says "starting" until the process hands over
 * its real readiness check.
 */
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { closeRedis, connectRedis } from '../../shared/queue/connection.ts';
import { startOpsListener, type Readiness } from './listener.ts';
import { registerQueueMetrics } from './queues.ts';
import { processRegistry, type ProcessRole } from './registry.ts';

export { recordProcessInfo, type ProcessRole } from './registry.ts';
export type { Readiness } from './listener.ts';

export interface OpsEndpoint {
  registry: Registry;
  url: string;
  /** Replaces the "starting" answer of /readyz. */
  setReadiness(readiness: Readiness): void;
  /** Reports the depth of these queues (on a connection of its own, closed with the endpoint). */
  watchQueues(queues: readonly string[], log?: (line: string) => void): Promise<Redis | undefined>;
  close(): Promise<void>;
}

export async function startOpsEndpoint(config: Config, role: ProcessRole): Promise<OpsEndpoint | undefined> {
  if (config.metrics.port === undefined) return undefined;
  const registry = processRegistry(role);
  let current: Readiness = async () => ({ [role]: { ok: false, detail: 'starting' } });
  const listener = await startOpsListener({ registry, host: config.metrics.host, port: config.metrics.port, readiness: () => current() });
  const closers: Array<() => Promise<void>> = [];
  return {
    registry,
    url: listener.url,
    setReadiness: (readiness) => (current = readiness),
    async watchQueues(queues, log) {
      if (!config.queue.redisUrl) return;
      const redis = await connectRedis(config.queue.redisUrl, { connectionName: `clipstream-${role}-metrics`, onError: (e) => log?.(`metrics: redis: ${describeError(e)}`) });
      const watched = registerQueueMetrics(registry, { redis, prefix: config.queue.prefix, queues });
      closers.push(async () => {
        await watched.close();
        await closeRedis(redis);
      });
      return redis;
    },
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      await listener.close();
    },
  };
}
