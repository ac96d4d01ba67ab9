/**
 * Text → analysed tokens with their spans in the original text (for highlighting):
 *
 * 1. Word pieces: maximal runs of letters, digits, marks and `_`. For space-delimited scripts
 *    these are exactly the UAX #29 word segments (what `Intl.Segmenter` yields) split at the
 *    punctuation inside them (`Bolt's`, `27.8`), which is what FastEmbed's `[^\w]` split does.
 *    A piece holding Han, kana, Thai, Lao, Khmer or Myanmar letters has no spaces to go by and is
 *    segmented by `Intl.Segmenter`'s dictionary for the language (赤いレザーバッグ → 赤い|レザー|バッグ).
 *    Only those pieces pay for the segmenter, which costs ~2 µs a word.
 * 2. Each piece is NFKC-normalised and lower-cased (fullwidth ＷＨ → wh).
 * 3. Pieces joined by a single `-`, `/` or `.` form a run; a run mixing letters and digits is a
 *    product code and also yields its parts joined (`WH-1000XM5` → `wh`, `1000xm5`, `wh1000xm5`),
 *    so a shopper typing it with or without the hyphen finds it.
 * 4. Stop words are dropped, tokens over 40 characters too (as FastEmbed), the rest stemmed unless
 *    they hold a digit (a model number is never stemmed: `2000s` stays `2000s`), then optionally
 *    accent-folded.
 */
import type { LanguageRules } from './languages.ts';

export interface AnalysedToken {
  /** The final term (its id is `termId(term)`). */
  term: string;
  /** UTF-16 offsets in the original text of what the term came from. */
  start: number;
  end: number;
}

export interface TokenOptions {
  foldAccents: boolean;
  /** Longer tokens are dropped (FastEmbed: 40). */
  maxTokenLength: number;
  /**
   * Keep a product code's parts besides its whole form (documents). A query leaves them out: a
   * shopper typing `CS-1021D` means that code, and parts shared by every SKU (`cs`) would put
   * all products in the lexical ranking.
   */
  codeParts?: boolean;
}

interface Piece {
  text: string;
  start: number;
  end: number;
}

const PIECE = /[\p{L}\p{N}\p{M}_]+/gu;
const NON_WORD = /[^\p{L}\p{N}\p{M}_]+/u;
const DICTIONARY_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const CONNECTOR = /^[-/.\p{Pd}]$/u;
const HAS_DIGIT = /\p{N}/u;
const HAS_LETTER = /\p{L}/u;
const MARKS = /\p{M}+/gu;

const segmenters = new Map<string, Intl.Segmenter>();
function segmenter(lang: string): Intl.Segmenter {
  let s = segmenters.get(lang);
  if (!s) {
    s = new Intl.Segmenter(lang || 'und', { granularity: 'word' });
    segmenters.set(lang, s);
  }
  return s;
}

function pieces(text: string, lang: string): Piece[] {
  const out: Piece[] = [];
  for (const m of text.matchAll(PIECE)) {
    const raw = m[0];
    const start = m.index;
    if (DICTIONARY_SCRIPT.test(raw)) {
      for (const seg of segmenter(lang).segment(raw)) {
        if (seg.isWordLike) pushNormalised(out, seg.segment, start + seg.index);
      }
    } else {
      pushNormalised(out, raw, start);
    }
  }
  return out;
}

function pushNormalised(out: Piece[], raw: string, start: number): void {
  const end = start + raw.length;
  const norm = raw.normalize('NFKC').toLowerCase();
  // NFKC may turn a word character into punctuation (½ → 1⁄2): those parts keep the piece's span.
  if (!NON_WORD.test(norm)) out.push({ text: norm, start, end });
  else for (const part of norm.split(NON_WORD)) if (part !== '') out.push({ text: part, start, end });
}

/** The analysed tokens of `text` under a language's rules, in text order. */
export function analyseTokens(text: string, rules: LanguageRules, options: TokenOptions): AnalysedToken[] {
  const ps = pieces(text, rules.lang);
  const out: AnalysedToken[] = [];
  let runStart = 0;
  let runOut = 0;
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const word = finalWord(p.text, rules, options);
    if (word !== undefined) out.push({ term: word, start: p.start, end: p.end });
    const next = ps[i + 1];
    const continues = next !== undefined && next.start - p.end === 1 && CONNECTOR.test(text[p.end]!);
    if (!continues) {
      if (i > runStart) {
        const code = codeOf(ps, runStart, i);
        if (code !== undefined && code.length <= options.maxTokenLength) {
          if (options.codeParts === false) out.length = runOut;
          out.push({ term: code, start: ps[runStart]!.start, end: p.end });
        }
      }
      runStart = i + 1;
      runOut = out.length;
    }
  }
  return out;
}

/** The run's parts joined, when they mix letters and digits (a model number or SKU). */
function codeOf(ps: Piece[], from: number, to: number): string | undefined {
  let joined = '';
  for (let j = from; j <= to; j++) joined += ps[j]!.text;
  return HAS_DIGIT.test(joined) && HAS_LETTER.test(joined) ? joined : undefined;
}

function finalWord(word: string, rules: LanguageRules, options: TokenOptions): string | undefined {
  if (rules.stopwords.has(word) || word.length > options.maxTokenLength) return undefined;
  let out = rules.stem && !HAS_DIGIT.test(word) ? rules.stem(word).trim() : word;
  if (options.foldAccents) out = out.normalize('NFD').replace(MARKS, '').normalize('NFC');
  return out === '' ? undefined : out;
}
