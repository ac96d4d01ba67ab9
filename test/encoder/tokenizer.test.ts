/**
 * TextTokenizer against two references, on the multilingual strings in
 * test/fixtures/tokenizer/strings.json (tokenised with the test model's tokenizer.json):
 *
 * - Hugging Face tokenizers' Rust core configured directly (encode with special tokens,
 *   truncation to maxTokens): ids must be identical, documents and queries alike.
 * - transformers.js (XLMRobertaTokenizer built offline from the same tokenizer.json and
 *   tokenizer_config.json): identical ids for every text that fits; on truncation it differs in
 *   exactly one place. transformers.js cuts the finished `<s> … </s>` sequence to max_length, so
 *   its last id is a content token and `</s>` is lost; HF tokenizers (and therefore we) truncate
 *   the content and then add `</s>`, like the Python reference. Everything before the last
 *   position is the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@anush008/tokenizers';
import { XLMRobertaTokenizer } from '@huggingface/transformers';
import { ClipstreamError } from '../../shared/errors.ts';
import {
  EOS_TOKEN_ID,
  PAD_TOKEN_ID,
  QUERY_PREFIX,
  TextTokenizer,
  groupByLength,
  packBatch,
  placeholderInputIds,
  type TokenizeResult,
} from '../../shared/encoder/tokenizer.ts';

const MODEL_DIR = fileURLToPath(new URL('../../models/test-tiny', import.meta.url));
const TOKENIZER_JSON = path.join(MODEL_DIR, 'tokenizer.json');
const STRINGS: string[] = JSON.parse(readFileSync(new URL('../fixtures/tokenizer/strings.json', import.meta.url), 'utf8'));
const isBlank = (s: string) => !/[^\p{C}\p{Z}]/u.test(s);
const NON_EMPTY = STRINGS.filter((s) => !isBlank(s));

const transformersJs = new XLMRobertaTokenizer(JSON.parse(readFileSync(TOKENIZER_JSON, 'utf8')), JSON.parse(readFileSync(path.join(MODEL_DIR, 'tokenizer_config.json'), 'utf8')));

function reference(maxTokens: number): Tokenizer {
  const t = Tokenizer.fromFile(TOKENIZER_JSON);
  t.setTruncation(maxTokens);
  return t;
}

function idsOf(result: TokenizeResult | undefined): number[] {
  assert.ok(result && 'ids' in result, `expected ids, got ${result && 'error' in result ? result.error.message : 'nothing'}`);
  assert.ok(result.ids instanceof Int32Array);
  return Array.from(result.ids);
}

function errorOf(result: TokenizeResult | undefined): ClipstreamError {
  assert.ok(result && 'error' in result, 'expected an error');
  assert.ok(result.error instanceof ClipstreamError);
  return result.error;
}

test('fixture: at least 200 strings covering many scripts, blanks and over-long texts', () => {
  assert.ok(STRINGS.length >= 200, `${STRINGS.length} strings`);
  const scripts = [/\p{Script=Latin}/u, /\p{Script=Han}/u, /\p{Script=Hiragana}/u, /\p{Script=Hangul}/u, /\p{Script=Arabic}/u, /\p{Script=Cyrillic}/u, /\p{Script=Devanagari}/u, /\p{Extended_Pictographic}/u];
  for (const re of scripts) assert.ok(STRINGS.some((s) => re.test(s)), `no string matches ${re}`);
  assert.ok(STRINGS.filter(isBlank).length >= 3);
  assert.ok(STRINGS.some((s) => s.length > 2000));
});

for (const maxTokens of [512, 64]) {
  test(`parity with HF tokenizers (Rust core) configured directly, maxTokens ${maxTokens}, documents and queries`, async () => {
    const ours = await TextTokenizer.load(TOKENIZER_JSON, { maxTokens, maxBytes: 1 << 20 });
    const ref = reference(maxTokens);
    for (const query of [false, true]) {
      const results = await ours.tokenize(
        STRINGS.map((text, i) => ({ text, item: `strings.json[${i}]` })),
        { query },
      );
      assert.equal(results.length, STRINGS.length);
      let truncated = 0;
      for (const [i, text] of STRINGS.entries()) {
        if (isBlank(text)) {
          const err = errorOf(results[i]);
          assert.equal(err.code, 'TEXT_EMPTY');
          assert.equal(err.item, `strings.json[${i}]`);
          continue;
        }
        const expected = (await ref.encode(query ? QUERY_PREFIX + text : text)).getIds();
        const got = idsOf(results[i]);
        assert.deepEqual(got, expected, `strings.json[${i}] ${JSON.stringify(text.slice(0, 40))} (query=${query})`);
        assert.ok(got.length <= maxTokens);
        assert.equal(got[0], 0);
        assert.equal(got.at(-1), EOS_TOKEN_ID, 'sequences end with </s>, truncated or not');
        if (got.length === maxTokens) truncated++;
      }
      assert.ok(truncated >= 5, `only ${truncated} truncated strings: the truncation path is not exercised`);
    }
  });

  test(`transformers.js: same ids except that it drops </s> on truncation, maxTokens ${maxTokens}`, async () => {
    const ours = await TextTokenizer.load(TOKENIZER_JSON, { maxTokens, maxBytes: 1 << 20 });
    const results = await ours.tokenize(NON_EMPTY.map((text) => ({ text })));
    let same = 0;
    let differsAtEnd = 0;
    NON_EMPTY.forEach((text, i) => {
      const got = idsOf(results[i]);
      const theirs = Array.from(
        transformersJs(text, { truncation: true, max_length: maxTokens, return_tensor: false }).input_ids as number[],
      );
      const full = transformersJs.encode(text);
      const label = `${JSON.stringify(text.slice(0, 40))}`;
      if (full.length <= maxTokens) {
        assert.deepEqual(got, theirs, label);
        same++;
      } else {
        // The one documented difference.
        assert.equal(got.length, maxTokens, label);
        assert.equal(theirs.length, maxTokens, label);
        assert.deepEqual(got.slice(0, -1), theirs.slice(0, -1), label);
        assert.equal(got.at(-1), EOS_TOKEN_ID, label);
        assert.notEqual(theirs.at(-1), EOS_TOKEN_ID, `${label}: transformers.js kept </s>; update the comment above`);
        assert.equal(theirs.at(-1), full[maxTokens - 1], label);
        differsAtEnd++;
      }
    });
    assert.ok(same >= 150, `${same} identical`);
    assert.ok(differsAtEnd >= 5, `${differsAtEnd} truncated`);
  });
}

test('the query prefix is applied only with { query: true }', async () => {
  const ours = await TextTokenizer.load(TOKENIZER_JSON);
  const [doc, query] = [await ours.tokenizeOne('rote Schuhe'), await ours.tokenizeOne('rote Schuhe', { query: true })];
  assert.deepEqual(ours.tokensOf(doc), ['<s>', '▁rote', '▁Schuhe', '</s>']);
  const tokens = ours.tokensOf(query);
  assert.deepEqual(tokens.slice(0, 3), ['<s>', '▁Represent', '▁the']);
  assert.deepEqual(tokens.slice(-3), ['▁rote', '▁Schuhe', '</s>']);
  assert.equal(QUERY_PREFIX, 'Represent the query for retrieving evidence documents: ');
  const [plain] = await ours.tokenize([{ text: 'rote Schuhe' }], {});
  assert.deepEqual(idsOf(plain), Array.from(doc));
});

test('truncation: at most maxTokens ids, </s> last; maxTokens must be 3..8192', async () => {
  const ours = await TextTokenizer.load(TOKENIZER_JSON, { maxTokens: 16 });
  const ids = await ours.tokenizeOne('red '.repeat(100));
  assert.equal(ids.length, 16);
  assert.equal(ids[0], 0);
  assert.equal(ids[15], EOS_TOKEN_ID);
  assert.ok(ids.slice(1, 15).every((id) => id === ids[1]));
  for (const bad of [0, 2, 8193, 1.5]) {
    await assert.rejects(TextTokenizer.load(TOKENIZER_JSON, { maxTokens: bad }), (e: unknown) => e instanceof ClipstreamError && e.code === 'CONFIG_INVALID');
  }
  const max = await TextTokenizer.load(TOKENIZER_JSON, { maxTokens: 8192, maxBytes: 1 << 20 });
  assert.equal((await max.tokenizeOne('red '.repeat(9000))).length, 8192);
});

test('validation: empty, too long (a 1 MB text is refused, not truncated), invalid UTF-8, lone surrogates', async () => {
  const ours = await TextTokenizer.load(TOKENIZER_JSON, { maxBytes: 64 * 1024 });
  const megabyte = 'a'.repeat(1024 * 1024);
  const results = await ours.tokenize([
    { text: '', item: 'rec-empty' },
    { text: ' \t\n\u3000', item: 'rec-blank' },
    { text: '\u200b\u200d', item: 'rec-format-only' },
    { text: megabyte, item: 'records.jsonl:17' },
    { text: new Uint8Array(64 * 1024 + 1).fill(0x61), item: 's3://bucket/big.txt' },
    { text: Uint8Array.from([0x72, 0x65, 0x64, 0xff, 0xfe]), item: 'bad-bytes' },
    { text: Uint8Array.from([0xc0, 0xaf]), item: 'overlong' },
    { text: Uint8Array.from([0x72, 0xe2, 0x82]), item: 'cut-sequence' },
    { text: 'red \ud800 shoes', item: 'lone-high' },
    { text: 'red \udc00 shoes', item: 'lone-low' },
    { text: 'red shoes' },
  ]);
  const codes = results.map((r) => ('error' in r ? r.error.code : 'ok'));
  assert.deepEqual(codes, [
    'TEXT_EMPTY',
    'TEXT_EMPTY',
    'TEXT_EMPTY',
    'TEXT_TOO_LONG',
    'TEXT_TOO_LONG',
    'TEXT_INVALID_UTF8',
    'TEXT_INVALID_UTF8',
    'TEXT_INVALID_UTF8',
    'TEXT_INVALID_UTF8',
    'TEXT_INVALID_UTF8',
    'ok',
  ]);
  const tooLong = errorOf(results[3]);
  assert.equal(tooLong.item, 'records.jsonl:17');
  assert.match(tooLong.message, /^records\.jsonl:17: .*1048576 bytes.*65536/);
  assert.match(errorOf(results[5]).message, /^bad-bytes: /);
  // The good item in the same batch is unaffected and in its place.
  assert.deepEqual(ours.tokensOf(results[10] && 'ids' in results[10] ? results[10].ids : new Int32Array()), ['<s>', '▁red', '▁shoes', '</s>']);
  // Without an item name, errors name the position.
  const [unnamed] = await ours.tokenize([{ text: '   ' }]);
  assert.equal(errorOf(unnamed).item, 'text #0');
  await assert.rejects(ours.tokenizeOne('', { item: 'x' }), (e: unknown) => e instanceof ClipstreamError && e.code === 'TEXT_EMPTY' && e.item === 'x');
});

test('validation: the byte limit counts UTF-8 bytes; valid bytes tokenise like the string', async () => {
  const ours = await TextTokenizer.load(TOKENIZER_JSON, { maxBytes: 12 });
  const results = await ours.tokenize([
    { text: '赤い靴赤' }, // 4 × 3 = 12 bytes
    { text: '赤い靴赤い' }, // 15 bytes in 5 UTF-16 units
    { text: new TextEncoder().encode('赤い靴') },
    { text: Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('赤い靴')]) }, // BOM
  ]);
  assert.ok('ids' in results[0]!);
  assert.equal(errorOf(results[1]).code, 'TEXT_TOO_LONG');
  const fromString = await ours.tokenizeOne('赤い靴');
  assert.deepEqual(idsOf(results[2]), Array.from(fromString));
  assert.deepEqual(idsOf(results[3]), Array.from(fromString));
});

test('load: missing or broken tokenizer.json and a vocabulary with another pad id are MODEL_INVALID', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'clipstream-tokenizer-'));
  try {
    const isModelInvalid = (file: string) => (e: unknown) => e instanceof ClipstreamError && e.code === 'MODEL_INVALID' && e.item === file;
    const missing = path.join(dir, 'missing.json');
    await assert.rejects(TextTokenizer.load(missing), isModelInvalid(missing));
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"model": ');
    await assert.rejects(TextTokenizer.load(broken), isModelInvalid(broken));
    const json = JSON.parse(readFileSync(TOKENIZER_JSON, 'utf8'));
    [json.model.vocab[1], json.model.vocab[5]] = [json.model.vocab[5], json.model.vocab[1]];
    json.added_tokens = json.added_tokens.map((t: { content: string; id: number }) => (t.content === '<pad>' ? { ...t, id: 5 } : t));
    const swapped = path.join(dir, 'swapped.json');
    await writeFile(swapped, JSON.stringify(json));
    await assert.rejects(TextTokenizer.load(swapped), isModelInvalid(swapped));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('packBatch pads with id 1 into a row-major int64 rectangle', () => {
  const packed = packBatch([Int32Array.from([0, 10, 2]), Int32Array.from([0, 11, 12, 13, 2]), Int32Array.from([0, 2])]);
  assert.equal(packed.batch, 3);
  assert.equal(packed.seqLen, 5);
  assert.ok(packed.inputIds instanceof BigInt64Array);
  assert.deepEqual(Array.from(packed.inputIds, Number), [0, 10, 2, 1, 1, 0, 11, 12, 13, 2, 0, 2, 1, 1, 1]);
  assert.equal(PAD_TOKEN_ID, 1);
  const big = packBatch([Int32Array.from([0, 250001, 2])]);
  assert.deepEqual(Array.from(big.inputIds), [0n, 250001n, 2n]);
  assert.deepEqual(packBatch([]), { inputIds: new BigInt64Array(0), batch: 0, seqLen: 0 });
  const placeholder = placeholderInputIds(3);
  assert.deepEqual([placeholder.batch, placeholder.seqLen, Array.from(placeholder.inputIds)], [3, 1, [1n, 1n, 1n]]);
});

test('groupByLength: every index once, groups of at most maxBatch, similar lengths together', async () => {
  const ours = await TextTokenizer.load(TOKENIZER_JSON);
  const lengths = [5, 300, 7, 290, 6, 8, 310, 5, 9, 280];
  const idsList = lengths.map((n) => new Int32Array(n));
  const groups = groupByLength(idsList, 3);
  assert.deepEqual(ours.groupByLength(idsList, 3), groups);
  assert.deepEqual(groups.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
  assert.ok(groups.every((g) => g.length >= 1 && g.length <= 3));
  const order = groups.flat().map((i) => lengths[i]!);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.deepEqual(groups[0], [0, 7, 4], 'equal lengths keep input order');
  const padded = (gs: number[][]) => gs.reduce((sum, g) => sum + g.length * Math.max(...g.map((i) => lengths[i]!)), 0);
  const naive = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]];
  assert.ok(padded(groups) < padded(naive) / 2, `${padded(groups)} padded tokens vs ${padded(naive)} in input order`);
  // A token budget splits long groups further.
  const budget = groupByLength(idsList, 3, { maxBatchTokens: 600 });
  for (const g of budget) assert.ok(g.length === 1 || g.length * Math.max(...g.map((i) => lengths[i]!)) <= 600);
  assert.throws(() => groupByLength(idsList, 0), RangeError);
});
