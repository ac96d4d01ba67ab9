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
import { isProcessAlive } from '../process.ts';
import { sleep } from '../concurrency.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, ModelVariant } from '../config/index.ts';
import { ClipstreamError, isClipstreamError } from '../errors.ts';
import { downloadHubFile, headHubFile, type HubFileRef, type RemoteFileInfo } from './download.ts';
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

const MANIFEST_FILE = '.clipstream-manifest.json';
const LOCK_FILE = '.clipstream.lock';
const LOCK_STALE_MS = 120_000;
const LOCK_REFRESH_MS = 30_000;
const LOCK_POLL_MS = 500;

const DEFAULT_IMAGE: ImageProcessorSettings = {
  size: 512,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};
const DEFAULT_EMBEDDING_DIM = 1024;

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

interface Manifest {
  repo: string;
  revision: string;
  commit?: string | undefined;
  files: Record<string, { size: number; etag?: string | undefined; sha256?: string | undefined; fetchedAt: string }>;
}

async function statOrUndefined(p: string) {
  try {
    return await fs.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

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

/** How to get the model onto a machine that cannot download it. */
export function provideModelHint(model: Pick<ModelSettings, 'variant' | 'cacheDir' | 'repo' | 'revision'>): string {
  const onnx = variantOnnxFiles(model.variant).join(' + ');
  return (
    `Provide the model locally: set MODEL_DIR=/path/to/jina-clip-v2, a folder holding ${MODEL_DIR_REQUIRED_FILES.join(', ')} ` +
    `and ${onnx} (as in the hub repo ${model.repo}), or run \`clipstream model fetch --variant ${model.variant}\` on a machine ` +
    `with network and copy ${repoCacheDir(model)} over (it works as MODEL_DIR too). ${LICENCE_NOTE}`
  );
}

async function loadFacts(dir: string): Promise<{ image: ImageProcessorSettings; config: ModelConfigFacts }> {
  const preFile = path.join(dir, 'preprocessor_config.json');
  const cfgFile = path.join(dir, 'config.json');
  return {
    image: parseImageSettings(await readJson(preFile, 'preprocessor_config.json'), preFile),
    config: parseModelConfig(await readJson(cfgFile, 'config.json'), cfgFile),
  };
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

async function readManifest(dir: string, model: ModelSettings): Promise<Manifest> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
    if (m && typeof m.files === 'object' && m.repo === model.repo && m.revision === model.revision) return m;
  } catch {
    // absent or unreadable: the files on disk are still trusted (they only land there complete)
  }
  return { repo: model.repo, revision: model.revision, files: {} };
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = path.join(dir, `${MANIFEST_FILE}.${process.pid}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await fs.rename(tmp, path.join(dir, MANIFEST_FILE));
}

/** Files of the list not (validly) in the cache folder. */
async function missingFromCache(dir: string, files: string[], manifest: Manifest): Promise<string[]> {
  const missing: string[] = [];
  for (const f of files) {
    const st = await statOrUndefined(path.join(dir, f));
    const recorded = manifest.files[f];
    if (!st?.isFile() || (recorded && recorded.size !== st.size)) missing.push(f);
  }
  return missing;
}


/**
 * One downloader per cache folder: workers starting together on an empty cache would otherwise
 * append to the same `.incomplete` file. The holder refreshes the lock's mtime, so a lock left
 * by a crashed process (dead pid here, or silent for LOCK_STALE_MS) is taken over.
 */
async function acquireLock(dir: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  const lockPath = path.join(dir, LOCK_FILE);
  const body = JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
  for (;;) {
    try {
      await fs.writeFile(lockPath, body, { flag: 'wx' });
      const refresh = setInterval(() => {
        const now = new Date();
        fs.utimes(lockPath, now, now).catch(() => undefined);
      }, LOCK_REFRESH_MS);
      refresh.unref();
      return async () => {
        clearInterval(refresh);
        await fs.rm(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let stale: boolean;
    try {
      const [text, st] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath)]);
      const holder = JSON.parse(text) as { pid?: number; host?: string };
      stale =
        Date.now() - st.mtimeMs > LOCK_STALE_MS ||
        (holder.host === os.hostname() && typeof holder.pid === 'number' && holder.pid !== process.pid && !isProcessAlive(holder.pid));
    } catch {
      stale = true; // vanished or half-written; try again at once
    }
    if (stale) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    await sleep(LOCK_POLL_MS, signal);
  }
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
