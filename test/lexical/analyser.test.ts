import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LexicalAnalyser, termId } from '../../shared/lexical/index.ts';

const analyser = new LexicalAnalyser();

test('product codes survive whole and in parts; digits are never stemmed', () => {
  assert.deepEqual(analyser.terms('WH-1000XM5', 'en'), ['wh', '1000xm5', 'wh1000xm5']);
  assert.deepEqual(analyser.terms('SKU BK-ARZ-42 1990s', 'en'), ['sku', 'bk', 'arz', '42', 'bkarz42', '1990s']);
  // Letters only or digits only are not codes: FastEmbed's split stands.
  assert.deepEqual(analyser.terms('space-time 27.8', 'en'), ['space', 'time', '27', '8']);
  assert.deepEqual(analyser.terms('EAN 4006381333931', 'en'), ['ean', '4006381333931']);
});

test('a query means a product code whole: its parts are not searched', () => {
  assert.deepEqual(analyser.query('Sony WH-1000XM5 case', 'en').terms.map((t) => t.term), ['soni', 'wh1000xm5', 'case']);
  assert.deepEqual(analyser.query('WH 1000XM5', 'en').terms.map((t) => t.term), ['wh', '1000xm5']);
});

test('NFKC and lower-casing: fullwidth text analyses like ASCII', () => {
  assert.deepEqual(analyser.terms('ＷＨ－１０００ＸＭ５', 'en'), analyser.terms('wh-1000xm5', 'en'));
});

test('Japanese, Chinese and Thai split into words, not characters or whole lines', () => {
  const ja = analyser.terms('赤いレザーのハンドバッグ', 'ja');
  assert.ok(ja.includes('レザー') && ja.includes('ハンドバッグ'), ja.join('|'));
  assert.ok(!ja.includes('の'), 'a Japanese stop word is dropped');
  const zh = analyser.terms('红色真皮手提包', 'zh');
  assert.ok(zh.includes('手提包') && zh.length >= 2 && zh.length < 7, zh.join('|'));
  const th = analyser.terms('กระเป๋าหนังสีแดง', 'th');
  assert.ok(th.includes('กระเป๋า') && th.includes('หนัง'), th.join('|'));
});

test('stop words and Snowball stemming per language; the language is detected by script when absent', () => {
  assert.deepEqual(analyser.terms('Rote Ledertaschen für Damen', 'de'), ['rot', 'ledertasch', 'dam']);
  assert.deepEqual(analyser.terms('les chaussures rouges', 'fr'), ['chaussur', 'roug']);
  assert.equal(analyser.languageOf('ハンドバッグ'), 'ja');
  assert.equal(analyser.languageOf('红色'), 'zh');
  assert.equal(analyser.languageOf('красная сумка'), 'ru');
  assert.equal(analyser.languageOf('red bag'), 'en');
  assert.equal(new LexicalAnalyser({ defaultLang: 'de' }).languageOf('rote Tasche'), 'de');
});

test('an unknown language gets the neutral analyser and never fails', () => {
  assert.deepEqual(analyser.terms('Mchezo wa Mpira', 'xx'), ['mchezo', 'wa', 'mpira']);
  assert.deepEqual(analyser.terms('Mchezo wa Mpira', 'sw'), ['mchezo', 'mpira']);
  assert.deepEqual(analyser.terms('Mchezo wa', '!!'), ['mchezo', 'wa']);
});

test('accent folding is optional', () => {
  assert.deepEqual(analyser.terms('Café crème', 'xx'), ['café', 'crème']);
  assert.deepEqual(new LexicalAnalyser({ foldAccents: true }).terms('Café crème', 'xx'), ['cafe', 'creme']);
});

test('a query of stop words and punctuation analyses to nothing', () => {
  const q = analyser.query('the of ?!', 'en');
  assert.deepEqual(q.terms, []);
  assert.deepEqual(q.vector, { indices: [], values: [] });
});

test('query vectors: distinct terms weigh 1, ids are MurmurHash3 as FastEmbed', () => {
  assert.equal(termId('hello'), 613153351); // abs(mmh3.hash("hello"))
  const q = analyser.query('red shoes red', 'en');
  assert.deepEqual(q.terms.map((t) => t.term), ['red', 'shoe']);
  assert.deepEqual(q.vector.values, [1, 1]);
  assert.deepEqual(q.vector.indices, [termId('red'), termId('shoe')].sort((a, b) => a - b));
});

test('highlights are spans of the original text, merged', () => {
  const title = 'Sony ＷＨ-1000XM5 Headphones';
  const spans = analyser.highlights(title, new Set(['wh1000xm5', 'headphon']), 'en');
  assert.deepEqual(spans.map(([s, e]) => title.slice(s, e)), ['ＷＨ-1000XM5', 'Headphones']);
});
