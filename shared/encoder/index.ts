/**
 * Opening the encoder for a process: resolve the model (local dir, cache, or download), load
 * one ORT session, and say plainly when the bundled test model stands in for jina-clip-v2.
 */
import type { Config } from '../config/index.ts';
import { describeError } from '../errors.ts';
import { ClipEncoder } from './encoder.ts';
import { bundledTestModelDir, resolveModel } from './model-files.ts';

export { ClipEncoder } from './encoder.ts';
export type { EncoderStats } from './encoder.ts';
export type { MatryoshkaVectors } from './types.ts';

export interface OpenEncoderOptions {
  /** When the real model cannot be had, run on the generated test model (labelled) instead of failing. */
  allowTestModel?: boolean | undefined;
  /** Receives human-readable notices (which model, why the fallback). */
  onNotice?: ((line: string) => void) | undefined;
}

export async function openEncoder(config: Config, options: OpenEncoderOptions = {}): Promise<ClipEncoder> {
  const notice = options.onNotice ?? (() => {});
  let model;
  try {
    model = await resolveModel(config.model);
  } catch (err) {
    if (!options.allowTestModel) throw err;
    notice(`jina-clip-v2 is not available here (${describeError(err)})`);
    notice('running on the bundled TEST model (models/test-tiny): tiny, generated, NOT jina-clip-v2 quality');
    model = await resolveModel({ ...config.model, dir: bundledTestModelDir(), offline: true });
  }
  if (model.isTestModel) notice(`model: ${model.modelId} [TEST MODEL]`);
  else notice(`model: ${model.modelId}`);
  return ClipEncoder.open(model, config.encoder);
}
