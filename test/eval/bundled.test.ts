/**
 * The relevance goals on the bundled shop with the test model: ingest examples/catalogue, run its
 * judged queries in every mode, and hold hybrid to them — nDCG@10 above dense and lexical, exact
 * codes at MRR@10 ≥ 0.95 (dense alone cannot), cross-lingual descriptions within 0.02 of dense.
 * Then `clipstream eval` itself: the table, --json and a --min that fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../shared/encoder/index.ts';
import { runIngest } from '../../services/producer/ingest.ts';
import { buildQueryApp } from '../../services/query/app.ts';
import { readJudgedQueries } from '../../services/eval/judgments.ts';
import { runEval, type EvalReport } from '../../services/eval/run.ts';
import { startTestStore, type TestStore } from '../support/store.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const catalogue = path.join(repo, 'examples/catalogue');
const queriesFile = path.join(catalogue, 'queries.jsonl');
let store: TestStore;
let config: Config;
let encoder: ClipEncoder;
let app: FastifyInstance;
let env: Record<string, string>;

before(async () => {
  store = await startTestStore();
  env = { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'clipstream-eval-')), MODEL_DIR: path.join(repo, 'models/test-tiny'), QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('shop') };
  config = loadConfig(env);
  const summary = await runIngest(config, [catalogue], { mode: 'embedded', store, selection: { exclude: ['queries.jsonl', 'query-images/**'] } });
  assert.equal(summary.failed, 0);
  encoder = await openEncoder(config);
  app = await buildQueryApp({ config, encoder, store: { client: store.client, url: store.url } });
});

after(async () => {
  await app?.close();
  await encoder?.close();
  await store?.close();
});

test('the bundled judged set: at least 200 queries of every kind the issue names', async () => {
  const qs = await readJudgedQueries(queriesFile);
  assert.ok(qs.length >= 200, `${qs.length} queries`);
  assert.deepEqual(new Set(qs.map((q) => q.kind)), new Set(['sku', 'brand_category', 'cross_lingual', 'misspelled', 'image']));
});

test('hybrid beats dense and lexical; exact codes are found first; cross-lingual stays with dense', async () => {
  const qs = await readJudgedQueries(queriesFile);
  const report: EvalReport = await runEval(qs, async (body) => {
    const res = await app.inject({ method: 'POST', url: '/v1/search', payload: body });
    return { status: res.statusCode, json: res.json() };
  });
  const { hybrid, dense, lexical } = report.modes;
  assert.ok(hybrid && dense && lexical);
  assert.ok(hybrid.overall.ndcg > dense.overall.ndcg, `hybrid ${hybrid.overall.ndcg} vs dense ${dense.overall.ndcg}`);
  assert.ok(hybrid.overall.ndcg > lexical.overall.ndcg, `hybrid ${hybrid.overall.ndcg} vs lexical ${lexical.overall.ndcg}`);
  assert.ok(hybrid.byKind.sku!.mrr >= 0.95, `hybrid sku MRR ${hybrid.byKind.sku!.mrr}`);
  assert.ok(dense.byKind.sku!.mrr < 0.95, 'dense alone does not reach it');
  assert.ok(hybrid.byKind.cross_lingual!.ndcg >= dense.byKind.cross_lingual!.ndcg - 0.02, `cross-lingual ${hybrid.byKind.cross_lingual!.ndcg} vs ${dense.byKind.cross_lingual!.ndcg}`);
  // Lexical mode cannot answer image queries: they are left out of its figures, not scored 0.
  assert.equal(lexical.overall.queries, qs.filter((q) => !q.image).length);
});

test('clipstream eval prints the table, --json the report, and exits 1 below a --min', async () => {
  const cli = path.join(repo, 'bin/clipstream.mjs');
  // Asynchronously: the test store answers from this process.
  const run = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'eval', '--queries', queriesFile, '--modes', 'hybrid', ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const table = await run(['--min', 'hybrid.sku:mrr@10=0.95']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^hybrid\s+all\s+\d+/m);
  assert.match(table.stdout, /kind sku/);
  const failing = await run(['--json', '--min', 'hybrid.image:recall@10=1.5']);
  assert.equal(failing.status, 1, failing.stderr);
  const json = JSON.parse(failing.stdout) as { modes: { hybrid: { overall: { ndcg: number } } }; failures: string[] };
  assert.ok(json.modes.hybrid.overall.ndcg > 0);
  assert.match(json.failures[0]!, /hybrid image recall@10 is 1\.000, below 1\.5/);
  assert.match(failing.stderr, /below 1\.5/);
});
