/**
 * Tokenisation throughput: TextTokenizer (Hugging Face tokenizers' Rust core) against
 * transformers.js's XLMRobertaTokenizer (pure JS) built from the same tokenizer.json, on short
 * multilingual product titles and on long product descriptions (~300–500 tokens). Both produce
 * truncated id lists for batches of 64 texts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XLMRobertaTokenizer } from '@huggingface/transformers';
import { CATEGORIES, COLOURS, LANGUAGES, conceptPhrase } from '../../scripts/test-model/concepts.ts';
import { FILLER_WORDS } from '../../scripts/test-model/lexicon.ts';
import { Rng } from '../../scripts/test-model/prng.ts';
import { TextTokenizer } from '../../shared/encoder/tokenizer.ts';
import { report } from '../report.ts';

const BATCH = 64;
const MAX_TOKENS = 512;
const MIN_SECONDS = 1.5;

function defaultModelDir(): string {
  const fromEnv = process.env.MODEL_DIR;
  if (fromEnv && existsSync(path.join(fromEnv, 'tokenizer.json'))) return fromEnv;
  return fileURLToPath(new URL('../../models/test-tiny', import.meta.url));
}

function shortTitles(rng: Rng, n: number): string[] {
  const extras = ['Premium', 'Classic', '2024', 'XL', 'Leder', 'cotton', 'coton', 'algodón', '新款', 'женский', 'size 42', '— free shipping'];
  return Array.from({ length: n }, () => {
    const c = COLOURS[Math.floor(rng.uniform() * COLOURS.length)]!.id;
    const k = CATEGORIES[Math.floor(rng.uniform() * CATEGORIES.length)]!.id;
    const lang = LANGUAGES[Math.floor(rng.uniform() * LANGUAGES.length)]!;
    const extra = extras[Math.floor(rng.uniform() * extras.length)]!;
    return `${extras[Math.floor(rng.uniform() * 3)]} ${conceptPhrase(c, k, lang)} ${extra}`;
  });
}

/** Product-description-like prose from the lexicon's common words, in one language per text. */
function longDescriptions(rng: Rng, n: number, words: number): string[] {
  const langs = ['en', 'de', 'fr', 'es', 'it', 'pt', 'ru'] as const;
  return Array.from({ length: n }, () => {
    const lang = langs[Math.floor(rng.uniform() * langs.length)]!;
    const pool = FILLER_WORDS[lang]!.split(/\s+/).filter(Boolean);
    const c = COLOURS[Math.floor(rng.uniform() * COLOURS.length)]!.id;
    const k = CATEGORIES[Math.floor(rng.uniform() * CATEGORIES.length)]!.id;
    const parts: string[] = [conceptPhrase(c, k, lang) + '.'];
    let sentence: string[] = [];
    for (let i = 0; i < words; i++) {
      sentence.push(pool[Math.floor(rng.uniform() * pool.length)]!);
      if (sentence.length > 6 + rng.uniform() * 10) {
        parts.push(sentence.join(' ') + (rng.uniform() < 0.2 ? ` ${Math.floor(rng.uniform() * 500)} cm,` : '.'));
        sentence = [];
      }
    }
    return parts.join(' ');
  });
}

async function throughput(texts: readonly string[], encodeBatch: (batch: string[]) => Promise<unknown> | unknown): Promise<number> {
  // Warm-up: JIT, lazy caches.
  await encodeBatch(texts.slice(0, BATCH) as string[]);
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < MIN_SECONDS * 1000 || done < texts.length) {
    const from = done % texts.length;
    await encodeBatch(texts.slice(from, from + BATCH) as string[]);
    done += Math.min(BATCH, texts.length - from);
    if (done >= 20 * texts.length) break;
  }
  return (done / (performance.now() - started)) * 1000;
}

export async function benchTokenize(modelDir: string = defaultModelDir()): Promise<void> {
  const tokenizerPath = path.join(modelDir, 'tokenizer.json');
  const ours = await TextTokenizer.load(tokenizerPath, { maxTokens: MAX_TOKENS, maxBytes: 1 << 20 });
  const theirs = new XLMRobertaTokenizer(
    JSON.parse(readFileSync(tokenizerPath, 'utf8')),
    JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')),
  );
  const rng = new Rng('bench-tokenize');
  const workloads = [
    { name: 'short_titles', texts: shortTitles(rng, 2048) },
    { name: 'long_descriptions', texts: longDescriptions(rng, 256, 260) },
  ];
  for (const { name, texts } of workloads) {
    const sample = await ours.tokenize(texts.slice(0, 128).map((text) => ({ text })));
    const tokens = sample.reduce((sum, r) => sum + ('ids' in r ? r.ids.length : 0), 0) / sample.length;
    const oursPerS = await throughput(texts, async (batch) => {
      const results = await ours.tokenize(batch.map((text) => ({ text })));
      return results;
    });
    const theirsPerS = await throughput(texts, (batch) =>
      theirs(batch, { truncation: true, max_length: MAX_TOKENS, padding: false, return_tensor: false }),
    );
    report({
      suite: 'encoder',
      metric: 'tokenize_texts_per_s',
      value: oursPerS,
      unit: 'texts/s',
      baseline: 'transformers.js',
      ratio: oursPerS / theirsPerS,
      baseline_value: Number(theirsPerS.toPrecision(4)),
      workload: name,
      mean_tokens: Number(tokens.toFixed(1)),
      batch: BATCH,
      max_tokens: MAX_TOKENS,
      tokenizer: path.relative(process.cwd(), tokenizerPath) || tokenizerPath,
    });
  }
}
