/**
 * The test model's XLM-RoBERTa-like Unigram vocabulary and its Hugging Face tokenizer files.
 *
 * Ids follow XLM-R: <s>=0, <pad>=1, </s>=2, <unk>=3, then pieces by descending score, <mask> last.
 * Scores are log-probabilities chosen so the Viterbi segmentation is sensible: a concept word is
 * one piece (highest), then whole common words, then frequent sub-words, then single characters.
 * Each score carries a small seeded jitter so no two segmentations of a string tie exactly (a
 * tie would be broken differently by different Unigram implementations).
 */
import { CATEGORIES, COLOURS, LANGUAGES, type Language } from './concepts.ts';
import { CHARACTER_SETS, COMBINING_SETS, FILLER_WORDS, isUnspacedScript } from './lexicon.ts';
import { Rng } from './prng.ts';

export const SPACE = '▁';
export const SPECIAL_TOKENS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
export const MASK_TOKEN = '<mask>';
export const PAD_ID = 1;
export const UNK_ID = 3;

export interface VocabularyPiece {
  piece: string;
  score: number;
  /** Index of the concept axis (colours first, then categories) when the piece names a concept (every inflection of it does). */
  concept?: number | undefined;
}

export interface Vocabulary {
  /** In id order, <mask> last. */
  pieces: VocabularyPiece[];
}

const nfkc = (s: string) => s.normalize('NFKC');
const hasCase = (s: string) => s.toLowerCase() !== s.toUpperCase();
const capitalise = (s: string) => {
  const [first = '', ...rest] = [...s];
  return first.toUpperCase() + rest.join('');
};

/** Forms a word is looked up in: as written, lower case, Capitalised and UPPER for cased scripts. */
function casedForms(word: string): string[] {
  if (!hasCase(word)) return [word];
  const lower = word.toLowerCase();
  return [...new Set([word, lower, capitalise(lower), word.toUpperCase()].map(nfkc))];
}

export function buildVocabulary(): Vocabulary {
  const rng = new Rng('vocabulary');
  const jitter = () => Math.round(rng.uniform() * 0.05 * 1e6) / 1e6;
  const entries = new Map<string, VocabularyPiece>();
  const add = (piece: string, score: number, concept?: number) => {
    const existing = entries.get(piece);
    if (existing) {
      if (concept !== undefined && existing.concept !== undefined && existing.concept !== concept) {
        throw new Error(`piece "${piece}" names two concepts (${existing.concept} and ${concept})`);
      }
      return;
    }
    entries.set(piece, { piece, score: Math.round((score - jitter()) * 1e6) / 1e6, concept });
  };

  // 1. Concept words: one piece per form; scripts without spaces also get the bare form so the
  //    word is found inside a run like 赤い靴 or 红色鞋子.
  const concepts = [
    ...COLOURS.map((c) => ({ words: c.words, isCategory: false })),
    ...CATEGORIES.map((c) => ({ words: c.words, isCategory: true })),
  ];
  concepts.forEach(({ words, isCategory }, index) => {
    for (const lang of LANGUAGES) {
      for (const word of words[lang as Language]) {
        for (const form of casedForms(nfkc(word))) {
          add(SPACE + form, -5, index);
          if (isUnspacedScript(form)) add(form, -5.2, index);
        }
        // German compounds end with the category noun: Lederschuhe, Handtasche, Wasserflasche.
        if (isCategory && lang === 'de') add(nfkc(word).toLowerCase(), -5.4, index);
      }
    }
  });

  // 2. Whole common words.
  const fillerWords: string[] = [];
  for (const text of Object.values(FILLER_WORDS)) fillerWords.push(...text.split(/\s+/).filter(Boolean).map(nfkc));
  for (const word of fillerWords) {
    for (const form of casedForms(word)) {
      add(SPACE + form, form === word || form === word.toLowerCase() ? -7 : -7.4);
      if (isUnspacedScript(form)) add(form, -7.2);
    }
  }

  // 3. Sub-words: the most frequent word-initial prefixes and inner substrings of the known words,
  //    scored by log frequency, so unknown words split into plausible chunks.
  const conceptWords = concepts.flatMap(({ words }) => LANGUAGES.flatMap((l) => words[l as Language].map(nfkc)));
  const spaced = [...fillerWords, ...conceptWords].filter((w) => !isUnspacedScript(w)).map((w) => w.toLowerCase());
  const counts = new Map<string, number>();
  for (const word of spaced) {
    const chars = [...word];
    for (let len = 1; len <= Math.min(4, chars.length); len++) {
      const p = SPACE + chars.slice(0, len).join('');
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    for (let start = 1; start < chars.length; start++) {
      for (let len = 2; len <= 4 && start + len <= chars.length; len++) {
        const p = chars.slice(start, start + len).join('');
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
    }
  }
  const frequent = [...counts.entries()]
    .filter(([, n]) => n >= 2)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, 2500);
  const maxLog = Math.log(frequent[0]?.[1] ?? 2);
  for (const [piece, n] of frequent) add(piece, -8 - 1.5 * (1 - Math.log(n) / maxLog));

  // 4. The bare word boundary and single characters of every covered script.
  add(SPACE, -8.5);
  for (const [set, chars] of Object.entries(CHARACTER_SETS)) {
    for (const raw of chars) {
      const c = nfkc(raw);
      if ([...c].length !== 1) continue; // compatibility characters that normalise to several
      add(c, -10);
      if (!COMBINING_SETS.has(set)) add(SPACE + c, -10.3);
    }
  }

  const ordered = [...entries.values()].sort((a, b) => b.score - a.score || (a.piece < b.piece ? -1 : a.piece > b.piece ? 1 : 0));
  return {
    pieces: [
      ...SPECIAL_TOKENS.map((piece) => ({ piece, score: 0 })),
      ...ordered,
      { piece: MASK_TOKEN, score: 0 },
    ],
  };
}

const added = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: content === MASK_TOKEN,
  rstrip: false,
  normalized: false,
  special: true,
});

/**
 * tokenizer.json in the format of Hugging Face `tokenizers`. XLM-R's normalizer is a compiled
 * SentencePiece charsmap (nmt_nfkc); this one spells out the equivalent steps: NFKC, drop control
 * and zero-width characters, collapse whitespace runs to one space, strip both ends.
 */
export function tokenizerJson(vocab: Vocabulary): object {
  const maskId = vocab.pieces.length - 1;
  const metaspace = { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...SPECIAL_TOKENS.map((t, i) => added(i, t)), added(maskId, MASK_TOKEN)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Replace', pattern: { Regex: '[\\x00-\\x08\\x0e-\\x1f\\x7f\u200b\u2060\ufeff]' }, content: '' },
        { type: 'Replace', pattern: { Regex: '[\t\n\r\u000b\u000c\u0085\u2028\u2029 ]+' }, content: ' ' },
        { type: 'Strip', strip_left: true, strip_right: true },
      ],
    },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: {
        '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] },
        '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] },
      },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: UNK_ID, vocab: vocab.pieces.map((p) => [p.piece, p.score]), byte_fallback: false },
  };
}

/** tokenizer_config.json as jina-clip-v2 ships it (XLMRobertaTokenizer, 8192 positions). */
export function tokenizerConfigJson(vocab: Vocabulary): object {
  const maskId = vocab.pieces.length - 1;
  const decoderEntry = (id: number, content: string) => {
    const { id: _id, ...rest } = added(id, content);
    return rest;
  };
  return {
    added_tokens_decoder: Object.fromEntries([
      ...SPECIAL_TOKENS.map((t, i) => [String(i), decoderEntry(i, t)]),
      [String(maskId), decoderEntry(maskId, MASK_TOKEN)],
    ]),
    bos_token: '<s>',
    clean_up_tokenization_spaces: true,
    cls_token: '<s>',
    eos_token: '</s>',
    mask_token: '<mask>',
    model_max_length: 8192,
    pad_token: '<pad>',
    sep_token: '</s>',
    tokenizer_class: 'XLMRobertaTokenizer',
    unk_token: '<unk>',
  };
}

export function specialTokensMapJson(): object {
  const token = (content: string) => ({ content, lstrip: content === MASK_TOKEN, normalized: false, rstrip: false, single_word: false });
  return {
    bos_token: token('<s>'),
    cls_token: token('<s>'),
    eos_token: token('</s>'),
    mask_token: token('<mask>'),
    pad_token: token('<pad>'),
    sep_token: token('</s>'),
    unk_token: token('<unk>'),
  };
}
