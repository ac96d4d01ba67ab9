/**
 * Text → token ids for jina-clip-v2 (XLM-RoBERTa Unigram), over the model's own tokenizer.json
 * with Hugging Face tokenizers' Rust core (@anush008/tokenizers), so ids match the reference
 * implementation, including truncation that keeps `</s>` last.
 *
 * Every item is validated on its own and a bad one fails alone: the batch API returns
 * `{ ids }` or `{ error }` per item, in input order.
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { Tokenizer } from '@anush008/tokenizers';
import { ClipstreamError } from '../errors.ts';

/** Task prefix jina-clip-v2 expects on retrieval queries (never on indexed documents). */
export const QUERY_PREFIX = 'Represent the query for retrieving evidence documents: ';
/** The graph masks positions holding this id (it has no attention_mask input). */
export const PAD_TOKEN_ID = 1;
export const BOS_TOKEN_ID = 0;
export const EOS_TOKEN_ID = 2;
export const DEFAULT_MAX_TOKENS = 512;
/** jina-clip-v2's text tower has 8,194 positions: 8,192 tokens plus two offsets. */
export const MAX_TOKENS_LIMIT = 8192;
export const DEFAULT_MAX_BYTES = 64 * 1024;

export interface TextTokenizerOptions {
  /** Longest sequence produced, `<s>` and `</s>` included (default 512, at most 8192). */
  maxTokens?: number;
  /** Texts longer than this many UTF-8 bytes are refused with TEXT_TOO_LONG (default 64 KiB). */
  maxBytes?: number;
}

export interface TextInput {
  /** A string, or raw bytes that must be valid UTF-8. */
  text: string | Uint8Array;
  /** Names the item in errors (record id, `file:line`); defaults to `text #<index>`. */
  item?: string | undefined;
}

export type TokenizeResult = { ids: Int32Array } | { error: ClipstreamError };

export interface TokenizeOptions {
  /** Prepend QUERY_PREFIX (search queries only). */
  query?: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Anything but whitespace, control and format characters: something left to embed. */
const VISIBLE = /[^\p{C}\p{Z}]/u;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks one input and returns its text, or the error that refuses it. Order matters: size is
 * checked first so a huge input costs no decoding.
 */
export function validateText(input: TextInput, index: number, maxBytes: number): string | ClipstreamError {
  const item = input.item ?? `text #${index}`;
  const raw: unknown = input.text;
  let text: string;
  if (raw instanceof Uint8Array) {
    if (raw.byteLength > maxBytes) return tooLong(item, raw.byteLength, maxBytes);
    try {
      text = utf8.decode(raw);
    } catch (cause) {
      return new ClipstreamError('TEXT_INVALID_UTF8', 'bytes are not valid UTF-8', { item, cause });
    }
  } else if (typeof raw === 'string') {
    // UTF-16 length × 3 bounds the UTF-8 size: skip the exact count for short strings.
    if (raw.length * 3 > maxBytes) {
      const bytes = Buffer.byteLength(raw, 'utf8');
      if (bytes > maxBytes) return tooLong(item, bytes, maxBytes);
    }
    if (LONE_SURROGATE.test(raw)) {
      return new ClipstreamError('TEXT_INVALID_UTF8', 'string holds a lone UTF-16 surrogate (not encodable as UTF-8)', { item });
    }
    text = raw;
  } else {
    return new ClipstreamError('RECORD_INVALID', `text must be a string or bytes, got ${raw === null ? 'null' : typeof raw}`, { item });
  }
  if (!VISIBLE.test(text)) {
    return new ClipstreamError('TEXT_EMPTY', 'text is empty or only whitespace/control characters', { item });
  }
  return text;
}

function tooLong(item: string, bytes: number, maxBytes: number): ClipstreamError {
  return new ClipstreamError('TEXT_TOO_LONG', `text is ${bytes} bytes of UTF-8, more than the limit of ${maxBytes} (TEXT_MAX_BYTES)`, {
    item,
  });
}

export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxTokens: number,
    readonly maxBytes: number,
    /** Where the tokenizer came from, for error messages. */
    readonly source: string,
  ) {}

  /** Reads a Hugging Face tokenizer.json; MODEL_INVALID if it is unreadable or not XLM-R-like. */
  static async load(tokenizerJsonPath: string, opts: TextTokenizerOptions = {}): Promise<TextTokenizer> {
    const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(maxTokens) || maxTokens < 3 || maxTokens > MAX_TOKENS_LIMIT) {
      throw new ClipstreamError('CONFIG_INVALID', `maxTokens must be an integer 3..${MAX_TOKENS_LIMIT}, got ${maxTokens}`);
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new ClipstreamError('CONFIG_INVALID', `maxBytes must be a positive integer, got ${maxBytes}`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromString(await readFile(tokenizerJsonPath, 'utf8'));
    } catch (cause) {
      throw new ClipstreamError('MODEL_INVALID', `cannot load tokenizer: ${cause instanceof Error ? cause.message : String(cause)}`, {
        item: tokenizerJsonPath,
        cause,
      });
    }
    // The graph masks id 1 and expects <s> … </s>; a different vocabulary would embed garbage.
    const expected: [string, number][] = [['<s>', BOS_TOKEN_ID], ['<pad>', PAD_TOKEN_ID], ['</s>', EOS_TOKEN_ID]];
    for (const [token, id] of expected) {
      const actual = tokenizer.tokenToId(token);
      if (actual !== id) {
        throw new ClipstreamError('MODEL_INVALID', `expected ${token} to have id ${id}, found ${actual ?? 'none'}`, { item: tokenizerJsonPath });
      }
    }
    tokenizer.disablePadding();
    tokenizer.setTruncation(maxTokens);
    return new TextTokenizer(tokenizer, maxTokens, maxBytes, tokenizerJsonPath);
  }

  /** Tokenises a batch; each item yields its ids (`<s> … </s>`, at most maxTokens) or its error. */
  async tokenize(items: readonly TextInput[], opts: TokenizeOptions = {}): Promise<TokenizeResult[]> {
    const results: TokenizeResult[] = new Array(items.length);
    const texts: string[] = [];
    const positions: number[] = [];
    items.forEach((input, i) => {
      const checked = validateText(input, i, this.maxBytes);
      if (checked instanceof ClipstreamError) {
        results[i] = { error: checked };
      } else {
        texts.push(opts.query ? QUERY_PREFIX + checked : checked);
        positions.push(i);
      }
    });
    if (texts.length === 0) return results;
    let encodings: Awaited<ReturnType<Tokenizer['encodeBatch']>>;
    try {
      encodings = await this.tokenizer.encodeBatch(texts);
    } catch {
      // One pathological text must not fail its neighbours: retry one by one to find it.
      await Promise.all(
        positions.map(async (pos, k) => {
          try {
            results[pos] = { ids: Int32Array.from((await this.tokenizer.encode(texts[k]!)).getIds()) };
          } catch (err) {
            results[pos] = {
              error: new ClipstreamError('ENCODER_FAILED', `tokenizer failed: ${err instanceof Error ? err.message : String(err)}`, {
                item: items[pos]!.item ?? `text #${pos}`,
                cause: err,
              }),
            };
          }
        }),
      );
      return results;
    }
    encodings.forEach((enc, k) => {
      results[positions[k]!] = { ids: Int32Array.from(enc.getIds()) };
    });
    return results;
  }

  /** One text; throws its ClipstreamError. */
  async tokenizeOne(text: string | Uint8Array, opts: TokenizeOptions & { item?: string } = {}): Promise<Int32Array> {
    const [result] = await this.tokenize([{ text, item: opts.item }], opts);
    if ('error' in result!) throw result.error;
    return result!.ids;
  }

  /** See the free function packBatch (here for callers holding only the tokenizer). */
  packBatch(idsList: readonly Int32Array[]): PackedBatch {
    return packBatch(idsList);
  }

  /** See the free function groupByLength. */
  groupByLength(idsList: readonly Int32Array[], maxBatch: number, opts: GroupOptions = {}): number[][] {
    return groupByLength(idsList, maxBatch, opts);
  }

  /** Token strings for ids (debugging, explanations). */
  tokensOf(ids: Int32Array): string[] {
    return Array.from(ids, (id) => this.tokenizer.idToToken(id) ?? '<?>');
  }
}

export interface PackedBatch {
  /** Row-major [batch, seqLen], padded with PAD_TOKEN_ID. */
  inputIds: BigInt64Array;
  batch: number;
  seqLen: number;
}

const littleEndian = endianness() === 'LE';

/** Pads id sequences to a rectangle for the graph's `input_ids`. */
export function packBatch(idsList: readonly Int32Array[]): PackedBatch {
  const batch = idsList.length;
  let seqLen = 0;
  for (const ids of idsList) if (ids.length > seqLen) seqLen = ids.length;
  const inputIds = new BigInt64Array(batch * seqLen);
  if (littleEndian) {
    // Writing the low 32-bit words avoids one BigInt allocation per token (ids are < 2^31).
    const words = new Int32Array(inputIds.buffer);
    for (let i = 0; i < batch * seqLen; i++) words[2 * i] = PAD_TOKEN_ID;
    idsList.forEach((ids, r) => {
      const base = r * seqLen;
      for (let j = 0; j < ids.length; j++) words[2 * (base + j)] = ids[j]!;
    });
  } else {
    inputIds.fill(BigInt(PAD_TOKEN_ID));
    idsList.forEach((ids, r) => {
      for (let j = 0; j < ids.length; j++) inputIds[r * seqLen + j] = BigInt(ids[j]!);
    });
  }
  return { inputIds, batch, seqLen };
}

/** `input_ids` for an image-only call: ones of shape [batch, 1] (the text tower sees only padding). */
export function placeholderInputIds(batch: number): PackedBatch {
  return { inputIds: new BigInt64Array(batch).fill(BigInt(PAD_TOKEN_ID)), batch, seqLen: 1 };
}

export interface GroupOptions {
  /** Also cap batch × longest sequence (padded tokens per call), e.g. for 8k-token texts. */
  maxBatchTokens?: number;
}

/**
 * Splits indices into micro-batches of at most `maxBatch`, grouping similar lengths so that
 * padding stays small. Groups come shortest first; within a group, indices keep input order
 * among equal lengths.
 */
export function groupByLength(idsList: readonly Int32Array[], maxBatch: number, opts: GroupOptions = {}): number[][] {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  const order = idsList.map((_, i) => i).sort((a, b) => idsList[a]!.length - idsList[b]!.length || a - b);
  const groups: number[][] = [];
  let current: number[] = [];
  for (const i of order) {
    const len = idsList[i]!.length;
    const full =
      current.length >= maxBatch || (opts.maxBatchTokens !== undefined && current.length > 0 && (current.length + 1) * len > opts.maxBatchTokens);
    if (full) {
      groups.push(current);
      current = [];
    }
    current.push(i);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
