/**
 * The model's files as a worker would use them (MODEL_DIR, else the cache; nothing is
 * downloaded): every file present, its size, its SHA-256 — compared with the hub's where the
 * download recorded one in the cache manifest.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { inspectModel, provideModelHint, type ModelInspection } from '../../shared/encoder/model-files.ts';
import { fail, ok, warn, type Finding } from './check.ts';

export interface ModelFindings {
  findings: Finding[];
  inspection?: ModelInspection;
}

export interface ModelCheckOptions {
  /** Hash every file (a 1.7 GB graph takes a few seconds). */
  hashes?: boolean | undefined;
}

export async function checkModel(config: Config, options: ModelCheckOptions = {}): Promise<ModelFindings> {
  let inspection: ModelInspection;
  try {
    inspection = await inspectModel(config.model);
  } catch (err) {
    return { findings: [fail('model.files', `cannot inspect the model files: ${describeError(err)}`, provideModelHint(config.model))] };
  }
  const where = `${inspection.source === 'dir' ? 'MODEL_DIR' : 'cache'} ${inspection.dir}`;
  if (!inspection.complete) {
    const hint = inspection.source === 'dir' ? provideModelHint(config.model) : `run \`clipstream model fetch --variant ${config.model.variant}\` (or set MODEL_DIR). ${provideModelHint(config.model)}`;
    return { findings: [fail('model.files', `${where} lacks ${inspection.missing.join(', ')}`, hint)], inspection };
  }
  const findings: Finding[] = [];
  const total = inspection.files.reduce((n, f) => n + f.bytes, 0);
  findings.push(
    ok('model.files', `${inspection.modelId}${inspection.isTestModel ? ' [TEST MODEL]' : ''} in ${where}: ${inspection.files.length} files, ${formatBytes(total)} (${inspection.files.map((f) => `${f.path} ${formatBytes(f.bytes)}`).join(', ')})`),
  );
  const empty = inspection.files.filter((f) => f.bytes === 0);
  if (empty.length > 0) findings.push(fail('model.files', `empty files: ${empty.map((f) => f.path).join(', ')}`, provideModelHint(config.model)));
  if (options.hashes ?? true) {
    const recorded = readManifestHashes(inspection.dir);
    const mismatched: string[] = [];
    const hashes: string[] = [];
    for (const file of inspection.files) {
      const digest = await sha256(path.join(inspection.dir, file.path));
      hashes.push(`${file.path} ${digest.slice(0, 12)}`);
      const want = recorded[file.path];
      if (want && want !== digest) mismatched.push(`${file.path} (sha256 ${digest.slice(0, 12)}…, the hub's ${want.slice(0, 12)}…)`);
    }
    const compared = inspection.files.filter((f) => recorded[f.path]).length;
    if (mismatched.length > 0) {
      findings.push(fail('model.hashes', `damaged files: ${mismatched.join(', ')}`, `download again: \`clipstream model fetch --force --variant ${config.model.variant}\``));
    } else {
      findings.push(ok('model.hashes', `sha256 ${hashes.join(', ')}${compared > 0 ? `; ${compared} match the hub's` : ''}`));
    }
  }
  if (inspection.embeddingDim !== undefined && config.encoder.dims.some((d) => d > inspection.embeddingDim!)) {
    findings.push(warn('model.dims', `MRL_DIMS ${config.encoder.dims.join(',')} exceed the model's ${inspection.embeddingDim} dims (the larger ones are dropped)`, 'set MRL_DIMS to dims the model has'));
  }
  return { findings, inspection };
}

/** SHA-256 per file as recorded by `clipstream model fetch` (where the hub gave one). */
function readManifestHashes(dir: string): Record<string, string> {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.clipstream-manifest.json'), 'utf8')) as { files?: Record<string, { sha256?: string }> };
    return Object.fromEntries(Object.entries(manifest.files ?? {}).flatMap(([file, f]) => (f.sha256 ? [[file, f.sha256.toLowerCase()]] : [])));
  } catch {
    return {};
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
