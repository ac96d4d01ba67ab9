/**
 * Producer metrics: an embedded ingest of a small local catalogue (two images, three records,
 * one bad record) reported through `withProducerMetrics`; the figures served on /metrics while
 * the run goes on, and equal to the run's own summary at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../shared/config/index.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { withProducerMetrics } from '../../services/metrics/producer.ts';
import { productImage, testConfig } from '../pipeline/harness.ts';

let dir: string;
let config: Config;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-producer-metrics-'));
  fs.mkdirSync(path.join(dir, 'products/P1'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'products/P2'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'products/P1/front.jpg'), await productImage([200, 20, 20], 1));
  fs.writeFileSync(path.join(dir, 'products/P2/front.jpg'), await productImage([20, 20, 200], 2));
  fs.writeFileSync(
    path.join(dir, 'records.jsonl'),
    ['{"id":"r1","text":"rote Schuhe"}', '{"id":"r2","text":"blue jacket"}', '{"id":"r3","text":"   "}', '{"id":"r4","text":"緑の帽子"}'].join('\n') + '\n',
  );
  config = testConfig({ METRICS_PORT: '0' });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('ingest and its /metrics: counts by state and failures by code match the summary', async () => {
  let url: string | undefined;
  let scrapedDuringRun = '';
  const summary = await withProducerMetrics(config, { notice: (l) => (url ??= /metrics: (\S+)\/metrics/.exec(l)?.[1]) }, {}, async (listener) => {
    assert.ok(url, 'the endpoint was announced before the run');
    const result = await runIngest(config, [dir], { mode: 'embedded', listener, allowTestModel: true });
    scrapedDuringRun = await (await fetch(`${url}/metrics`)).text();
    return result;
  });
  assert.equal(summary.failed, 1);
  assert.equal(summary.indexed, 5);
  const value = (series: string) => {
    const line = scrapedDuringRun.split('\n').find((l) => l.startsWith(series));
    assert.ok(line, `${series} in ${scrapedDuringRun.slice(0, 2000)}`);
    return Number(line.split(' ').at(-1));
  };
  const run = `run_id="${summary.runId}"`;
  assert.equal(value(`clipstream_run_items{${run},state="listed",role="producer"}`), summary.total);
  assert.equal(value(`clipstream_run_items{${run},state="indexed",role="producer"}`), summary.indexed);
  assert.equal(value(`clipstream_run_items{${run},state="skipped",role="producer"}`), summary.skipped);
  assert.equal(value(`clipstream_run_items{${run},state="failed",role="producer"}`), 1);
  assert.equal(value(`clipstream_run_failures_total{code="${summary.failures[0]!.code}",role="producer"}`), 1);
  assert.match(scrapedDuringRun, /^clipstream_process_cpu_seconds_total\{role="producer"\} /m);
  await assert.rejects(fetch(`${url}/metrics`), 'the endpoint closes with the run');
});

test('without METRICS_PORT nothing listens and the listener is the one given', async () => {
  const given = { notice: () => {} };
  const seen = await withProducerMetrics(testConfig({}), given, {}, async (listener) => listener);
  assert.equal(seen, given);
});
