import type { Command } from 'commander';
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { formatFinding, runDoctor } from '../../services/doctor/index.ts';
import { positiveInt } from './options.ts';

export function register(program: Command): void {
  program
    .command('doctor [source...]')
    .description('check every configured component (Redis, Qdrant and the collection, S3 and the sources, the model, the execution provider, disk): one line each')
    .option('--json', 'print the findings as JSON')
    .option('--strict', 'exit 1 on warnings too (e.g. Redis without persistence)')
    .option('--no-hashes', 'do not hash the model files (a 1.7 GB graph takes a few seconds)')
    .option('--min-free-gb <n>', 'free space DATA_DIR needs', '1')
    .option('--timeout <ms>', 'per network call', '5000')
    .addHelpText(
      'after',
      `
Each line says OK, WARN (works, with a risk worth knowing), FAIL (what is wrong → how to fix it)
or SKIP (does not apply to this configuration). Exit code 0 when nothing failed (with --strict:
nothing failed or warned), 1 otherwise. Sources named here are checked with those registered in
the live collection.

Examples:
  REDIS_URL=redis://localhost:6379 QDRANT_URL=http://localhost:6333 clipstream doctor
  clipstream doctor s3://shop/catalogue/ --json`,
    )
    .action(async (sources: string[], opts: { json?: boolean; strict?: boolean; hashes: boolean; minFreeGb: string; timeout: string }) => {
      const minFreeGb = Number(opts.minFreeGb);
      if (!Number.isFinite(minFreeGb) || minFreeGb < 0) throw new ClipstreamError('BAD_REQUEST', `--min-free-gb ${JSON.stringify(opts.minFreeGb)}: expected a number ≥ 0`);
      const report = await runDoctor(config(), {
        sources,
        timeoutMs: positiveInt('--timeout', opts.timeout),
        minFreeBytes: minFreeGb * 1024 ** 3,
        hashes: opts.hashes,
      });
      const passed = report.ok && !(opts.strict && report.findings.some((f) => f.verdict === 'warn'));
      if (opts.json) process.stdout.write(JSON.stringify({ ok: passed, findings: report.findings }, null, 2) + '\n');
      else for (const f of report.findings) process.stdout.write(`${formatFinding(f)}\n`);
      process.exitCode = passed ? 0 : 1;
    });
}
