// The Grafana dashboard, the Prometheus scrape config and the alert rules, checked against the
// metrics the processes really register: a renamed series breaks this test, not a dashboard.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { processRegistry, recordProcessInfo } from '../../services/metrics/registry.ts';
import { PipelineMetrics } from '../../services/metrics/pipeline.ts';
import { registerQueueMetrics } from '../../services/metrics/queues.ts';
import { producerListener } from '../../services/metrics/producer.ts';
import { QueryMetrics } from '../../services/query/metrics.ts';
import { StoreMetrics } from '../../services/store/http/metrics.ts';
import { Store } from '../../services/store/index.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';

let redis: TestRedis;
let storeDir: string;
const registered = new Set<string>(['up']);

before(async () => {
  redis = await testRedis(import.meta.url);
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-observability-'));
  const worker = processRegistry('worker');
  new PipelineMetrics(worker);
  recordProcessInfo(worker, { model: 'm', execution_provider: 'cpu', queues: 'image' });
  const queues = registerQueueMetrics(worker, { redis: redis.redis, prefix: redis.prefix, queues: ['embed-image'] });
  producerListener(worker, {});
  const store = Store.open(storeDir);
  try {
    for (const registry of [worker, new QueryMetrics({ defaultMetrics: true }).registry, new StoreMetrics(store).registry]) {
      for (const m of registry.getMetricsAsArray()) {
        registered.add(m.name);
        if ((m as unknown as { type?: string }).type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) registered.add(m.name + s);
      }
    }
  } finally {
    await store.close();
    await queues.close();
  }
});

after(async () => {
  await redis?.cleanup();
  fs.rmSync(storeDir, { recursive: true, force: true });
});

/** Metric names in a PromQL expression (identifiers followed by a selector, a range or an operator, minus functions and keywords). */
function metricNames(expr: string): string[] {
  const cleaned = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  const words = cleaned.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const notMetrics = new Set(['sum', 'by', 'rate', 'max', 'count', 'or', 'vector', 'histogram_quantile', 'clamp_min', 'absent', 'and', 'without', 'le', 'on', 'ignoring']);
  return [...new Set(words.filter((w) => !notMetrics.has(w) && !/^[a-z]+$/.test(w) || w === 'up'))];
}

const dashboard = JSON.parse(fs.readFileSync('infra/grafana/clipstream.json', 'utf8')) as { uid: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
const alerts = parse(fs.readFileSync('infra/prometheus/alerts.yml', 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string }> }> };

test('every dashboard query uses metrics the processes register', () => {
  assert.equal(dashboard.uid, 'clipstream');
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const want of ['ingest rate', 'queue depth', 'oldest waiting', 'errors by cause', 'encode latency', 'batch size', 'gpu', 'query latency', 'cache hit']) assert.ok(titles.includes(want), `a panel for ${want}`);
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, panel.title);
    for (const t of panel.targets) {
      const names = metricNames(t.expr);
      assert.ok(names.length > 0, `${panel.title}: ${t.expr}`);
      for (const n of names) assert.ok(registered.has(n), `${panel.title}: ${n} is registered (${t.expr})`);
    }
  }
});

test('alert rules: queue age over 10 minutes, error rate over 1 %, no worker alive — on registered metrics', () => {
  const rules = alerts.groups.flatMap((g) => g.rules);
  const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
  assert.match(byName.ClipstreamQueueStuck!.expr, /clipstream_queue_oldest_waiting_seconds\) > 600/);
  assert.match(byName.ClipstreamJobErrorRate!.expr, /> 0\.01/);
  assert.match(byName.ClipstreamNoWorkerAlive!.expr, /absent\(up\{job="clipstream-worker"\} == 1\)/);
  for (const r of rules) {
    assert.ok(r.for, `${r.alert} has a for: duration`);
    for (const n of metricNames(r.expr)) assert.ok(registered.has(n), `${r.alert}: ${n} is registered`);
  }
});

test('the scrape config reaches every process on the port it serves, and loads the alert rules', () => {
  const prom = parse(fs.readFileSync('infra/prometheus/prometheus.yml', 'utf8')) as {
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
  };
  const jobs = Object.fromEntries(prom.scrape_configs.map((j) => [j.job_name, j]));
  assert.deepEqual(jobs['clipstream-query']!.static_configs![0]!.targets, ['query:8080']);
  assert.deepEqual(jobs['clipstream-worker']!.dns_sd_configs![0]!.names.sort(), ['worker-cpu', 'worker-gpu']);
  assert.equal(jobs['clipstream-worker']!.dns_sd_configs![0]!.port, 9464);
  assert.deepEqual(jobs['clipstream-scheduler']!.static_configs![0]!.targets, ['scheduler:9464']);
  // The compose file mounts infra/prometheus at /etc/prometheus.
  for (const file of prom.rule_files) assert.ok(fs.existsSync(path.join('infra/prometheus', path.basename(file))), file);
  const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> };
  assert.ok(compose.services.prometheus!.volumes!.includes('./infra/prometheus:/etc/prometheus:ro'));
  for (const name of ['worker-cpu', 'worker-gpu', 'scheduler', 'query']) assert.ok(compose.services[name], name);
  // Grafana's provisioning points at the folder the dashboard is mounted in.
  const provider = parse(fs.readFileSync('infra/grafana/provisioning/dashboards/clipstream.yml', 'utf8')) as { providers: Array<{ options: { path: string } }> };
  const mount = compose.services.grafana!.volumes!.find((v) => v.startsWith('./infra/grafana/clipstream.json:'))!;
  assert.equal(path.dirname(mount.split(':')[1]!), provider.providers[0]!.options.path);
});
