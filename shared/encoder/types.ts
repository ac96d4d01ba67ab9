/** Types shared by every stage of the encoder (files, tokenizer, preprocessing, session, batcher). */

/** Unit vectors keyed by Matryoshka dimension: `vectors[64]` is the first 64 dims, re-normalised. */
export type MatryoshkaVectors = Readonly<Record<number, Float32Array>>;

/** Named-vector key in Qdrant for a Matryoshka dimension (`mrl_64`, `mrl_256`, `mrl_1024`). */
export function vectorName(dim: number): string {
  return `mrl_${dim}`;
}

/** `preprocessor_config.json` fields the image pipeline honours. */
export interface ImageProcessorSettings {
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** A model directory resolved on disk, ready to load. */
export interface ResolvedModel {
  /** Root folder holding tokenizer.json, preprocessor_config.json, config.json and onnx/. */
  dir: string;
  onnxPath: string;
  tokenizerPath: string;
  image: ImageProcessorSettings;
  /** Identifier recorded in payloads, e.g. `jinaai/jina-clip-v2@fp16`. */
  modelId: string;
  /** Embedding width of the graph's outputs (1024 for jina-clip-v2). */
  embeddingDim: number;
  /** True for the generated test model, so every output can say so. */
  isTestModel: boolean;
}
