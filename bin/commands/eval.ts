/** `clipstream eval`: relevance of each retrieval mode on a judged query set, with CI thresholds. */
import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { readJudgedQueries } from '../../services/eval/judgments.ts';
import { EVAL_MODES, formatReport, parseThreshold, runEval, thresholdFailures, type EvalMode } from '../../services/eval/run.ts';
import { openSearchTarget } from './search-target.ts';
import { positiveInt } from './options.ts';

interface EvalOptions {
  queries: string;
  qrels?: string;
  modes: string;
  k: string;
  min: string[];
  json?: boolean;
  server?: string;
  apiKey?: string;
  allowTestModel?: boolean;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('run a judged query set in each retrieval mode: recall@k, nDCG@k and MRR@k per mode, query kind and language')
    .requiredOption('--queries <file>', 'judged queries (JSONL: query or image, lang, filter, relevant {id: grade})')
    .option('--qrels <file>', 'TREC qrels (query-id 0 doc-id grade) giving or adding the judgments')
    .option('--modes <list>', 'retrieval modes, comma-separated', EVAL_MODES.join(','))
    .option('--k <n>', 'cut-off', '10')
    .option('--min <spec>', 'fail (exit 1) below this, e.g. hybrid:ndcg@10=0.7 or hybrid.sku:mrr@10=0.95; repeatable', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--json', 'print the report as JSON')
    .option('--server <url>', 'ask a running query service instead of the store directly')
    .option('--api-key <key>', 'API key for --server (default: API_KEY)')
    .option('--allow-test-model', 'without --server: fall back to the bundled test model when jina-clip-v2 cannot be had')
    .addHelpText('after', '\nExample:\n  clipstream eval --queries examples/catalogue/queries.jsonl --min hybrid:ndcg@10=0.6 --min hybrid.sku:mrr@10=0.95')
    .action(async (opts: EvalOptions) => {
      const k = positiveInt('--k', opts.k);
      const modes = opts.modes.split(',').map((m) => m.trim()).filter(Boolean);
      for (const m of modes) if (!(EVAL_MODES as readonly string[]).includes(m)) throw new ClipstreamError('BAD_REQUEST', `--modes: ${m} is not one of ${EVAL_MODES.join(', ')}`);
      const thresholds = opts.min.map((s) => parseThreshold(s, k));
      const queries = await readJudgedQueries(opts.queries, opts.qrels);
      const target = await openSearchTarget({ server: opts.server, apiKey: opts.apiKey ?? config().server.apiKey, allowTestModel: opts.allowTestModel });
      let report;
      try {
        report = await runEval(queries, target.search, { modes: modes as EvalMode[], k });
      } finally {
        await target.close();
      }
      const failures = thresholdFailures(report, thresholds);
      if (opts.json) process.stdout.write(JSON.stringify({ k: report.k, modes: report.modes, failures, queries: report.queries }, null, 2) + '\n');
      else process.stdout.write(formatReport(report));
      for (const f of failures) process.stderr.write(`clipstream eval: ${f}\n`);
      if (failures.length > 0) process.exitCode = 1;
    });
}
