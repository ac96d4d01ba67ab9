import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { calibrate, CALIBRATION_FILE, parseGrid, saveCalibration, type CalibrationResult } from '../../shared/store/calibrate.ts';
import { resolveAlias } from '../../shared/store/schema.ts';
import { connectStore } from '../../services/store-connect.ts';

interface CalibrateOptions {
  k: number;
  target: number;
  samples: number;
  pairs?: string;
  modality?: 'image' | 'text';
  queryVectors?: string;
  save: boolean;
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const fraction = (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('must be in (0, 1]');
  return n;
};

export function register(program: Command): void {
  program
    .command('calibrate')
    .description(
      'measure recall@k and latency of coarse-to-fine stage limits (L1 64-d candidates, L2 256-d candidates) against an exact ' +
        `1024-d search on the stored catalogue, and save the cheapest pair reaching the target to $DATA_DIR/${CALIBRATION_FILE}`,
    )
    .option('--k <n>', 'hits compared per query (recall@k)', positiveInt('--k'), 10)
    .option('--target <recall>', 'recall the chosen pair must reach', fraction, 0.99)
    .option('--samples <n>', 'stored points used as queries', positiveInt('--samples'), 200)
    .option('--pairs <list>', 'stage limits to try, L1:L2 comma-separated (default: L1 50…1600 × L2 20…400)')
    .option('--modality <image|text>', 'calibrate on one modality only')
    .option(
      '--query-vectors <file.jsonl>',
      'use these query vectors instead of stored points: one per line, a JSON array or `clipstream encode --query` output',
    )
    .option('--no-save', 'print the table without saving the result')
    .addHelpText(
      'after',
      '\nThe query service uses the saved pair as its default stage limits (else L1=400, L2=100).\n' +
        'Queries are stored points (each excluded from its own results); run after an ingest.\n' +
        'Real queries (held out: not stored points) lie farther from their neighbours and need wider\n' +
        'limits: at 1M synthetic points, limits calibrated on stored points to 0.994 gave 0.949 on\n' +
        'held-out queries. Calibrate with encoded real queries (--query-vectors) wherever you have\n' +
        'them, text-to-image search above all. The first stage searches with an HNSW beam of 2 × L1.\n\n' +
        'Examples:\n  clipstream calibrate\n  clipstream calibrate --k 20 --target 0.995 --pairs 200:50,400:100,800:200\n' +
        '  clipstream encode --text "rote Schuhe" --query --dims 1024 >> queries.jsonl; clipstream calibrate --query-vectors queries.jsonl',
    )
    .action(async (opts: CalibrateOptions) => {
      if (opts.modality && opts.modality !== 'image' && opts.modality !== 'text') {
        throw new ClipstreamError('BAD_REQUEST', `--modality must be image or text, got ${opts.modality}`);
      }
      const cfg = config();
      const dims = cfg.encoder.dims;
      const grid = opts.pairs ? parseGrid(opts.pairs, dims, opts.k) : undefined;
      const queries = opts.queryVectors ? await readQueryVectors(opts.queryVectors, Math.max(...dims)) : undefined;
      const store = await connectStore(cfg);
      try {
        const collection = cfg.store.collection;
        const behind = await resolveAlias(store.client, collection, { storeUrl: store.url });
        const { collections } = await store.client.getCollections();
        if (!behind && !collections.some((c) => c.name === collection)) {
          throw new ClipstreamError('BAD_REQUEST', `no collection or alias "${collection}" in the store at ${store.url}: ingest something first`);
        }
        const result = await calibrate(
          { client: store.client, collection, dims },
          {
            k: opts.k,
            target: opts.target,
            samples: opts.samples,
            grid,
            queries,
            filter: opts.modality ? { must: [{ key: 'modality', match: { value: opts.modality } }] } : undefined,
            onProgress: (line) => process.stderr.write(`${line}\n`),
          },
        );
        process.stdout.write(table(result));
        if (opts.save) {
          const file = await saveCalibration(cfg.store.dataDir, result);
          process.stdout.write(`saved ${result.chosen.stage_limits.join(':')} to ${file}\n`);
        }
        if (!result.reached) {
          process.stderr.write(`no pair reached recall ${result.target}; widen --pairs (the best measured was chosen)\n`);
          process.exitCode = 1;
        }
      } finally {
        await store.close();
      }
    });
}

/** JSON lines: `[…]`, `{"vector": […]}` or `clipstream encode` output (`{"vectors": {"1024": […]}}`). */
export async function readQueryVectors(file: string, dim: number): Promise<number[][]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ClipstreamError('BAD_REQUEST', `cannot read query vectors: ${err.code ?? err.message}`, { item: file });
  });
  const out: number[][] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const item = `${file}:${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new ClipstreamError('BAD_REQUEST', 'not JSON', { item });
    }
    const o = parsed as { vector?: unknown; vectors?: Record<string, unknown> };
    const v = Array.isArray(parsed) ? parsed : Array.isArray(o.vector) ? o.vector : o.vectors?.[String(dim)];
    if (!Array.isArray(v) || v.length !== dim || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new ClipstreamError('VECTOR_INVALID', `expected a ${dim}-d vector (an array, "vector", or "vectors": {"${dim}": …})`, { item });
    }
    out.push(v as number[]);
  });
  if (out.length === 0) throw new ClipstreamError('BAD_REQUEST', 'no query vectors', { item: file });
  return out;
}

function table(r: CalibrationResult): string {
  const names = r.chosen.stage_limits.map((_, i) => `L${i + 1}`);
  const head = [...names, `recall@${r.k}`, 'p50 ms', 'p99 ms', ''];
  const rows = r.grid.map((m) => [
    ...m.stage_limits.map(String),
    m.recall.toFixed(4),
    m.latency_p50_ms.toFixed(2),
    m.latency_p99_ms.toFixed(2),
    m === r.chosen || m.stage_limits.join(':') === r.chosen.stage_limits.join(':') ? (r.reached ? '← chosen' : '← best (target not reached)') : '',
  ]);
  rows.push([...names.map(() => '—'), 'exact', r.exact.latency_p50_ms.toFixed(2), r.exact.latency_p99_ms.toFixed(2), '(1024-d scan, baseline)']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(widths[i]!))).join('  ').trimEnd() + '\n';
  const from = r.queries === 'stored_points' ? 'stored points of' : 'given vectors against';
  return `${r.samples} queries (${from}) ${r.collection}, dims ${r.dims.join('/')}, target recall ${r.target}\n` + line(head) + rows.map(line).join('');
}
