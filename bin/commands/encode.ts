import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { config, TRAINED_DIMS } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openEncoder } from '../../shared/encoder/index.ts';
import { truncateAndNormalise } from '../../shared/encoder/matryoshka.ts';

interface EncodeOptions {
  text?: string;
  image?: string;
  query?: boolean;
  dims: string;
  testModel?: boolean;
}

export function register(program: Command): void {
  program
    .command('encode')
    .description('encode one text or image and print its Matryoshka vectors as JSON')
    .option('--text <text>', 'text to encode (any language)')
    .option('--image <file>', 'image file to encode (JPEG, PNG, WebP, AVIF, TIFF, GIF)')
    .option('--query', 'treat the text as a retrieval query (adds the model\'s query prefix)')
    .option('--dims <list>', `Matryoshka dimensions to print, from ${TRAINED_DIMS.join(', ')}`, '64,256,1024')
    .option('--test-model', 'fall back to the bundled test model when jina-clip-v2 is unavailable')
    .addHelpText('after', '\nExamples:\n  clipstream encode --text "rote Schuhe" --query --dims 64\n  clipstream encode --image shoe.jpg')
    .action(async (opts: EncodeOptions) => {
      if (!opts.text === !opts.image) throw new ClipstreamError('BAD_REQUEST', 'give exactly one of --text or --image');
      const dims = opts.dims.split(',').map((d) => Number(d.trim()));
      const bad = dims.filter((d) => !TRAINED_DIMS.includes(d));
      if (bad.length) throw new ClipstreamError('BAD_REQUEST', `--dims: ${bad.join(', ')} not in ${TRAINED_DIMS.join(', ')}`);
      const cfg = config();
      const encoder = await openEncoder(cfg, { allowTestModel: opts.testModel, onNotice: (l) => process.stderr.write(`${l}\n`) });
      try {
        const full = opts.text !== undefined
          ? await encoder.encodeText({ text: opts.text, query: opts.query, item: '--text' })
          : await encoder.encodeImage({ bytes: await readFile(opts.image!), item: opts.image });
        // The full-width vector is the source of every slice: truncate, then re-normalise.
        const widest = full[Math.max(...Object.keys(full).map(Number))]!;
        const vectors: Record<string, number[]> = {};
        for (const d of dims) vectors[String(d)] = Array.from(truncateAndNormalise(widest, d));
        process.stdout.write(JSON.stringify({ model: encoder.model.modelId, testModel: encoder.model.isTestModel, input: opts.text !== undefined ? { text: opts.text, query: !!opts.query } : { image: opts.image }, vectors }) + '\n');
      } finally {
        await encoder.close();
      }
    });
}
