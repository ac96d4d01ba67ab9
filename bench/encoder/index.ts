/**
 * `npm run bench -- encoder`: preprocessing and tokenisation against transformers.js, and the
 * ORT session's throughput on the test model at batch 1, 8 and 32 (baseline: batch 1).
 */
import path from 'node:path';
import { loadConfig } from '../../shared/config/index.ts';
import { resolveModel } from '../../shared/encoder/model-files.ts';
import { ClipSession } from '../../shared/encoder/session.ts';
import { TextTokenizer } from '../../shared/encoder/tokenizer.ts';
import { report } from '../report.ts';
import { benchPreprocess } from './preprocess.ts';
import { benchTokenize } from './tokenize.ts';

const TITLES = [
  'Red leather shoes for men', 'Rote Lederschuhe für Herren', 'Chaussures en cuir rouges', 'Zapatos de cuero rojos',
  '赤い革靴', '红色皮鞋', 'Blue cotton shirt', 'Blaues Baumwollhemd', 'Chemise bleue en coton', 'Camisa azul de algodón',
];

async function benchEncode(): Promise<void> {
  const cfg = loadConfig({ ...process.env, MODEL_DIR: process.env.MODEL_DIR ?? path.resolve('models/test-tiny') });
  const model = await resolveModel(cfg.model);
  const session = await ClipSession.create(model, cfg.encoder);
  const tokenizer = await TextTokenizer.load(model.tokenizerPath, { maxTokens: cfg.encoder.textMaxTokens, maxBytes: cfg.encoder.textMaxBytes });
  const size = model.image.size;
  const per = 3 * size * size;
  const label = `${model.modelId}${model.isTestModel ? ' [test model]' : ''}`;
  for (const modality of ['image', 'text'] as const) {
    let baseline = 0;
    for (const batch of [1, 8, 32]) {
      const items = modality === 'image' ? Math.max(64, batch * 4) : Math.max(512, batch * 32);
      let run: () => Promise<unknown>;
      if (modality === 'image') {
        const pixels = Float32Array.from({ length: per * batch }, (_, i) => Math.sin(i) * 0.5);
        run = () => session.encodePixels(pixels, batch);
      } else {
        const tokenized = await tokenizer.tokenize(
          Array.from({ length: batch }, (_, i) => ({ text: TITLES[i % TITLES.length]! })),
          { query: false },
        );
        const ids = tokenized.map((t) => ('ids' in t ? t.ids : new Int32Array([0, 2])));
        const packed = tokenizer.packBatch(ids);
        run = () => session.encodeTokenIds(packed.inputIds, packed.batch, packed.seqLen);
      }
      await run(); // warm-up
      const started = performance.now();
      for (let done = 0; done < items; done += batch) await run();
      const perS = (items / (performance.now() - started)) * 1000;
      if (batch === 1) baseline = perS;
      report({
        suite: 'encoder', metric: 'encode_items_per_s', value: perS, unit: 'items/s',
        baseline: batch === 1 ? null : `${modality} batch 1`, ratio: batch === 1 ? null : perS / baseline,
        modality, batch, model: label, provider: cfg.encoder.executionProvider,
      });
    }
  }
  await session.release();
}

export async function main(args: string[]): Promise<void> {
  const only = new Set(args);
  if (only.size === 0 || only.has('preprocess')) await benchPreprocess();
  if (only.size === 0 || only.has('tokenize')) await benchTokenize();
  if (only.size === 0 || only.has('encode')) await benchEncode();
}
