/**
 * The ONNX Runtime session around jina-clip-v2's combined graph. One session per process:
 * the graph holds both towers, and loading it twice would double the memory for nothing.
 *
 * Graph rules (see jina-clip-v2.md): both inputs are always required; a text-only call passes a
 * zero-row `pixel_values`, an image-only call passes `input_ids` of ones shaped [B, 1]. Only the
 * `l2norm_*` output that the call needs is fetched (Matryoshka slicing re-normalises anyway, so
 * the scale of the raw output carries no information we use).
 */
import * as ort from 'onnxruntime-node';
import type { Config } from '../config/index.ts';
import { ClipstreamError } from '../errors.ts';
import type { ResolvedModel } from './types.ts';

export const GRAPH_INPUTS = ['input_ids', 'pixel_values'] as const;
export const GRAPH_OUTPUTS = ['text_embeddings', 'image_embeddings', 'l2norm_text_embeddings', 'l2norm_image_embeddings'] as const;

export type SessionOptions = Pick<
  Config['encoder'],
  'executionProvider' | 'deviceId' | 'intraOpThreads' | 'interOpThreads' | 'graphOptimization'
>;

/** Row-major [rows, dim] embeddings as returned by the graph. */
export interface EmbeddingRows {
  rows: number;
  dim: number;
  data: Float32Array;
}

export class ClipSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly model: ResolvedModel,
  ) {}

  static async create(model: ResolvedModel, options: SessionOptions): Promise<ClipSession> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders:
        options.executionProvider === 'cuda' ? [{ name: 'cuda', deviceId: options.deviceId }, 'cpu'] : ['cpu'],
      graphOptimizationLevel: options.graphOptimization,
      logSeverityLevel: 3,
    };
    if (options.intraOpThreads > 0) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    if (options.interOpThreads > 0) sessionOptions.interOpNumThreads = options.interOpThreads;
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.onnxPath, sessionOptions);
    } catch (err) {
      throw new ClipstreamError('MODEL_INVALID', `onnxruntime could not load the graph: ${(err as Error).message}`, {
        item: model.onnxPath,
        cause: err,
      });
    }
    const missingIn = GRAPH_INPUTS.filter((n) => !session.inputNames.includes(n));
    const missingOut = GRAPH_OUTPUTS.filter((n) => !session.outputNames.includes(n));
    if (missingIn.length > 0 || missingOut.length > 0) {
      await session.release();
      throw new ClipstreamError(
        'MODEL_INVALID',
        `not a jina-clip-v2 graph: missing ${[...missingIn, ...missingOut].join(', ')} (has inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')})`,
        { item: model.onnxPath },
      );
    }
    return new ClipSession(session, model);
  }

  /** Text tower on a padded [batch, seqLen] id matrix (pad id 1 is masked inside the graph). */
  async encodeTokenIds(inputIds: BigInt64Array, batch: number, seqLen: number): Promise<EmbeddingRows> {
    const size = this.model.image.size;
    const feeds = {
      input_ids: new ort.Tensor('int64', inputIds, [batch, seqLen]),
      pixel_values: new ort.Tensor('float32', new Float32Array(0), [0, 3, size, size]),
    };
    return this.run(feeds, 'l2norm_text_embeddings', batch);
  }

  /** Vision tower on [batch, 3, size, size] CHW pixels. */
  async encodePixels(pixelValues: Float32Array, batch: number): Promise<EmbeddingRows> {
    const size = this.model.image.size;
    const feeds = {
      input_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(1n), [batch, 1]),
      pixel_values: new ort.Tensor('float32', pixelValues, [batch, 3, size, size]),
    };
    return this.run(feeds, 'l2norm_image_embeddings', batch);
  }

  private async run(feeds: Record<string, ort.Tensor>, output: string, batch: number): Promise<EmbeddingRows> {
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run(feeds, [output]);
    } catch (err) {
      throw new ClipstreamError('ENCODER_FAILED', `inference failed: ${(err as Error).message}`, { cause: err });
    }
    const tensor = result[output] as ort.Tensor;
    const dim = Number(tensor.dims[1]);
    if (tensor.dims.length !== 2 || Number(tensor.dims[0]) !== batch || dim !== this.model.embeddingDim) {
      throw new ClipstreamError(
        'MODEL_INVALID',
        `${output} has shape [${tensor.dims.join(', ')}], expected [${batch}, ${this.model.embeddingDim}]`,
      );
    }
    return { rows: batch, dim, data: tensor.data as Float32Array };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
