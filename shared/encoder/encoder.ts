/**
 * The encoder facade: text or image in, Matryoshka vectors out.
 *
 *   text  → validate + tokenize (per item) → text micro-batcher → ORT text tower → slices
 *   image → decode + preprocess (per item, sharp threads) → image micro-batcher → ORT vision tower → slices
 *
 * Per-item work (validation, tokenizing, decoding) happens before batching so a bad item fails
 * alone and never reaches the graph; text and images are batched apart because the graph runs
 * one tower per call. Preprocessing of the next images overlaps inference of the current batch.
 */
import { Semaphore } from '../concurrency.ts';
import type { Config } from '../config/index.ts';
import { ClipstreamError } from '../errors.ts';
import { MicroBatcher, type BatcherStats } from './batcher.ts';
import { matryoshka } from './matryoshka.ts';
import { prepareImage } from './preprocess.ts';
import { ClipSession, type EmbeddingRows } from './session.ts';
import { TextTokenizer } from './tokenizer.ts';
import type { MatryoshkaVectors, ResolvedModel } from './types.ts';

export interface TextInput {
  text: string | Uint8Array;
  /** Retrieval queries get the model's query prefix; catalogue texts do not. */
  query?: boolean | undefined;
  /** Names the item in errors (record id, file:line). */
  item?: string | undefined;
}

export interface ImageInput {
  bytes: Uint8Array;
  item?: string | undefined;
}

export interface EncoderStats {
  text: BatcherStats;
  image: BatcherStats;
  /** Milliseconds spent decoding and preprocessing images (summed over concurrent calls). */
  preprocessMs: number;
}

export class ClipEncoder {
  private readonly textBatcher: MicroBatcher<Int32Array, MatryoshkaVectors>;
  private readonly imageBatcher: MicroBatcher<Float32Array, MatryoshkaVectors>;
  private readonly preprocessSlots: Semaphore;
  private preprocessMs = 0;

  private constructor(
    private readonly session: ClipSession,
    private readonly tokenizer: TextTokenizer,
    readonly model: ResolvedModel,
    private readonly options: Config['encoder'],
  ) {
    const dims = options.dims.filter((d) => d <= model.embeddingDim);
    const batcherOptions = { maxBatchSize: options.batchMaxSize, maxWaitMs: options.batchMaxWaitMs, maxInFlight: options.batchMaxInFlight };
    this.textBatcher = new MicroBatcher({
      name: 'text',
      ...batcherOptions,
      run: async (idsList) => {
        const out = new Array<MatryoshkaVectors>(idsList.length);
        // Sub-batches of similar length keep padding (wasted compute) small.
        for (const group of this.tokenizer.groupByLength(idsList, options.batchMaxSize)) {
          const packed = this.tokenizer.packBatch(group.map((i) => idsList[i]!));
          const rows = await this.session.encodeTokenIds(packed.inputIds, packed.batch, packed.seqLen);
          group.forEach((index, row) => (out[index] = sliceRow(rows, row, dims)));
        }
        return out;
      },
    });
    const pixelsPerImage = 3 * model.image.size * model.image.size;
    this.imageBatcher = new MicroBatcher({
      name: 'image',
      ...batcherOptions,
      run: async (images) => {
        const batch = new Float32Array(images.length * pixelsPerImage);
        images.forEach((px, i) => batch.set(px, i * pixelsPerImage));
        const rows = await this.session.encodePixels(batch, images.length);
        return images.map((_, row) => sliceRow(rows, row, dims));
      },
    });
    // Decoded tensors are 3 MB each at 512 px: bound how many exist before the batcher takes them.
    this.preprocessSlots = new Semaphore(Math.max(options.batchMaxSize * 2, 4));
  }

  static async open(model: ResolvedModel, options: Config['encoder']): Promise<ClipEncoder> {
    const [session, tokenizer] = await Promise.all([
      ClipSession.create(model, options),
      TextTokenizer.load(model.tokenizerPath, { maxTokens: options.textMaxTokens, maxBytes: options.textMaxBytes }),
    ]);
    return new ClipEncoder(session, tokenizer, model, options);
  }

  get dims(): number[] {
    return this.options.dims.filter((d) => d <= this.model.embeddingDim);
  }

  async encodeText(input: TextInput): Promise<MatryoshkaVectors> {
    const [tokenized] = await this.tokenizer.tokenize([{ text: input.text, item: input.item }], { query: input.query ?? false });
    if (!tokenized) throw new ClipstreamError('ENCODER_FAILED', 'tokenizer returned no result', { item: input.item });
    if ('error' in tokenized) throw tokenized.error;
    return withItem(this.textBatcher.submit(tokenized.ids), input.item);
  }

  async encodeImage(input: ImageInput): Promise<MatryoshkaVectors> {
    const pixels = await this.preprocessSlots.run(async () => {
      const started = performance.now();
      try {
        return await prepareImage(
          input.bytes,
          this.model.image,
          { maxPixels: this.options.imageMaxPixels, maxBytes: this.options.imageMaxBytes, allowSvg: this.options.imageAllowSvg },
          input.item,
        );
      } finally {
        this.preprocessMs += performance.now() - started;
      }
    });
    return withItem(this.imageBatcher.submit(pixels), input.item);
  }

  /** Encodes many texts; each result is its vectors or its own error. */
  encodeTexts(inputs: TextInput[]): Promise<Array<MatryoshkaVectors | ClipstreamError>> {
    return settleEach(inputs.map((i) => this.encodeText(i)));
  }

  encodeImages(inputs: ImageInput[]): Promise<Array<MatryoshkaVectors | ClipstreamError>> {
    return settleEach(inputs.map((i) => this.encodeImage(i)));
  }

  stats(): EncoderStats {
    return { text: this.textBatcher.stats(), image: this.imageBatcher.stats(), preprocessMs: this.preprocessMs };
  }

  async close(): Promise<void> {
    await Promise.all([this.textBatcher.close(), this.imageBatcher.close()]);
    await this.session.release();
  }
}

function sliceRow(rows: EmbeddingRows, row: number, dims: number[]): MatryoshkaVectors {
  return matryoshka(rows.data.subarray(row * rows.dim, (row + 1) * rows.dim), dims);
}

/** Errors from the graph carry no item name; add it so every failure report is self-contained. */
async function withItem<T>(promise: Promise<T>, item: string | undefined): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (item && err instanceof ClipstreamError && !err.item) {
      throw new ClipstreamError(err.code, err.message, { item, cause: err });
    }
    if (!(err instanceof ClipstreamError)) {
      throw new ClipstreamError('ENCODER_FAILED', (err as Error).message ?? String(err), { item, cause: err });
    }
    throw err;
  }
}

async function settleEach<T>(promises: Promise<T>[]): Promise<Array<T | ClipstreamError>> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) =>
    s.status === 'fulfilled'
      ? s.value
      : s.reason instanceof ClipstreamError
        ? s.reason
        : new ClipstreamError('ENCODER_FAILED', String((s.reason as Error)?.message ?? s.reason)),
  );
}
