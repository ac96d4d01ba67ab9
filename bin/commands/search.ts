import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { positiveInt } from './options.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openSearchTarget } from './search-target.ts';
import type { Hit, SearchResponse } from '../../services/query/search.ts';

interface SearchOptions {
  image?: string;
  point?: string;
  modality: string;
  limit: string;
  lang?: string;
  group?: boolean;
  exact?: boolean;
  mode?: string;
  queryLang?: string;
  fusion?: string;
  json?: boolean;
  server?: string;
  apiKey?: string;
  allowTestModel?: boolean;
}

export function register(program: Command): void {
  program
    .command('search')
    .description('search the catalogue from the terminal, by text (any language), image file or point id')
    .argument('[text]', 'query text, e.g. "rote Schuhe"')
    .option('--image <file>', 'query by this image file')
    .option('--point <id>', 'more like this stored point (excluded from the results)')
    .option('--modality <m>', 'image | text | any', 'any')
    .option('--limit <n>', 'results (or groups)', '10')
    .option('--lang <codes>', 'only texts in these languages, comma-separated (e.g. de,fr)')
    .option('--group', 'group results by product')
    .option('--exact', 'exact full-dimension search instead of coarse-to-fine')
    .option('--mode <m>', 'hybrid | dense | lexical (default: hybrid for text, dense for --image and --point)')
    .option('--query-lang <code>', 'language of the query text for the lexical analyser (default: detected by script)')
    .option('--fusion <f>', 'rrf | dbsf: how hybrid fuses its two branches (default HYBRID_FUSION)')
    .option('--json', 'print the API response as JSON')
    .option('--server <url>', 'ask a running query service (e.g. http://127.0.0.1:8080) instead of the store directly')
    .option('--api-key <key>', 'API key for --server (default: API_KEY)')
    .option('--allow-test-model', 'without --server: fall back to the bundled test model when jina-clip-v2 cannot be had')
    .addHelpText(
      'after',
      '\nWithout --server the query runs in this process against QDRANT_URL or the embedded store under DATA_DIR.\n' +
        'Examples:\n  clipstream search "rote Schuhe"\n  clipstream search --image photo.jpg --modality image --group\n  clipstream search "赤い靴" --server http://127.0.0.1:8080 --json',
    )
    .action(async (text: string | undefined, opts: SearchOptions) => {
      const given = [text !== undefined, opts.image !== undefined, opts.point !== undefined].filter(Boolean).length;
      if (given !== 1) throw new ClipstreamError('BAD_REQUEST', 'give exactly one of: a query text, --image FILE or --point ID');
      if (!['image', 'text', 'any'].includes(opts.modality)) throw new ClipstreamError('BAD_REQUEST', `--modality ${opts.modality}: expected image, text or any`);
      const body: Record<string, unknown> = { modality: opts.modality, limit: positiveInt('--limit', opts.limit) };
      if (text !== undefined) body.text = text;
      if (opts.point !== undefined) body.point_id = opts.point;
      if (opts.image !== undefined) {
        let bytes: Buffer;
        try {
          bytes = await readFile(opts.image);
        } catch (err) {
          throw new ClipstreamError('SOURCE_NOT_FOUND', `cannot read the image: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { item: opts.image });
        }
        body.image = { base64: bytes.toString('base64') };
      }
      if (opts.lang) body.filter = { lang: opts.lang.split(',').map((s) => s.trim()).filter(Boolean) };
      if (opts.group) body.group_by = 'product';
      if (opts.exact) body.exact = true;
      if (opts.mode !== undefined) {
        if (!['hybrid', 'dense', 'lexical'].includes(opts.mode)) throw new ClipstreamError('BAD_REQUEST', `--mode ${opts.mode}: expected hybrid, dense or lexical`);
        body.mode = opts.mode;
      }
      if (opts.fusion !== undefined) {
        if (!['rrf', 'dbsf'].includes(opts.fusion)) throw new ClipstreamError('BAD_REQUEST', `--fusion ${opts.fusion}: expected rrf or dbsf`);
        body.fusion = opts.fusion;
      }
      if (opts.queryLang !== undefined) body.lang = opts.queryLang;

      const target = await openSearchTarget({ server: opts.server, apiKey: opts.apiKey ?? config().server.apiKey, allowTestModel: opts.allowTestModel });
      let status: number;
      let json: unknown;
      try {
        ({ status, json } = await target.search(body));
      } finally {
        await target.close();
      }
      if (status !== 200) {
        const e = (json as { error?: { code?: string; message?: string } }).error;
        process.stderr.write(`clipstream: search failed (HTTP ${status}): ${e?.message ?? JSON.stringify(json)}${e?.code ? ` [${e.code}]` : ''}\n`);
        process.exitCode = status >= 500 ? 3 : 2;
        return;
      }
      if (opts.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
      else process.stdout.write(formatResults(json as SearchResponse));
    });
}

function formatResults(r: SearchResponse): string {
  const lines: string[] = [];
  const row = (rank: string, h: Hit) => {
    const p = h.payload ?? {};
    const label = String(p.title ?? p.text ?? p.source ?? '').replace(/\s+/g, ' ');
    const x = h.explain;
    const why = x ? [x.dense_rank ? `dense #${x.dense_rank}` : '', x.lexical_rank ? `words #${x.lexical_rank}` : '', x.matched_terms.length ? `(${x.matched_terms.join(' ')})` : ''].filter(Boolean).join(' ') : '';
    lines.push(
      `${rank.padStart(3)}  ${h.score.toFixed(4)}  ${String(p.modality ?? '?').padEnd(5)}  ${String(p.lang ?? '-').padEnd(4)}  ${String(p.product_id ?? '-').padEnd(16)}  ${label.slice(0, 60)}${why ? `  [${why}]` : ''}`,
    );
  };
  lines.push(`  #  score   kind   lang  product           title`);
  if (r.groups) {
    r.groups.forEach((g, i) => {
      lines.push(`── ${i + 1}. product ${g.product_id}`);
      g.hits.forEach((h, j) => row(`${j + 1}`, h));
    });
  } else {
    r.hits!.forEach((h, i) => row(String(i + 1), h));
  }
  if ((r.hits ?? r.groups ?? []).length === 0) lines.push('  (no results)');
  const t = r.timings;
  const stages = r.query.mode === 'exact' ? 'exact search' : `stages ${r.stages.limits.join('/')} (${r.stages.source})`;
  lines.push(`encode ${t.encode_ms} ms${r.query.cached ? ' (cached)' : ''} · search ${t.search_ms} ms · total ${t.total_ms} ms · ${stages} · ${r.model}`);
  return lines.join('\n') + '\n';
}
