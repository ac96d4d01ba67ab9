/**
 * What the analyser knows per language: its stop words and its Snowball stemmer, where it has
 * them. A language without either is still analysed (segmented, normalised), just not filtered
 * or stemmed: an unknown or missing `lang` never fails, it gets the language-neutral analyser.
 */
import snowball from 'snowball-stemmers';
import stopwordsIso from 'stopwords-iso' with { type: 'json' };
import { NLTK_ENGLISH_STOPWORDS } from './stopwords-en.ts';

/** ISO 639-1 → snowball-stemmers algorithm. */
const SNOWBALL: Readonly<Record<string, string>> = {
  ar: 'arabic', hy: 'armenian', eu: 'basque', ca: 'catalan', cs: 'czech', da: 'danish', nl: 'dutch', en: 'english',
  fi: 'finnish', fr: 'french', de: 'german', hu: 'hungarian', it: 'italian', ga: 'irish', no: 'norwegian', nb: 'norwegian',
  nn: 'norwegian', pt: 'portuguese', ro: 'romanian', ru: 'russian', es: 'spanish', sl: 'slovene', sv: 'swedish', ta: 'tamil',
  tr: 'turkish',
};

export interface LanguageRules {
  /** The base language (`de` for `de-CH`), or `''` for the language-neutral rules. */
  lang: string;
  stopwords: ReadonlySet<string>;
  /** Undefined where Snowball has no algorithm (ja, zh, th, ko, …). */
  stem?: (word: string) => string;
}

const NEUTRAL: LanguageRules = { lang: '', stopwords: new Set() };
const cache = new Map<string, LanguageRules>();

/** `de-CH`, `DE`, `de_CH` → `de`; `''` for nothing usable. */
export function baseLanguage(lang: string | undefined): string {
  if (!lang) return '';
  const base = lang.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return /^[a-z]{2,3}$/.test(base) ? base : '';
}

export function languageRules(lang: string | undefined): LanguageRules {
  const base = baseLanguage(lang);
  if (base === '') return NEUTRAL;
  let rules = cache.get(base);
  if (!rules) {
    const list = base === 'en' ? NLTK_ENGLISH_STOPWORDS : ((stopwordsIso as Record<string, string[] | undefined>)[base] ?? []);
    const algorithm = SNOWBALL[base];
    const stemmer = algorithm ? snowball.newStemmer(algorithm) : undefined;
    rules = {
      lang: base,
      stopwords: new Set(list.map((w) => w.normalize('NFKC').toLowerCase())),
      ...(stemmer ? { stem: memoised((w: string) => stemmer.stem(w)) } : {}),
    };
    cache.set(base, rules);
  }
  return rules;
}

// The JS Snowball stemmers take ~10 µs a word; catalogue vocabularies repeat heavily, so a
// bounded cache makes stemming nearly free. Cleared whole when full: simple and still >99% hits.
const STEM_CACHE_SIZE = 200_000;
function memoised(stem: (w: string) => string): (w: string) => string {
  const seen = new Map<string, string>();
  return (w) => {
    let s = seen.get(w);
    if (s === undefined) {
      if (seen.size >= STEM_CACHE_SIZE) seen.clear();
      s = stem(w);
      seen.set(w, s);
    }
    return s;
  };
}

/**
 * The language of a text by its script, for a text or query without `lang`: kana → ja, Han → zh,
 * Hangul → ko, Thai, Cyrillic (ru), Arabic, Greek, Hebrew; Latin and anything else → `fallback`
 * (LEXICAL_DEFAULT_LANG). Short queries defeat statistical detectors; the script is reliable.
 */
export function detectLanguage(text: string, fallback: string): string {
  if (/[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(text)) return 'ja';
  if (/\p{Script=Han}/u.test(text)) return 'zh';
  if (/\p{Script=Hangul}/u.test(text)) return 'ko';
  if (/\p{Script=Thai}/u.test(text)) return 'th';
  if (/\p{Script=Cyrillic}/u.test(text)) return 'ru';
  if (/\p{Script=Arabic}/u.test(text)) return 'ar';
  if (/\p{Script=Greek}/u.test(text)) return 'el';
  if (/\p{Script=Hebrew}/u.test(text)) return 'he';
  return fallback;
}
