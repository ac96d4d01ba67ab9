/**
 * The lexical analyser: text (with its language) → BM25 sparse vector `lex`, the same code at
 * ingestion and at query time so both sides produce the same terms. For English it gives
 * FastEmbed `Qdrant/bm25`'s vector (see tokens.ts for where codes add a term).
 */
import { documentWeights, queryWeights, DEFAULT_BM25, type Bm25Params, type SparseVector } from './bm25.ts';
import { baseLanguage, detectLanguage, languageRules } from './languages.ts';
import { termId } from './term-id.ts';
import { analyseTokens, type AnalysedToken } from './tokens.ts';

export type { Bm25Params, SparseVector } from './bm25.ts';
export { termId } from './term-id.ts';
export type { AnalysedToken } from './tokens.ts';

/** The named sparse vector every point carries. */
export const LEXICAL_VECTOR = 'lex';

/** Bumped when the analyser's output for the same text and settings changes (stored vectors go stale). */
export const ANALYSER_VERSION = 1;

export interface AnalyserOptions {
  /** Language of a text without `lang` whose script does not tell (Latin): LEXICAL_DEFAULT_LANG. */
  defaultLang: string;
  foldAccents: boolean;
  bm25: Bm25Params;
  maxTokenLength: number;
}

export const DEFAULT_ANALYSER: AnalyserOptions = { defaultLang: 'en', foldAccents: false, bm25: DEFAULT_BM25, maxTokenLength: 40 };

export interface QueryTerm {
  term: string;
  id: number;
}

export interface AnalysedQuery {
  vector: SparseVector;
  /** Distinct terms in query order, with their ids (to name the matched ones in a hit). */
  terms: QueryTerm[];
  /** The language the query was analysed as. */
  lang: string;
}

export class LexicalAnalyser {
  readonly options: AnalyserOptions;

  constructor(options: Partial<AnalyserOptions> = {}) {
    this.options = { ...DEFAULT_ANALYSER, ...options };
  }

  /** The language a text is analysed as: its own `lang`, else detected by script, else the default. */
  languageOf(text: string, lang?: string): string {
    return baseLanguage(lang) || detectLanguage(text, this.options.defaultLang);
  }

  tokens(text: string, lang?: string): AnalysedToken[] {
    return analyseTokens(text, languageRules(this.languageOf(text, lang)), this.options);
  }

  terms(text: string, lang?: string): string[] {
    return this.tokens(text, lang).map((t) => t.term);
  }

  /** A document's `lex` vector (BM25 TF weights; empty when nothing is left after analysis). */
  document(text: string, lang?: string): SparseVector {
    return documentWeights(this.terms(text, lang), this.options.bm25);
  }

  query(text: string, lang?: string): AnalysedQuery {
    const resolved = this.languageOf(text, lang);
    const seen = new Set<string>();
    const terms: QueryTerm[] = [];
    for (const t of analyseTokens(text, languageRules(resolved), { ...this.options, codeParts: false })) {
      if (seen.has(t.term)) continue;
      seen.add(t.term);
      terms.push({ term: t.term, id: termId(t.term) });
    }
    return { vector: queryWeights(terms.map((t) => t.term)), terms, lang: resolved };
  }

  /** Spans [start, end) of `text` whose terms are among `terms`, merged where they overlap. */
  highlights(text: string, terms: ReadonlySet<string>, lang?: string): Array<[number, number]> {
    const spans = this.tokens(text, lang)
      .filter((t) => terms.has(t.term))
      .map((t): [number, number] => [t.start, t.end])
      .sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged: Array<[number, number]> = [];
    for (const s of spans) {
      const last = merged[merged.length - 1];
      if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
      else merged.push([s[0], s[1]]);
    }
    return merged;
  }
}

/** One text of a document with its language: a record's fields, its product's texts, an image key's words. */
export interface LexicalPart {
  text: string;
  lang?: string | undefined;
}

/** A document made of several texts, each analysed in its own language, weighed as one document. */
export function documentOf(analyser: LexicalAnalyser, parts: readonly LexicalPart[]): SparseVector {
  const terms: string[] = [];
  for (const p of parts) for (const t of analyser.terms(p.text, p.lang)) terms.push(t);
  return documentWeights(terms, analyser.options.bm25);
}
