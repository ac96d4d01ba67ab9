/**
 * Finding the model's files on disk, downloading them from the Hugging Face hub on first use.
 *
 * Two sources, never mixed:
 * - `MODEL_DIR` (config `model.dir`): a folder laid out like the hub repo. Never touches the network.
 * - the hub repo `model.repo` at `model.revision`, cached under
 *     `<model.cacheDir>/<owner>--<name>/<revision>/`
 *   with the repo's own relative paths inside (`tokenizer.json`, `onnx/model_fp16.onnx`, ...), so a
 *   cache folder is itself a valid `MODEL_DIR` and can be copied to an offline machine as is.
 *   Beside the files: `.clipstream-manifest.json` (size, etag and commit of every completed file),
 *   `.clipstream.lock` while a process downloads, and `<file>.incomplete` (+ `.incomplete.json`)
 *   for a partial transfer that the next run resumes.
 *
 * A file is only ever at its final path once complete and checked, so a cache whose files are all
 * present is used as is, without asking the hub: a moving revision such as `main` is not re-checked
 * (`clipstream model fetch --force` downloads again).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, ModelVariant } from '../config/index.ts';
import { ClipstreamError, isClipstreamError } from '../errors.ts';
import { downloadHubFile, headHubFile, type HubFileRef, type RemoteFileInfo } from './download.ts';
import { acquireLock, missingFromCache, readManifest, statOrUndefined, writeManifest } from './model-cache.ts';
import { loadFacts } from './model-config.ts';
import type { BackoffPolicy } from '../retry.ts';
import type { ImageProcessorSettings, ResolvedModel } from './types.ts';

export type ModelSettings = Config['model'];

export const LICENCE_NOTE =
  'The jina-clip-v2 weights are licensed CC BY-NC 4.0 (non-commercial use; commercial use through Jina AI).';

/** Files a `MODEL_DIR` must hold besides the ONNX graph. */
export const MODEL_DIR_REQUIRED_FILES = ['tokenizer.json', 'preprocessor_config.json', 'config.json'] as const;
/** Non-graph files fetched from the hub. */
export const HUB_SUPPORT_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'preprocessor_config.json',
  'config.json',
] as const;

/** The ONNX graph of a variant, as the hub repo names it. */
export function variantOnnxPath(variant: ModelVariant): string {
  return variant === 'fp32' ? 'onnx/model.onnx' : `onnx/model_${variant}.onnx`;
}

/** Every file of the variant's graph: fp32 keeps its weights in an external-data file. */
export function variantOnnxFiles(variant: ModelVariant): string[] {
  return variant === 'fp32' ? ['onnx/model.onnx', 'onnx/model.onnx_data'] : [variantOnnxPath(variant)];
}

/** Where the hub repo at a revision is cached. */
export function repoCacheDir(model: Pick<ModelSettings, 'cacheDir' | 'repo' | 'revision'>): string {
  const safe = (s: string) => s.replace(/\//g, '--').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+$/, '_');
  return path.join(model.cacheDir, safe(model.repo), safe(model.revision));
}

/** `models/test-tiny` in this repository: the small generated model tests and demos use. */
export function bundledTestModelDir(): string {
  return fileURLToPath(new URL('../../models/test-tiny', import.meta.url));
}

export interface DownloadProgress {
  /** Repo path of the file being transferred. */
  file: string;
  fileBytes: number;
  fileSize: number;
  /** Bytes of this resolve's downloads on disk so far (resumed partials included), out of `totalBytes`. */
  bytes: number;
  totalBytes: number;
  filesDone: number;
  filesTotal: number;
}

export interface ResolveOptions {
  onProgress?: ((p: DownloadProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Download again even when the cache is complete. */
  force?: boolean | undefined;
  retry?: Partial<BackoffPolicy> | undefined;
  stallTimeoutMs?: number | undefined;
}

export interface ModelFile {
  path: string;
  bytes: number;
}

export interface ResolvedModelFiles extends ResolvedModel {
  /** The variant whose graph is used (a `MODEL_DIR` without the requested one falls back to fp32). */
  variant: ModelVariant;
  source: 'dir' | 'cache' | 'download';
  files: ModelFile[];
  /** Hub commit the cached files came from, when known. */
  commit?: string | undefined;
}

/** How to get the model onto a machine that cannot download it. */
export function provideModelHint(model: Pick<ModelSettings, 'variant' | 'cacheDir' | 'repo' | 'revision'>): string {
  const onnx = variantOnnxFiles(model.variant).join(' + ');
  return (
    `Provide the model locally: set MODEL_DIR=/path/to/jina-clip-v2, a folder holding ${MODEL_DIR_REQUIRED_FILES.join(', ')} ` +
    `and ${onnx} (as in the hub repo ${model.repo}), or run \`clipstream model fetch --variant ${model.variant}\` on a machine ` +
    `with network and copy ${repoCacheDir(model)} over (it works as MODEL_DIR too). ${LICENCE_NOTE}`
  );
}

async function describeFiles(dir: string, rel: string[]): Promise<ModelFile[]> {
  return Promise.all(rel.map(async (p) => ({ path: p, bytes: (await statOrUndefined(path.join(dir, p)))?.size ?? 0 })));
}

interface LocalLayout {
  variant: ModelVariant;
  onnxFiles: string[];
  missing: string[];
}

/** Which graph a `MODEL_DIR` offers for the requested variant, and what it lacks. */
async function inspectLocalDir(dir: string, variant: ModelVariant): Promise<LocalLayout> {
  const missing: string[] = [];
  for (const f of MODEL_DIR_REQUIRED_FILES) if (!(await statOrUndefined(path.join(dir, f)))?.isFile()) missing.push(f);
  const onnxDir = await statOrUndefined(path.join(dir, 'onnx'));
  if (!onnxDir?.isDirectory()) {
    missing.push('onnx/');
    return { variant, onnxFiles: [], missing };
  }
  const wanted = variantOnnxPath(variant);
  if ((await statOrUndefined(path.join(dir, wanted)))?.isFile()) {
    const onnxFiles = [wanted];
    if (variant === 'fp32' && (await statOrUndefined(path.join(dir, 'onnx/model.onnx_data')))?.isFile()) onnxFiles.push('onnx/model.onnx_data');
    return { variant, onnxFiles, missing };
  }
  if ((await statOrUndefined(path.join(dir, 'onnx/model.onnx')))?.isFile()) {
    const onnxFiles = ['onnx/model.onnx'];
    if ((await statOrUndefined(path.join(dir, 'onnx/model.onnx_data')))?.isFile()) onnxFiles.push('onnx/model.onnx_data');
    return { variant: 'fp32', onnxFiles, missing };
  }
  missing.push(variant === 'fp32' ? wanted : `${wanted} (or onnx/model.onnx)`);
  return { variant, onnxFiles: [], missing };
}

async function resolveLocalDir(model: ModelSettings): Promise<ResolvedModelFiles> {
  const dir = path.resolve(model.dir!);
  const root = await statOrUndefined(dir);
  if (!root?.isDirectory()) {
    throw new ClipstreamError('MODEL_NOT_FOUND', `MODEL_DIR is not a folder. ${provideModelHint(model)}`, { item: dir });
  }
  const layout = await inspectLocalDir(dir, model.variant);
  if (layout.missing.length > 0) {
    throw new ClipstreamError('MODEL_NOT_FOUND', `MODEL_DIR lacks ${layout.missing.join(', ')}. ${provideModelHint(model)}`, { item: dir });
  }
  const { image, config } = await loadFacts(dir);
  const optional = ['tokenizer_config.json', 'special_tokens_map.json'];
  const present: string[] = [];
  for (const f of optional) if ((await statOrUndefined(path.join(dir, f)))?.isFile()) present.push(f);
  return {
    dir,
    onnxPath: path.join(dir, layout.onnxFiles[0]!),
    tokenizerPath: path.join(dir, 'tokenizer.json'),
    image,
    modelId: `${config.name ?? path.basename(dir)}@${layout.variant}`,
    embeddingDim: config.embeddingDim,
    isTestModel: config.isTestModel,
    variant: layout.variant,
    source: 'dir',
    files: await describeFiles(dir, [...layout.onnxFiles, ...MODEL_DIR_REQUIRED_FILES, ...present]),
  };
}

function hubFiles(variant: ModelVariant): string[] {
  return [...variantOnnxFiles(variant), ...HUB_SUPPORT_FILES];
}

async function resolvedFromCache(
  dir: string,
  model: ModelSettings,
  files: string[],
  source: 'cache' | 'download',
  commit: string | undefined,
): Promise<ResolvedModelFiles> {
  const { image, config } = await loadFacts(dir);
  return {
    dir,
    onnxPath: path.join(dir, variantOnnxPath(model.variant)),
    tokenizerPath: path.join(dir, 'tokenizer.json'),
    image,
    modelId: `${model.repo}@${model.variant}`,
    embeddingDim: config.embeddingDim,
    isTestModel: config.isTestModel,
    variant: model.variant,
    source,
    files: await describeFiles(dir, files),
    commit,
  };
}

function wrapHubFailure(err: unknown, model: ModelSettings): never {
  if (isClipstreamError(err, 'MODEL_NOT_FOUND') || isClipstreamError(err, 'MODEL_DOWNLOAD_FAILED')) {
    const extra =
      err.code === 'MODEL_NOT_FOUND' && /no such file/.test(err.message) && model.variant !== 'fp32'
        ? ` The repo may not publish the ${model.variant} variant; try MODEL_VARIANT=fp32 or another variant.`
        : '';
    throw new ClipstreamError(err.code, `${err.message}.${extra} ${provideModelHint(model)}`, { cause: err });
  }
  throw err;
}

async function resolveFromHub(model: ModelSettings, opts: ResolveOptions): Promise<ResolvedModelFiles> {
  const dir = repoCacheDir(model);
  const files = hubFiles(model.variant);
  const manifest = await readManifest(dir, model);
  if (!opts.force && (await missingFromCache(dir, files, manifest)).length === 0) {
    return resolvedFromCache(dir, model, files, 'cache', manifest.commit);
  }
  if (model.offline) {
    const missing = await missingFromCache(dir, files, manifest);
    throw new ClipstreamError(
      'MODEL_NOT_FOUND',
      `MODEL_OFFLINE is set and the cache at ${dir} lacks ${(opts.force ? files : missing).join(', ')}. ${provideModelHint(model)}`,
      { item: `${model.repo}@${model.revision}` },
    );
  }

  await fs.mkdir(dir, { recursive: true });
  const release = await acquireLock(dir, opts.signal);
  try {
    // Another process may have finished the job while this one waited for the lock.
    const current = await readManifest(dir, model);
    const todo = opts.force ? files : await missingFromCache(dir, files, current);
    const refFor = (p: string): HubFileRef => ({
      endpoint: model.hfEndpoint,
      repo: model.repo,
      revision: model.revision,
      path: p,
      token: model.hfToken,
    });
    const transfer = { signal: opts.signal, retry: opts.retry, stallTimeoutMs: opts.stallTimeoutMs };

    const infos = new Map<string, RemoteFileInfo>();
    try {
      for (const p of todo) infos.set(p, await headHubFile(refFor(p), transfer));
    } catch (err) {
      wrapHubFailure(err, model);
    }
    const totalBytes = [...infos.values()].reduce((sum, i) => sum + i.size, 0);
    let doneBytes = 0;
    let filesDone = 0;
    for (const p of todo) {
      const info = infos.get(p)!;
      const report = (fileBytes: number) =>
        opts.onProgress?.({
          file: p,
          fileBytes,
          fileSize: info.size,
          bytes: doneBytes + fileBytes,
          totalBytes,
          filesDone,
          filesTotal: todo.length,
        });
      try {
        await downloadHubFile(refFor(p), path.join(dir, p), info, { ...transfer, onBytes: report });
      } catch (err) {
        wrapHubFailure(err, model);
      }
      doneBytes += info.size;
      filesDone++;
      opts.onProgress?.({ file: p, fileBytes: info.size, fileSize: info.size, bytes: doneBytes, totalBytes, filesDone, filesTotal: todo.length });
      current.commit = info.commit ?? current.commit;
      current.files[p] = { size: info.size, etag: info.etag, sha256: info.sha256, fetchedAt: new Date().toISOString() };
      await writeManifest(dir, current);
    }
    return await resolvedFromCache(dir, model, files, 'download', current.commit);
  } finally {
    await release();
  }
}

/**
 * The model's files on disk, downloading what the cache lacks (unless offline). Throws
 * MODEL_NOT_FOUND / MODEL_DOWNLOAD_FAILED with directions for providing the files by hand.
 */
export async function resolveModel(model: ModelSettings, opts: ResolveOptions = {}): Promise<ResolvedModelFiles> {
  return model.dir ? resolveLocalDir(model) : resolveFromHub(model, opts);
}

export interface ModelInspection {
  source: 'dir' | 'cache';
  dir: string;
  /** The variant that would be used. */
  variant: ModelVariant;
  modelId: string;
  complete: boolean;
  files: Array<ModelFile & { present: boolean }>;
  missing: string[];
  commit?: string | undefined;
  embeddingDim?: number | undefined;
  isTestModel?: boolean | undefined;
  image?: ImageProcessorSettings | undefined;
}

/** What `resolveModel` would use, without downloading anything. */
export async function inspectModel(model: ModelSettings): Promise<ModelInspection> {
  let dir: string;
  let variant = model.variant;
  let wanted: string[];
  let missing: string[];
  let commit: string | undefined;
  if (model.dir) {
    dir = path.resolve(model.dir);
    const layout = await inspectLocalDir(dir, model.variant);
    variant = layout.variant;
    missing = layout.missing;
    wanted = [...layout.onnxFiles, ...MODEL_DIR_REQUIRED_FILES];
  } else {
    dir = repoCacheDir(model);
    wanted = hubFiles(model.variant);
    const manifest = await readManifest(dir, model);
    missing = await missingFromCache(dir, wanted, manifest);
    commit = manifest.commit;
  }
  const files = await Promise.all(
    wanted.map(async (p) => {
      const st = await statOrUndefined(path.join(dir, p));
      return { path: p, bytes: st?.size ?? 0, present: !missing.includes(p) && st !== undefined };
    }),
  );
  const result: ModelInspection = {
    source: model.dir ? 'dir' : 'cache',
    dir,
    variant,
    modelId: `${model.repo}@${variant}`,
    complete: missing.length === 0,
    files,
    missing,
    commit,
  };
  if (result.complete) {
    const { image, config } = await loadFacts(dir);
    if (model.dir) result.modelId = `${config.name ?? path.basename(dir)}@${variant}`;
    result.embeddingDim = config.embeddingDim;
    result.isTestModel = config.isTestModel;
    result.image = image;
  }
  return result;
}
