/** Reading Prometheus figures out of a prom-client registry in tests. */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

/**
 * The value of `name` (a counter/gauge, or a histogram's `_count`/`_sum`/`_bucket` series)
 * summed over the series whose labels include `labels`; 0 when there is none.
 */
export async function metric(registry: Registry, name: string, labels: Labels = {}): Promise<number> {
  let total = 0;
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of (m as { values?: Array<{ labels: Labels; value: number; metricName?: string }> }).values ?? []) {
      if ((v.metricName ?? m.name) !== name) continue;
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value;
    }
  }
  return total;
}
