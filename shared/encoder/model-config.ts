/**
 * What the model's own JSON files say: the image settings of `preprocessor_config.json` and the
 * few `config.json` facts the encoder needs. Absent keys take jina-clip-v2's values; a value that
 * is there but wrong is MODEL_INVALID naming the file and the field.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ClipstreamError } from '../errors.ts';
import type { ImageProcessorSettings } from './types.ts';

const DEFAULT_IMAGE: ImageProcessorSettings = {
  size: 512,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};
const DEFAULT_EMBEDDING_DIM = 1024;

async function readJson(file: string, label: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ClipstreamError('MODEL_NOT_FOUND', `cannot read ${label}: ${(err as Error).message}`, { item: file, cause: err });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ClipstreamError('MODEL_INVALID', `${label} is not valid JSON: ${(err as Error).message}`, { item: file });
  }
}

function triple(value: unknown, field: string, file: string, positive: boolean): [number, number, number] {
  const list = typeof value === 'number' ? [value, value, value] : value;
  if (
    !Array.isArray(list) ||
    list.length !== 3 ||
    !list.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))
  ) {
    throw new ClipstreamError('MODEL_INVALID', `${field} must be three ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(value)}`, {
      item: file,
    });
  }
  return [list[0], list[1], list[2]] as [number, number, number];
}

function sideLength(value: unknown, field: string, file: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  let n: unknown = value;
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    // Square input: a {height, width} pair must agree; `shortest_edge` is the crop side when no crop is given.
    if (v.height !== undefined || v.width !== undefined) {
      if (v.height !== v.width) {
        throw new ClipstreamError('MODEL_INVALID', `${field} must be square, got ${JSON.stringify(value)}`, { item: file });
      }
      n = v.height;
    } else {
      n = v.shortest_edge;
    }
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw new ClipstreamError('MODEL_INVALID', `${field} must be a positive integer, got ${JSON.stringify(value)}`, { item: file });
  }
  return n;
}

/**
 * Image settings from `preprocessor_config.json`. jina-clip-v2 spells them `size` (a number),
 * `mean`, `std`; transformers' CLIP processors use `crop_size`/`size` objects, `image_mean`,
 * `image_std`. Absent keys take the jina-clip-v2 defaults.
 */
export function parseImageSettings(json: Record<string, unknown>, file = 'preprocessor_config.json'): ImageProcessorSettings {
  const size = sideLength(json.crop_size, 'crop_size', file) ?? sideLength(json.size, 'size', file) ?? DEFAULT_IMAGE.size;
  const meanRaw = json.mean ?? json.image_mean;
  const stdRaw = json.std ?? json.image_std;
  return {
    size,
    mean: meanRaw === undefined || meanRaw === null ? DEFAULT_IMAGE.mean : triple(meanRaw, json.mean !== undefined ? 'mean' : 'image_mean', file, false),
    std: stdRaw === undefined || stdRaw === null ? DEFAULT_IMAGE.std : triple(stdRaw, json.std !== undefined ? 'std' : 'image_std', file, true),
  };
}

export interface ModelConfigFacts {
  embeddingDim: number;
  isTestModel: boolean;
  /** `_name_or_path`, when the config records one. */
  name?: string | undefined;
}

/** The few `config.json` facts the encoder needs. */
export function parseModelConfig(json: Record<string, unknown>, file = 'config.json'): ModelConfigFacts {
  const dim = json.projection_dim ?? DEFAULT_EMBEDDING_DIM;
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim <= 0) {
    throw new ClipstreamError('MODEL_INVALID', `projection_dim must be a positive integer, got ${JSON.stringify(dim)}`, { item: file });
  }
  const name = typeof json._name_or_path === 'string' && json._name_or_path.trim() !== '' ? json._name_or_path.trim() : undefined;
  return { embeddingDim: dim, isTestModel: json.clipstream_test_model === true, name };
}

/** Both files of a model folder, parsed. */
export async function loadFacts(dir: string): Promise<{ image: ImageProcessorSettings; config: ModelConfigFacts }> {
  const preFile = path.join(dir, 'preprocessor_config.json');
  const cfgFile = path.join(dir, 'config.json');
  return {
    image: parseImageSettings(await readJson(preFile, 'preprocessor_config.json'), preFile),
    config: parseModelConfig(await readJson(cfgFile, 'config.json'), cfgFile),
  };
}
