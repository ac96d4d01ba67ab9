/**
 * One Prometheus registry per process role (worker, producer, scheduler). Like the query
 * service, each owns its registry rather than prom-client's global one, so tests can run
 * several in one process. The process's own figures (CPU seconds, resident memory, heap,
 * event-loop lag) come from prom-client's default collectors under the `clipstream_` prefix,
 * and every series carries a `role` label so one dashboard can tell the processes apart.
 */
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export type ProcessRole = 'worker' | 'producer' | 'scheduler';

/** The package version (package.json), shown in the info series and the start-up log line. */
export const CLIPSTREAM_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface ProcessRegistryOptions {
  /** Default collectors (CPU, memory, event-loop lag); off in unit tests that read exact values. */
  processMetrics?: boolean;
}

export function processRegistry(role: ProcessRole, options: ProcessRegistryOptions = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  if (options.processMetrics ?? true) {
    // 10 ms resolution: the lag worth seeing on a worker is the one a blocking call causes.
    collectDefaultMetrics({ register: registry, prefix: 'clipstream_', eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}

/**
 * `clipstream_process_info{version, model, execution_provider, queues} 1`: what the process
 * runs. `count(clipstream_process_info{role="worker", execution_provider="cuda"})` is the GPU
 * worker count.
 */
export function recordProcessInfo(registry: Registry, labels: Record<string, string>): void {
  const names = ['version', ...Object.keys(labels)];
  const info = new Gauge({ name: 'clipstream_process_info', help: 'What this process runs (value 1): version, model, execution provider, queues', labelNames: names, registers: [registry] });
  info.set({ version: CLIPSTREAM_VERSION, ...labels }, 1);
}
