import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/index.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import {
  bundledTestModelDir,
  inspectModel,
  repoCacheDir,
  resolveModel,
  type DownloadProgress,
  type ModelSettings,
} from '../../shared/encoder/model-files.ts';
import { parseImageSettings, parseModelConfig } from '../../shared/encoder/model-config.ts';
import { startFakeHub, type FakeHub, type FakeHubFile } from '../support/fake-hub.ts';

const REPO = 'test-org/tiny-clip';
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

const tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'clipstream-model-files-'));
after(() => fs.rm(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
async function tmpDir(): Promise<string> {
  const d = path.join(tmpRoot, String(tmpCount++));
  await fs.mkdir(d, { recursive: true });
  return d;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
function repoFiles(): Record<string, FakeHubFile> {
  return {
    'onnx/model_fp16.onnx': { content: randomBytes(256 * 1024 + 13), lfs: true },
    'onnx/model.onnx': { content: randomBytes(4 * 1024 + 1), lfs: true },
    'onnx/model.onnx_data': { content: randomBytes(300 * 1024 + 7), lfs: true },
    'tokenizer.json': { content: json({ version: '1.0', model: { type: 'Unigram' } }) },
    'tokenizer_config.json': { content: json({ model_max_length: 8192 }) },
    'special_tokens_map.json': { content: json({ pad_token: '<pad>' }) },
    'preprocessor_config.json': {
      content: json({ size: 224, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize_mode: 'shortest', interpolation: 'bicubic' }),
    },
    'config.json': { content: json({ _name_or_path: REPO, projection_dim: 64, clipstream_test_model: true }) },
  };
}

function settings(hub: Pick<FakeHub, 'endpoint'> | undefined, cacheDir: string, env: Record<string, string> = {}): ModelSettings {
  return loadConfig({
    MODEL_REPO: REPO,
    MODEL_CACHE_DIR: cacheDir,
    HF_ENDPOINT: hub?.endpoint ?? 'http://127.0.0.1:1',
    ...env,
  }).model;
}

async function withHub<T>(fn: (hub: FakeHub) => Promise<T>, token?: string): Promise<T> {
  const hub = await startFakeHub({ repo: REPO, files: repoFiles(), token });
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function listRecursive(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
  }
  return out.sort();
}

const FP16_FILES = [
  'onnx/model_fp16.onnx',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'preprocessor_config.json',
  'config.json',
];

test('first download fetches every file of the variant with the right bytes and reports progress', async () => {
  await withHub(async (hub) => {
    hub.faults.relativeRedirectOnce = true;
    const cache = await tmpDir();
    const model = settings(hub, cache, { HF_TOKEN: 'hf_secret' });
    const progress: DownloadProgress[] = [];
    const resolved = await resolveModel(model, { onProgress: (p) => progress.push(p), retry: FAST_RETRY });

    const dir = repoCacheDir(model);
    assert.equal(resolved.dir, dir);
    assert.equal(dir, path.join(cache, 'test-org--tiny-clip', 'main'));
    for (const f of FP16_FILES) {
      assert.deepEqual(await fs.readFile(path.join(dir, f)), hub.files.get(f)!.content, f);
    }
    // Only the fp16 graph: neither the fp32 graph nor its external data were fetched.
    assert.equal(await exists(path.join(dir, 'onnx/model.onnx_data')), false);
    assert.equal(resolved.onnxPath, path.join(dir, 'onnx/model_fp16.onnx'));
    assert.equal(resolved.tokenizerPath, path.join(dir, 'tokenizer.json'));
    assert.equal(resolved.modelId, `${REPO}@fp16`);
    assert.equal(resolved.source, 'download');
    assert.equal(resolved.commit, hub.commit);
    assert.equal(resolved.isTestModel, true);
    assert.equal(resolved.embeddingDim, 64);
    assert.deepEqual(resolved.image, { size: 224, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });

    const total = FP16_FILES.reduce((s, f) => s + hub.files.get(f)!.content.length, 0);
    assert.ok(progress.length > FP16_FILES.length);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytes >= progress[i - 1]!.bytes, `progress went back at ${i}`);
    assert.ok(progress.every((p) => p.totalBytes === total && p.filesTotal === FP16_FILES.length));
    assert.equal(progress.at(-1)!.bytes, total);
    assert.equal(progress.at(-1)!.filesDone, FP16_FILES.length);

    assert.ok(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_secret'));
    assert.ok(hub.requests.some((r) => r.path.startsWith('/cdn-rel/') && r.status === 200), 'the relative redirect was followed');

    // Nothing half-done is left behind.
    const left = await listRecursive(dir);
    assert.deepEqual(left, [...FP16_FILES, '.clipstream-manifest.json'].sort());
    const manifest = JSON.parse(await fs.readFile(path.join(dir, '.clipstream-manifest.json'), 'utf8'));
    assert.equal(manifest.files['onnx/model_fp16.onnx'].size, hub.files.get('onnx/model_fp16.onnx')!.content.length);
  });
});

test('a connection dropped half-way is resumed with Range, not restarted', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    hub.faults.dropOnce.add(file);
    hub.faults.unavailableOnce.add('config.json');
    const model = settings(hub, await tmpDir());
    const resolved = await resolveModel(model, { retry: FAST_RETRY });
    const size = hub.files.get(file)!.content.length;
    assert.deepEqual(await fs.readFile(resolved.onnxPath), hub.files.get(file)!.content);
    const ranged = hub.requests.filter((r) => r.server === 'cdn' && r.range);
    assert.equal(ranged.length, 1);
    assert.match(ranged[0]!.range!, /^bytes=\d+-$/);
    assert.equal(ranged[0]!.status, 206);
    assert.ok(Number(/\d+/.exec(ranged[0]!.range!)![0]) > 0);
    assert.ok(hub.bytesServed.get(file)! < 2 * size, `served ${hub.bytesServed.get(file)} bytes for a ${size}-byte file`);
    // The 503 on config.json was retried.
    assert.deepEqual(
      hub.requests.filter((r) => r.path.endsWith('/config.json')).map((r) => r.status),
      [503, 200, 200],
    );
  });
});

test('a transfer that stalls is abandoned and resumed', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    hub.faults.stallOnce.add(file);
    const resolved = await resolveModel(settings(hub, await tmpDir()), { retry: FAST_RETRY, stallTimeoutMs: 300 });
    assert.deepEqual(await fs.readFile(resolved.onnxPath), hub.files.get(file)!.content);
    assert.ok(hub.requests.some((r) => r.server === 'cdn' && r.range && r.status === 206));
  });
});

test('a server that ignores Range makes the download restart from zero', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    hub.faults.dropOnce.add(file);
    hub.faults.ignoreRange = true;
    const resolved = await resolveModel(settings(hub, await tmpDir()), { retry: FAST_RETRY });
    assert.deepEqual(await fs.readFile(resolved.onnxPath), hub.files.get(file)!.content);
    assert.ok(hub.requests.some((r) => r.server === 'cdn' && r.range && r.status === 200));
  });
});

test('a download interrupted in one run is resumed by the next', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    const size = hub.files.get(file)!.content.length;
    const model = settings(hub, await tmpDir());
    const ac = new AbortController();
    await assert.rejects(
      resolveModel(model, {
        signal: ac.signal,
        retry: FAST_RETRY,
        onProgress: (p) => {
          if (p.file === file && p.fileBytes > size / 3) ac.abort(new Error('stopped by the test'));
        },
      }),
      /stopped by the test/,
    );
    const partial = path.join(repoCacheDir(model), `${file}.incomplete`);
    assert.ok((await fs.stat(partial)).size > 0);
    assert.equal(await exists(path.join(repoCacheDir(model), '.clipstream.lock')), false, 'the lock was released');

    const resolved = await resolveModel(model, { retry: FAST_RETRY });
    assert.deepEqual(await fs.readFile(resolved.onnxPath), hub.files.get(file)!.content);
    assert.ok(hub.requests.some((r) => r.server === 'cdn' && r.range && r.status === 206));
    assert.ok(hub.bytesServed.get(file)! < 2 * size);
    assert.equal(await exists(partial), false);
  });
});

test('a size that differs from the announced one fails clearly and leaves no file in place', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    hub.faults.wrongSize.add(file);
    const model = settings(hub, await tmpDir());
    await assert.rejects(resolveModel(model, { retry: FAST_RETRY }), (err: unknown) => {
      assert.ok(isClipstreamError(err, 'MODEL_DOWNLOAD_FAILED'), String(err));
      assert.match(err.message, /size mismatch/);
      assert.match(err.message, new RegExp(String(hub.files.get(file)!.content.length)));
      assert.match(err.message, /onnx\/model_fp16\.onnx/);
      return true;
    });
    const dir = repoCacheDir(model);
    assert.equal(await exists(path.join(dir, file)), false);
    assert.equal(await exists(path.join(dir, `${file}.incomplete`)), false);
  });
});

test('content that does not match the announced sha256 is refused', async () => {
  await withHub(async (hub) => {
    const file = 'onnx/model_fp16.onnx';
    hub.faults.corrupt.add(file);
    const model = settings(hub, await tmpDir());
    await assert.rejects(resolveModel(model, { retry: FAST_RETRY }), /checksum mismatch/);
    assert.equal(await exists(path.join(repoCacheDir(model), file)), false);
  });
});

test('a completed cache works with the server gone, offline or not', async () => {
  const cache = await tmpDir();
  let expected: Buffer;
  await withHub(async (hub) => {
    expected = hub.files.get('onnx/model_fp16.onnx')!.content;
    await resolveModel(settings(hub, cache), { retry: FAST_RETRY });
  });
  // The hub is closed now: any network attempt would fail.
  const offline = await resolveModel(settings(undefined, cache, { MODEL_OFFLINE: 'true' }));
  assert.equal(offline.source, 'cache');
  assert.deepEqual(await fs.readFile(offline.onnxPath), expected!);
  assert.equal(offline.embeddingDim, 64);
  const online = await resolveModel(settings(undefined, cache), { retry: FAST_RETRY });
  assert.equal(online.source, 'cache');
  const info = await inspectModel(settings(undefined, cache));
  assert.equal(info.complete, true);
  assert.equal(info.isTestModel, true);
  assert.equal(info.files.find((f) => f.path === 'onnx/model_fp16.onnx')!.bytes, expected!.length);
  // Another variant is not in the cache, and offline says how to get it.
  await assert.rejects(resolveModel(settings(undefined, cache, { MODEL_OFFLINE: 'true', MODEL_VARIANT: 'int8' })), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'MODEL_NOT_FOUND'));
    assert.match(err.message, /onnx\/model_int8\.onnx/);
    return true;
  });
});

test('offline with an empty cache fails with directions for MODEL_DIR and the licence', async () => {
  const model = settings(undefined, await tmpDir(), { MODEL_OFFLINE: 'true' });
  await assert.rejects(resolveModel(model), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'MODEL_NOT_FOUND'), String(err));
    assert.match(err.message, /MODEL_OFFLINE/);
    assert.match(err.message, /MODEL_DIR=/);
    assert.match(err.message, /clipstream model fetch/);
    assert.match(err.message, /CC BY-NC 4\.0/);
    return true;
  });
  const info = await inspectModel(model);
  assert.equal(info.complete, false);
  assert.ok(info.missing.includes('tokenizer.json'));
});

test('an unreachable hub fails after retries with directions for MODEL_DIR', async () => {
  // A port that was just free refuses connections.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const model = settings({ endpoint: `http://127.0.0.1:${port}` }, await tmpDir());
  await assert.rejects(resolveModel(model, { retry: FAST_RETRY }), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'MODEL_DOWNLOAD_FAILED'), String(err));
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /after 4 attempts/);
    assert.match(err.message, /MODEL_DIR=/);
    return true;
  });
});

test('a variant the repo does not publish is MODEL_NOT_FOUND naming the file', async () => {
  await withHub(async (hub) => {
    await assert.rejects(resolveModel(settings(hub, await tmpDir(), { MODEL_VARIANT: 'q4' }), { retry: FAST_RETRY }), (err: unknown) => {
      assert.ok(isClipstreamError(err, 'MODEL_NOT_FOUND'), String(err));
      assert.match(err.message, /onnx\/model_q4\.onnx/);
      assert.match(err.message, /404/);
      assert.match(err.message, /MODEL_DIR=/);
      return true;
    });
    // 404s are not retried.
    assert.equal(hub.requests.filter((r) => r.path.endsWith('model_q4.onnx')).length, 1);
  });
});

test('a refused token is MODEL_DOWNLOAD_FAILED mentioning HF_TOKEN', async () => {
  await withHub(async (hub) => {
    await assert.rejects(resolveModel(settings(hub, await tmpDir()), { retry: FAST_RETRY }), (err: unknown) => {
      assert.ok(isClipstreamError(err, 'MODEL_DOWNLOAD_FAILED'), String(err));
      assert.match(err.message, /401/);
      assert.match(err.message, /HF_TOKEN/);
      return true;
    });
  }, 'hf_right');
});

test('fp32 fetches the external weights file with the graph; the token never reaches the CDN', async () => {
  await withHub(async (hub) => {
    const resolved = await resolveModel(settings(hub, await tmpDir(), { MODEL_VARIANT: 'fp32', HF_TOKEN: 'hf_right' }), { retry: FAST_RETRY });
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    assert.equal(cdn.length, 2);
    assert.ok(cdn.every((r) => r.authorization === undefined));
    assert.equal(resolved.onnxPath, path.join(resolved.dir, 'onnx/model.onnx'));
    assert.deepEqual(await fs.readFile(path.join(resolved.dir, 'onnx/model.onnx_data')), hub.files.get('onnx/model.onnx_data')!.content);
    assert.deepEqual(
      resolved.files.map((f) => f.path).filter((p) => p.startsWith('onnx/')),
      ['onnx/model.onnx', 'onnx/model.onnx_data'],
    );
    assert.equal(resolved.modelId, `${REPO}@fp32`);
    assert.equal(await exists(path.join(resolved.dir, 'onnx/model_fp16.onnx')), false);
  }, 'hf_right');
});

async function fakeModelDir(opts: { variants: string[]; omit?: string[]; config?: object }): Promise<string> {
  const dir = await tmpDir();
  await fs.mkdir(path.join(dir, 'onnx'));
  const write = async (rel: string, content: string | Buffer) => {
    if (!opts.omit?.includes(rel)) await fs.writeFile(path.join(dir, rel), content);
  };
  await write('tokenizer.json', '{}');
  await write('preprocessor_config.json', JSON.stringify({ crop_size: { height: 96, width: 96 }, image_mean: [0.1, 0.2, 0.3], image_std: 0.5 }));
  await write('config.json', JSON.stringify(opts.config ?? { projection_dim: 32 }));
  for (const v of opts.variants) await write(`onnx/${v}`, 'onnx');
  return dir;
}

test('MODEL_DIR picks the variant graph and falls back to model.onnx', async () => {
  const dir = await fakeModelDir({ variants: ['model.onnx', 'model_fp16.onnx'], config: { _name_or_path: 'acme/clip-small', projection_dim: 32 } });
  const fp16 = await resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: dir, MODEL_VARIANT: 'fp16' }));
  assert.equal(fp16.onnxPath, path.join(dir, 'onnx/model_fp16.onnx'));
  assert.equal(fp16.modelId, 'acme/clip-small@fp16');
  assert.equal(fp16.source, 'dir');
  assert.equal(fp16.isTestModel, false);
  assert.equal(fp16.embeddingDim, 32);
  assert.deepEqual(fp16.image, { size: 96, mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5] });

  const int8 = await resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: dir, MODEL_VARIANT: 'int8' }));
  assert.equal(int8.onnxPath, path.join(dir, 'onnx/model.onnx'));
  assert.equal(int8.variant, 'fp32');
  assert.equal(int8.modelId, 'acme/clip-small@fp32');

  const noName = await fakeModelDir({ variants: ['model_int8.onnx'] });
  const named = await resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: noName, MODEL_VARIANT: 'int8' }));
  assert.equal(named.modelId, `${path.basename(noName)}@int8`);
  assert.equal(named.embeddingDim, 32);
});

test('MODEL_DIR missing tokenizer.json or any graph is MODEL_NOT_FOUND naming what is missing', async () => {
  const dir = await fakeModelDir({ variants: ['model.onnx'], omit: ['tokenizer.json'] });
  await assert.rejects(resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: dir })), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'MODEL_NOT_FOUND'), String(err));
    assert.match(err.message, /tokenizer\.json/);
    assert.doesNotMatch(err.message, /lacks[^.]*config\.json/);
    assert.equal(err.item, dir);
    return true;
  });
  const noGraph = await fakeModelDir({ variants: [] });
  await assert.rejects(resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: noGraph, MODEL_VARIANT: 'fp16' })), /onnx\/model_fp16\.onnx \(or onnx\/model\.onnx\)/);
  await assert.rejects(
    resolveModel(settings(undefined, await tmpDir(), { MODEL_DIR: path.join(noGraph, 'nope') })),
    (err: unknown) => isClipstreamError(err, 'MODEL_NOT_FOUND') && /not a folder/.test(err.message),
  );
});

test('preprocessor and model configs: key spellings, defaults and bad values', () => {
  assert.deepEqual(parseImageSettings({ size: 512, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] }), {
    size: 512,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  });
  assert.deepEqual(parseImageSettings({}), {
    size: 512,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  });
  assert.equal(parseImageSettings({ size: { shortest_edge: 224 } }).size, 224);
  assert.equal(parseImageSettings({ size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 } }).size, 224);
  assert.throws(() => parseImageSettings({ std: [0.2, 0, 0.2] }, 'x/preprocessor_config.json'), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'MODEL_INVALID'));
    assert.match(err.message, /x\/preprocessor_config\.json: std/);
    return true;
  });
  assert.throws(() => parseImageSettings({ size: { height: 224, width: 300 } }), /square/);
  assert.deepEqual(parseModelConfig({}), { embeddingDim: 1024, isTestModel: false, name: undefined });
  assert.equal(parseModelConfig({ clipstream_test_model: true }).isTestModel, true);
  assert.throws(() => parseModelConfig({ projection_dim: '1024' }), /projection_dim/);
});

test('bundledTestModelDir points at models/test-tiny in the repository', () => {
  const dir = bundledTestModelDir();
  assert.ok(path.isAbsolute(dir));
  assert.equal(path.relative(path.resolve('.'), dir), path.join('models', 'test-tiny'));
});
