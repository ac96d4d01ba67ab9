/**
 * Whether the configured ONNX Runtime execution provider loads on this machine. CUDA asked for
 * but not loadable (CPU-only binaries, no driver, no GPU) is an error: a worker must not encode
 * on the CPU while it is believed to be a GPU worker. The check builds a session on the small
 * bundled graph, not on the model itself, so it costs a second, not a model load.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../shared/config/index.ts';
import { bundledTestModelDir } from '../../shared/encoder/model-files.ts';
import { fail, ok, type Finding } from './check.ts';

export interface BackendFacts {
  /** onnxruntime-node's own list (`listSupportedBackends`): which providers this build knows and which it bundles. */
  backends: Array<{ name: string; bundled: boolean }>;
  /** Whether the CUDA provider library (downloaded at install time, not bundled) is on disk. */
  cudaLibrary: boolean;
}

/** What the installed onnxruntime-node offers, for the worker's start-up line and the doctor. */
export function backendFacts(): BackendFacts {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node') as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> };
  const binding = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  return { backends: ort.listSupportedBackends?.() ?? [], cudaLibrary: fs.existsSync(path.join(binding, 'libonnxruntime_providers_cuda.so')) };
}

export function describeBackends(facts: BackendFacts): string {
  return facts.backends.map((b) => (b.name === 'cuda' ? `cuda (provider library ${facts.cudaLibrary ? 'installed' : 'not installed'})` : b.name)).join(', ');
}

const PROBE = fileURLToPath(new URL('./ep-probe.mjs', import.meta.url));

export async function checkExecutionProvider(config: Config, timeoutMs = 60_000): Promise<Finding> {
  const { executionProvider, deviceId } = config.encoder;
  const graph = path.join(bundledTestModelDir(), 'onnx', 'model.onnx');
  const asked = executionProvider === 'cuda' ? `cuda (device ${deviceId})` : 'cpu';
  const facts = backendFacts();
  const result = await new Promise<{ ok: boolean; error?: string }>((resolve) => {
    execFile(process.execPath, [PROBE, graph, executionProvider, String(deviceId)], { timeout: timeoutMs }, (err, stdout) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as { ok: boolean; error?: string });
      } catch {
        resolve({ ok: false, error: err ? `the probe process failed: ${err.message}` : `unexpected probe output: ${line.slice(0, 200)}` });
      }
    });
  });
  if (result.ok) return ok('encoder.provider', `execution provider ${asked} loads (onnxruntime-node backends: ${describeBackends(facts)})`);
  const fix =
    executionProvider === 'cuda'
      ? facts.cudaLibrary
        ? 'the CUDA provider library is installed but did not load: check the NVIDIA driver and CUDA 12 / cuDNN 9 libraries (nvidia-smi; LD_LIBRARY_PATH), and ORT_DEVICE_ID'
        : 'install the CUDA binaries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --allow-scripts=onnxruntime-node (the `cuda` image target does this), or set ORT_EXECUTION_PROVIDER=cpu'
      : 'reinstall onnxruntime-node (npm ci)';
  return fail('encoder.provider', `ORT_EXECUTION_PROVIDER=${executionProvider} asked for ${asked}, which does not load: ${result.error}`, fix);
}
