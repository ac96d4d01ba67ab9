/**
 * English vectors equal FastEmbed `Qdrant/bm25`'s, checked against @chroma-core/chroma-bm25 (a
 * TypeScript implementation of the same algorithm, dev-only) over a few hundred generated shop
 * titles with punctuation, apostrophes, decimals, stop words, repeats and long documents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChromaBm25EmbeddingFunction, DEFAULT_CHROMA_BM25_STOPWORDS } from '@chroma-core/chroma-bm25';
import { LexicalAnalyser } from '../../shared/lexical/index.ts';
import { NLTK_ENGLISH_STOPWORDS } from '../../shared/lexical/stopwords-en.ts';

const ADJECTIVES = ['lightweight', 'waterproof', 'leather', 'running', 'wireless', 'noise-cancelling', 'stainless', 'organic', "children's", 'vintage', 'folding', 'insulated'];
const NOUNS = ['jacket', 'shoes', 'headphones', 'bottle', 'backpack', 'chairs', 'watches', 'blankets', 'lamps', 'knives', 'boxes', 'glasses'];
const EXTRAS = ['for men', 'with the hood', 'in red, size L', '(2 pack)', '~27.8 oz', 'by Acme & Co.', "it's the best!", '100% cotton', 'km/h', 'USB-C', 'space-time edition', 'for all of your needs'];

/** A deterministic generator (mulberry32) so the titles are the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function titles(count: number): string[] {
  const r = random(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const words = [pick(ADJECTIVES), pick(ADJECTIVES), pick(NOUNS), pick(EXTRAS)];
    if (i % 7 === 0) words.push(pick(NOUNS), pick(NOUNS)); // repeated terms: tf > 1
    if (i % 50 === 0) words.push(...Array.from({ length: 300 }, () => pick(NOUNS))); // longer than avgdl
    out.push(i % 3 === 0 ? words.join(' ').toUpperCase() : words.join(' '));
  }
  return out;
}

test('the English stop words are the reference implementation\'s (NLTK)', () => {
  assert.deepEqual([...NLTK_ENGLISH_STOPWORDS].sort(), [...DEFAULT_CHROMA_BM25_STOPWORDS].sort());
});

test('English document vectors equal FastEmbed Qdrant/bm25 over 400 titles', async () => {
  const oracle = new ChromaBm25EmbeddingFunction();
  const analyser = new LexicalAnalyser();
  const texts = titles(400);
  const expected = await oracle.generate(texts);
  for (const [i, text] of texts.entries()) {
    const ours = analyser.document(text, 'en');
    const want = expected[i]!;
    assert.deepEqual(ours.indices, want.indices, text);
    assert.equal(ours.values.length, want.values.length);
    ours.values.forEach((v, j) => assert.ok(Math.abs(v - want.values[j]!) < 1e-9, `${text}: value ${j}`));
  }
});

test('BM25 parameters change the weights as the oracle does', async () => {
  const oracle = new ChromaBm25EmbeddingFunction({ k: 0.9, b: 0.4, avgDocLength: 12 });
  const analyser = new LexicalAnalyser({ bm25: { k1: 0.9, b: 0.4, avgLength: 12 } });
  const texts = titles(60);
  const expected = await oracle.generate(texts);
  for (const [i, text] of texts.entries()) {
    const ours = analyser.document(text, 'en');
    assert.deepEqual(ours.indices, expected[i]!.indices);
    ours.values.forEach((v, j) => assert.ok(Math.abs(v - expected[i]!.values[j]!) < 1e-9));
  }
});

test('a product code adds its whole form to the reference terms and keeps its parts', async () => {
  const oracle = new ChromaBm25EmbeddingFunction();
  const analyser = new LexicalAnalyser();
  const text = 'Sony WH-1000XM5 wireless headphones';
  const [want] = await oracle.generate([text]);
  const ours = analyser.document(text, 'en');
  const extra = ours.indices.filter((id) => !want!.indices.includes(id));
  assert.deepEqual(extra, [analyser.query('wh1000xm5', 'en').vector.indices[0]]);
  for (const id of want!.indices) assert.ok(ours.indices.includes(id));
});
