/**
 * A judged query set: JSONL, one query a line — `query` (text) or `image` (a file path, relative to
 * the file), optional `id`, `kind`, `lang`, `filter`, and `relevant` ({product or point id: grade}).
 * TREC qrels (`qid 0 docid grade` lines) may give or add the judgments, keyed by the queries' `id`.
 * A bad line fails with its file and line number.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipstreamError } from '../../shared/errors.ts';

export interface EvalQuery {
  id: string;
  kind: string;
  text?: string;
  /** Absolute path of the query image. */
  image?: string;
  lang?: string;
  filter?: Record<string, unknown>;
  relevant: Record<string, number>;
}

export async function readJudgedQueries(file: string, qrelsFile?: string): Promise<EvalQuery[]> {
  const lines = (await readText(file)).split('\n');
  const queries: EvalQuery[] = [];
  const base = path.dirname(path.resolve(file));
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new ClipstreamError('BAD_REQUEST', `malformed JSON: ${(err as Error).message}`, { item: where });
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ClipstreamError('BAD_REQUEST', 'expected a JSON object', { item: where });
    const o = v as Record<string, unknown>;
    const text = typeof o.query === 'string' && o.query.trim() !== '' ? o.query : undefined;
    const image = typeof o.image === 'string' && o.image !== '' ? path.resolve(base, o.image) : undefined;
    if ((text === undefined) === (image === undefined)) throw new ClipstreamError('BAD_REQUEST', 'give exactly one of query (text) or image (a file path)', { item: where });
    const relevant: Record<string, number> = {};
    if (o.relevant !== undefined) {
      const r = o.relevant;
      if (Array.isArray(r)) for (const id of r) relevant[String(id)] = 1;
      else if (r && typeof r === 'object') {
        for (const [id, g] of Object.entries(r)) {
          if (typeof g !== 'number' || !Number.isFinite(g)) throw new ClipstreamError('BAD_REQUEST', `relevant.${id}: the grade must be a number`, { item: where });
          relevant[id] = g;
        }
      } else throw new ClipstreamError('BAD_REQUEST', 'relevant must be an object {id: grade} or a list of ids', { item: where });
    }
    if (o.filter !== undefined && (o.filter === null || typeof o.filter !== 'object')) throw new ClipstreamError('BAD_REQUEST', 'filter must be an object', { item: where });
    queries.push({
      id: typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(queries.length + 1),
      kind: typeof o.kind === 'string' ? o.kind : image ? 'image' : 'text',
      ...(text !== undefined ? { text } : {}),
      ...(image !== undefined ? { image } : {}),
      ...(typeof o.lang === 'string' ? { lang: o.lang } : {}),
      ...(o.filter ? { filter: o.filter as Record<string, unknown> } : {}),
      relevant,
    });
  });
  if (qrelsFile) {
    const byId = new Map(queries.map((q) => [q.id, q]));
    (await readText(qrelsFile)).split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const parts = line.trim().split(/\s+/);
      const [qid, , doc, grade] = parts;
      if (parts.length !== 4 || !Number.isFinite(Number(grade))) throw new ClipstreamError('BAD_REQUEST', 'expected "query-id iteration doc-id grade"', { item: `${qrelsFile}:${i + 1}` });
      const q = byId.get(qid!);
      if (!q) throw new ClipstreamError('BAD_REQUEST', `no query with id ${qid}`, { item: `${qrelsFile}:${i + 1}` });
      q.relevant[doc!] = Number(grade);
    });
  }
  const unjudged = queries.filter((q) => !Object.values(q.relevant).some((g) => g > 0));
  if (unjudged.length > 0) throw new ClipstreamError('BAD_REQUEST', `queries without a relevant result: ${unjudged.slice(0, 5).map((q) => q.id).join(', ')}${unjudged.length > 5 ? ', …' : ''}`, { item: file });
  return queries;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ClipstreamError('SOURCE_NOT_FOUND', `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { item: file });
  }
}
