/**
 * `npm run make:test-model -- [--out DIR] [--heavy N]`
 *
 * Generates the tiny, deterministic stand-in for jinaai/jina-clip-v2 (see
 * scripts/test-model/files.ts). Without --out it rewrites the committed models/test-tiny/;
 * re-running gives identical bytes. --heavy N adds N blocks of semantically inert compute so
 * benchmarks can make encoding cost dominate (see models/test-tiny/README.md for figures).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateTestModel } from './test-model/files.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_TEST_MODEL_DIR = path.join(repoRoot, 'models', 'test-tiny');

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      heavy: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run make:test-model -- [--out DIR] [--heavy N]\n' +
        `  --out DIR   output folder (default ${path.relative(process.cwd(), DEFAULT_TEST_MODEL_DIR) || '.'})\n` +
        '  --heavy N   add N residual 256x256 blocks over 1024 image patches and every text token\n' +
        '              (no effect on the embeddings beyond ~1e-6; default 0)\n',
    );
    return;
  }
  const heavy = Number(values.heavy);
  const outDir = path.resolve(values.out ?? DEFAULT_TEST_MODEL_DIR);
  const started = performance.now();
  const files = await generateTestModel({ outDir, heavy });
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`wrote ${files.length} files to ${outDir} (heavy=${heavy}) in ${ms} ms\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`make-test-model: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
