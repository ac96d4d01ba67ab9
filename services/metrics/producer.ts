/**
 * Metrics of a producer (`ingest`, `sync`, `rebuild`) while it runs: the run's counts as it
 * reports them (listed, queued, indexed, unchanged, failed), its rate, failures by error code
 * and, in distributed mode, the depth of the queues it fills. Read from the same progress
 * events the bar and `--json` show, so the figures never disagree with the terminal.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../shared/config/index.ts';
import { QUEUE_NAMES } from '../../shared/queue/queues.ts';
import type { ProgressListener } from '../producer/progress.ts';
import { startOpsEndpoint } from './index.ts';

export function producerListener(registry: Registry, inner: ProgressListener): ProgressListener {
  const registers = [registry];
  const items = new Gauge({
    name: 'clipstream_run_items',
    help: 'Items of the current run by state: listed (found so far), enqueued (distributed), indexed, skipped (unchanged), failed',
    labelNames: ['run_id', 'state'],
    registers,
  });
  const rate = new Gauge({ name: 'clipstream_run_items_per_second', help: 'Items done per second over the last seconds of the current run', labelNames: ['run_id'], registers });
  const failures = new Counter({ name: 'clipstream_run_failures_total', help: 'Items failed in the current run, by error code', labelNames: ['code'], registers });
  return {
    progress(p) {
      const run = { run_id: p.runId };
      items.set({ ...run, state: 'listed' }, p.total);
      if (p.enqueued !== undefined) items.set({ ...run, state: 'enqueued' }, p.enqueued);
      items.set({ ...run, state: 'indexed' }, p.indexed);
      items.set({ ...run, state: 'skipped' }, p.skipped);
      items.set({ ...run, state: 'failed' }, p.failed);
      rate.set(run, p.itemsPerSec);
      inner.progress?.(p);
    },
    failure(f) {
      failures.inc({ code: f.code });
      inner.failure?.(f);
    },
    notice(line) {
      inner.notice?.(line);
    },
  };
}

/**
 * Runs `work` with a metrics endpoint when METRICS_PORT is set (else it just runs it), handing
 * it the listener to report through; the endpoint closes when the work ends.
 */
export async function withProducerMetrics<T>(config: Config, listener: ProgressListener, options: { embedded?: boolean | undefined }, work: (listener: ProgressListener) => Promise<T>): Promise<T> {
  const ops = await startOpsEndpoint(config, 'producer');
  if (!ops) return work(listener);
  try {
    if (config.queue.redisUrl && !options.embedded) await ops.watchQueues(Object.values(QUEUE_NAMES), (l) => listener.notice?.(l));
    ops.setReadiness(async () => ({ run: { ok: true, detail: 'ok: running' } }));
    listener.notice?.(`metrics: ${ops.url}/metrics`);
    return await work(producerListener(ops.registry, listener));
  } finally {
    await ops.close();
  }
}
