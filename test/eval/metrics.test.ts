import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import { readJudgedQueries } from '../../services/eval/judgments.ts';
import { scoreRanking } from '../../services/eval/metrics.ts';
import { parseThreshold, thresholdFailures, type EvalReport } from '../../services/eval/run.ts';

test('recall, nDCG and MRR at k, computed by hand', () => {
  // Relevant: a (grade 2) and b (grade 1); ranked: x, a, y, b.
  const s = scoreRanking(['x', 'a', 'y', 'b'], { a: 2, b: 1 }, 10);
  const dcg = 3 / Math.log2(3) + 1 / Math.log2(5);
  const ideal = 3 / Math.log2(2) + 1 / Math.log2(3);
  assert.equal(s.recall, 1);
  assert.ok(Math.abs(s.ndcg - dcg / ideal) < 1e-12);
  assert.equal(s.mrr, 0.5);
  const cut = scoreRanking(['x', 'a', 'y', 'b'], { a: 2, b: 1 }, 2);
  assert.equal(cut.recall, 0.5);
  assert.deepEqual(scoreRanking(['x'], { a: 1 }, 10), { recall: 0, ndcg: 0, mrr: 0 });
});

test('judged queries: JSONL with grades or id lists, TREC qrels, and errors naming the line', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clipstream-eval-'));
  const file = path.join(dir, 'q.jsonl');
  writeFileSync(file, ['{"id":"a","query":"red shoes","lang":"en","relevant":{"P1":2}}', '{"id":"b","image":"img/x.jpg","relevant":["P2"]}', '{"id":"c","query":"hat"}', ''].join('\n'));
  const qrels = path.join(dir, 'q.qrels');
  writeFileSync(qrels, 'c 0 P3 1\na 0 P9 1\n');
  const qs = await readJudgedQueries(file, qrels);
  assert.deepEqual(qs.map((q) => [q.id, q.kind, q.relevant]), [['a', 'text', { P1: 2, P9: 1 }], ['b', 'image', { P2: 1 }], ['c', 'text', { P3: 1 }]]);
  assert.equal(qs[1]!.image, path.join(dir, 'img/x.jpg'));
  writeFileSync(file, '{"query":"a","relevant":{"P1":2}}\n{"query":"b","image":"x.jpg"}\n');
  await assert.rejects(readJudgedQueries(file), (e) => isClipstreamError(e, 'BAD_REQUEST') && e.message.startsWith(`${file}:2:`) && /exactly one of query/.test(e.message));
  writeFileSync(file, '{"query":"a"}\n');
  await assert.rejects(readJudgedQueries(file), /without a relevant result: 1/);
});

test('thresholds: per mode and query kind, failures named', () => {
  const cell = (ndcg: number) => ({ recall: 1, ndcg, mrr: ndcg, queries: 3 });
  const report: EvalReport = {
    k: 10,
    modes: { hybrid: { overall: cell(0.9), byKind: { sku: cell(0.97) }, byLang: {} }, dense: { overall: cell(0.6), byKind: { sku: cell(0.3) }, byLang: {} } },
    queries: [],
  };
  assert.deepEqual(thresholdFailures(report, [parseThreshold('hybrid.sku:mrr@10=0.95', 10), parseThreshold('hybrid:ndcg@10=0.8', 10)]), []);
  assert.deepEqual(thresholdFailures(report, [parseThreshold('ndcg@10=0.7', 10)]), ['dense ndcg@10 is 0.600, below 0.7']);
  assert.throws(() => parseThreshold('hybrid:ndcg@5=0.7', 10), /measures @10/);
  assert.throws(() => parseThreshold('fast:ndcg@10=1', 10), /mode must be one of/);
});
