// Build-time check of the `cuda` image: onnxruntime-node must list the CUDA execution provider
// AND have its provider libraries on disk. npm >= 11 skips install scripts that package.json's
// `allowScripts` does not approve, and ONNXRUNTIME_NODE_INSTALL=cuda12 then silently leaves
// the CPU-only build; this makes the image build fail instead. (Loading the provider needs a
// GPU, which a build does not have: that is `clipstream doctor`'s check at run time.)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const backends = ort.listSupportedBackends?.() ?? [];
const dir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
const libraries = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
const missing = libraries.filter((f) => !fs.existsSync(path.join(dir, f)));
const listed = backends.some((b) => b.name === 'cuda');
console.log(`onnxruntime-node backends: ${backends.map((b) => b.name).join(', ')}; CUDA provider libraries in ${dir}: ${missing.length === 0 ? 'present' : `missing ${missing.join(', ')}`}`);
if (!listed || missing.length > 0) {
  console.error(
    'onnxruntime-node has no CUDA provider: its install script did not fetch the CUDA 12 binaries. ' +
      'Check that package.json allowScripts approves onnxruntime-node, that ONNXRUNTIME_NODE_INSTALL=cuda12 is set, ' +
      'and that no .npmrc sets onnxruntime-node-install=skip.',
  );
  process.exit(1);
}
