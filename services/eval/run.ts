/**
 * `clipstream eval`: every judged query in every retrieval mode through /v1/search (a running
 * service or one in this process), scored at k. Results are ranked by product (a product counts
 * at its best hit) unless the judgments name point ids. Image queries are dense by nature: they
 * run as such in hybrid and dense mode and are left out of the lexical figures.
 */
import { readFile } from 'node:fs/promises';
import { ClipstreamError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/store/ids.ts';
import type { EvalQuery } from './judgments.ts';
import { meanScores, scoreRanking, type QueryScores } from './metrics.ts';

export const EVAL_MODES = ['hybrid', 'dense', 'lexical'] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

/** POST /v1/search with this body; the status and JSON answer. */
export type SearchCall = (body: Record<string, unknown>) => Promise<{ status: number; json: unknown }>;

export interface Cell extends QueryScores {
  queries: number;
}

export interface ModeReport {
  overall: Cell;
  byKind: Record<string, Cell>;
  byLang: Record<string, Cell>;
}

export interface EvalReport {
  k: number;
  modes: Partial<Record<EvalMode, ModeReport>>;
  /** Per query and mode: its scores and the top of its ranking. */
  queries: Array<{ id: string; kind: string; lang?: string; mode: EvalMode; scores: QueryScores; top: string[] }>;
}

export interface EvalOptions {
  modes?: readonly EvalMode[];
  k?: number;
  /** Hits asked for per query (products are read from them). */
  depth?: number;
}

interface SearchHitLike {
  id: string;
  payload?: { product_id?: unknown };
}

export async function runEval(queries: readonly EvalQuery[], search: SearchCall, options: EvalOptions = {}): Promise<EvalReport> {
  const k = options.k ?? 10;
  const depth = options.depth ?? Math.max(50, k * 5);
  const modes = options.modes ?? EVAL_MODES;
  const report: EvalReport = { k, modes: {}, queries: [] };
  const images = new Map<string, string>();
  for (const mode of modes) {
    const rows: Array<{ q: EvalQuery; scores: QueryScores }> = [];
    for (const q of queries) {
      if (q.image && mode === 'lexical') continue;
      const body: Record<string, unknown> = { limit: depth, with_payload: true, explain: false };
      if (q.text !== undefined) Object.assign(body, { text: q.text, mode, ...(q.lang ? { lang: q.lang } : {}) });
      else {
        let b64 = images.get(q.image!);
        if (!b64) {
          b64 = (await readFile(q.image!).catch((err: NodeJS.ErrnoException) => {
            throw new ClipstreamError('SOURCE_NOT_FOUND', `cannot read the query image: ${err.code ?? err.message}`, { item: q.image! });
          })).toString('base64');
          images.set(q.image!, b64);
        }
        body.image = { base64: b64 };
      }
      if (q.filter) body.filter = q.filter;
      const { status, json } = await search(body);
      if (status !== 200) {
        const message = (json as { error?: { message?: string } }).error?.message ?? JSON.stringify(json);
        throw new ClipstreamError('BAD_REQUEST', `query ${q.id} in ${mode} mode failed (HTTP ${status}): ${message}`, { item: q.id });
      }
      const hits = ((json as { hits?: SearchHitLike[] }).hits ?? []) as SearchHitLike[];
      const ranked = ranking(hits, pointJudged(q));
      const scores = scoreRanking(ranked, q.relevant, k);
      rows.push({ q, scores });
      report.queries.push({ id: q.id, kind: q.kind, ...(q.lang ? { lang: q.lang } : {}), mode, scores, top: ranked.slice(0, k) });
    }
    report.modes[mode] = {
      overall: cell(rows.map((r) => r.scores)),
      byKind: groupCells(rows, (q) => q.kind),
      byLang: groupCells(rows, (q) => q.lang ?? (q.image ? 'image' : '-')),
    };
  }
  return report;
}

/** Judgments keyed by point ids rank points; otherwise products, each at its best hit. */
function pointJudged(q: EvalQuery): boolean {
  return Object.keys(q.relevant).every((id) => isUuid(id));
}

function ranking(hits: readonly SearchHitLike[], byPoint: boolean): string[] {
  if (byPoint) return hits.map((h) => h.id);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const h of hits) {
    const p = h.payload?.product_id;
    const id = typeof p === 'string' || typeof p === 'number' ? String(p) : h.id;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  return out;
}

function cell(scores: QueryScores[]): Cell {
  return { ...meanScores(scores), queries: scores.length };
}

function groupCells(rows: Array<{ q: EvalQuery; scores: QueryScores }>, key: (q: EvalQuery) => string): Record<string, Cell> {
  const groups = new Map<string, QueryScores[]>();
  for (const r of rows) {
    const g = key(r.q);
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(r.scores);
  }
  return Object.fromEntries([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([g, s]) => [g, cell(s)]));
}

// ─── thresholds ──────────────────────────────────────────────────────────────────────────────

export type MetricName = 'recall' | 'ndcg' | 'mrr';

export interface Threshold {
  /** Undefined: every mode evaluated. */
  mode?: EvalMode;
  /** Undefined: the mode's overall figure; else a query kind. */
  kind?: string;
  metric: MetricName;
  min: number;
}

/** `[MODE[.KIND]:]METRIC@k=VALUE`, e.g. `hybrid:ndcg@10=0.7`, `hybrid.sku:mrr@10=0.95`, `recall@10=0.5`. */
export function parseThreshold(spec: string, k: number): Threshold {
  const m = /^(?:([a-z]+)(?:\.([\w-]+))?:)?(recall|ndcg|mrr)@(\d+)=([0-9]*\.?[0-9]+)$/.exec(spec.trim());
  if (!m) throw new ClipstreamError('BAD_REQUEST', `--min ${spec}: expected [MODE[.KIND]:]METRIC@${k}=VALUE, e.g. hybrid:ndcg@${k}=0.7`);
  const [, mode, kind, metric, at, value] = m;
  if (mode !== undefined && !(EVAL_MODES as readonly string[]).includes(mode)) throw new ClipstreamError('BAD_REQUEST', `--min ${spec}: mode must be one of ${EVAL_MODES.join(', ')}`);
  if (Number(at) !== k) throw new ClipstreamError('BAD_REQUEST', `--min ${spec}: this run measures @${k}`);
  return { ...(mode ? { mode: mode as EvalMode } : {}), ...(kind ? { kind } : {}), metric: metric as MetricName, min: Number(value) };
}

/** The thresholds the report falls below, as sentences. */
export function thresholdFailures(report: EvalReport, thresholds: readonly Threshold[]): string[] {
  const failures: string[] = [];
  for (const t of thresholds) {
    for (const [mode, r] of Object.entries(report.modes) as Array<[EvalMode, ModeReport]>) {
      if (t.mode && t.mode !== mode) continue;
      const c = t.kind ? r.byKind[t.kind] : r.overall;
      const label = `${mode}${t.kind ? ` ${t.kind}` : ''} ${t.metric}@${report.k}`;
      if (!c) failures.push(`${label}: no such queries`);
      else if (c[t.metric] < t.min) failures.push(`${label} is ${c[t.metric].toFixed(3)}, below ${t.min}`);
    }
  }
  return failures;
}

// ─── table ───────────────────────────────────────────────────────────────────────────────────

export function formatReport(report: EvalReport): string {
  const k = report.k;
  const lines = [`mode     group                 queries  recall@${k}  nDCG@${k}  MRR@${k}`];
  const row = (mode: string, group: string, c: Cell) =>
    lines.push(`${mode.padEnd(8)} ${group.padEnd(21)} ${String(c.queries).padStart(7)}  ${c.recall.toFixed(3).padStart(9)}  ${c.ndcg.toFixed(3).padStart(7)}  ${c.mrr.toFixed(3).padStart(6)}`);
  for (const [mode, r] of Object.entries(report.modes) as Array<[string, ModeReport]>) {
    row(mode, 'all', r.overall);
    for (const [kind, c] of Object.entries(r.byKind)) row('', `kind ${kind}`, c);
    for (const [lang, c] of Object.entries(r.byLang)) row('', `lang ${lang}`, c);
  }
  return lines.join('\n') + '\n';
}
