import { type Command, Option } from 'commander';
import { config, MODEL_VARIANTS, type ModelVariant } from '../../shared/config/index.ts';
import {
  inspectModel,
  LICENCE_NOTE,
  MODEL_DIR_REQUIRED_FILES,
  repoCacheDir,
  resolveModel,
  type ModelSettings,
} from '../../shared/encoder/model-files.ts';
import { formatBytes } from '../../shared/progress/format.ts';
import { createProgress, PROGRESS_MODES, type ProgressMode, type ProgressReporter } from '../../shared/progress/reporter.ts';

interface ModelOptions {
  variant?: ModelVariant;
  revision?: string;
  repo?: string;
  json?: boolean;
}

function settings(opts: ModelOptions): ModelSettings {
  const base = config().model;
  return {
    ...base,
    variant: opts.variant ?? base.variant,
    revision: opts.revision ?? base.revision,
    repo: opts.repo ?? base.repo,
  };
}

function withModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--variant <variant>', 'ONNX variant (default: MODEL_VARIANT)').choices(MODEL_VARIANTS as unknown as string[]))
    .option('--revision <rev>', 'branch, tag or commit of the hub repo (default: MODEL_REVISION)')
    .option('--repo <owner/name>', 'hub repository (default: MODEL_REPO)')
    .option('--json', 'print the result as JSON');
}

const LAYOUT_HELP = `
Where the files go:
  $MODEL_CACHE_DIR/<owner>--<name>/<revision>/   (default MODEL_CACHE_DIR: $DATA_DIR/models)
  laid out like the hub repo (onnx/model_fp16.onnx, tokenizer.json, ...). That folder also works as
  MODEL_DIR, so it can be copied to a machine without network.

A machine without network needs MODEL_DIR=/path/to/jina-clip-v2 holding ${MODEL_DIR_REQUIRED_FILES.join(', ')}
and onnx/model_<variant>.onnx (fp32: onnx/model.onnx + onnx/model.onnx_data).

${LICENCE_NOTE}`;

function printFiles(files: Array<{ path: string; bytes: number; present?: boolean }>): void {
  const widest = Math.max(...files.map((f) => f.path.length));
  for (const f of files) {
    const size = f.present === false ? 'missing' : formatBytes(f.bytes);
    process.stdout.write(`  ${f.path.padEnd(widest)}  ${size.padStart(10)}\n`);
  }
}

export function register(program: Command): void {
  const model = program
    .command('model')
    .description('download or inspect the jina-clip-v2 model files (ONNX graph, tokenizer, configs)')
    .addHelpText('after', LAYOUT_HELP);

  withModelOptions(
    model
      .command('fetch')
      .description('download the model from the Hugging Face hub into the cache (resumes a partial download)'),
  )
    .option('--force', 'download again even if the cache is complete')
    .addOption(
      new Option('--progress <mode>', 'progress display: auto (bar on a terminal, lines otherwise), tty, plain, json, silent')
        .choices(PROGRESS_MODES as unknown as string[])
        .default('auto'),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  clipstream model fetch\n  clipstream model fetch --variant fp32 --revision main\n  HF_ENDPOINT=https://hf-mirror.example clipstream model fetch --progress plain\n${LAYOUT_HELP}`,
    )
    .action(async (opts: ModelOptions & { force?: boolean; progress: ProgressMode }) => {
      const m = settings(opts);
      if (m.dir) process.stderr.write(`MODEL_DIR is set (${m.dir}): nothing to download, checking the folder\n`);
      let bar: ProgressReporter | undefined;
      const abort = new AbortController();
      const onSignal = () => abort.abort(new Error('interrupted; run `clipstream model fetch` again to resume'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const resolved = await resolveModel(m, {
          force: opts.force,
          signal: abort.signal,
          onProgress: (p) => {
            bar ??= createProgress({ label: 'download', unit: 'bytes', total: p.totalBytes, mode: opts.progress });
            bar.update(p.bytes, { total: p.totalBytes, detail: `${p.file} (${p.filesDone}/${p.filesTotal} files)` });
          },
        });
        bar?.finish();
        if (opts.json) {
          process.stdout.write(JSON.stringify(resolved, null, 2) + '\n');
          return;
        }
        const origin = resolved.source === 'dir' ? 'MODEL_DIR' : resolved.source === 'cache' ? 'already in the cache' : 'downloaded';
        process.stdout.write(`${resolved.modelId}${resolved.commit ? ` (commit ${resolved.commit.slice(0, 12)})` : ''}: ${origin}\n`);
        process.stdout.write(`${resolved.dir}\n`);
        printFiles(resolved.files);
        if (resolved.source !== 'dir') {
          process.stdout.write(
            `\nOffline use: MODEL_OFFLINE=true with this MODEL_CACHE_DIR, or copy the folder and set MODEL_DIR=${resolved.dir}\n`,
          );
        }
        process.stdout.write(`${LICENCE_NOTE}\n`);
      } catch (err) {
        bar?.fail();
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  withModelOptions(model.command('info').description('show which model files would be used, without downloading anything'))
    .addHelpText('after', LAYOUT_HELP)
    .action(async (opts: ModelOptions) => {
      const m = settings(opts);
      const info = await inspectModel(m);
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const lines = [
        `model:      ${info.modelId}${info.isTestModel ? ' (generated test model, not jina-clip-v2)' : ''}`,
        `source:     ${info.source === 'dir' ? 'MODEL_DIR' : `hub ${m.repo}@${m.revision} via ${m.hfEndpoint}${m.offline ? ' (MODEL_OFFLINE)' : ''}`}`,
        `dir:        ${info.dir}`,
        `variant:    ${info.variant}${info.variant !== m.variant ? ` (requested ${m.variant}, not in the folder)` : ''}`,
        `complete:   ${info.complete ? 'yes' : `no, missing ${info.missing.join(', ')}`}`,
      ];
      if (info.commit) lines.push(`commit:     ${info.commit}`);
      if (info.embeddingDim !== undefined) lines.push(`embedding:  ${info.embeddingDim} dims`);
      if (info.image) lines.push(`image:      ${info.image.size}px, mean ${info.image.mean.join(', ')}, std ${info.image.std.join(', ')}`);
      process.stdout.write(lines.join('\n') + '\nfiles:\n');
      printFiles(info.files);
      if (!info.complete && info.source === 'cache') {
        process.stdout.write(
          `\n${m.offline ? 'MODEL_OFFLINE is set: provide MODEL_DIR instead.' : 'Run `clipstream model fetch` to download (it also happens on first use).'}\n` +
            `Cache folder: ${repoCacheDir(m)}\n`,
        );
      }
      process.stdout.write(`${LICENCE_NOTE}\n`);
    });
}
