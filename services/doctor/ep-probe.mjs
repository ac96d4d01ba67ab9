// Loads onnxruntime-node in a child process and creates one session with exactly the asked
// execution provider (no CPU fallback), so a missing CUDA library is an error, not a quiet
// CPU run. A child, because ORT writes its own errors to stderr and a bad driver can crash.
// argv: <graph.onnx> <cpu|cuda> <device id>. Prints one JSON line.
import ort from 'onnxruntime-node';

const [graph, provider, deviceId] = process.argv.slice(2);
const backends = ort.listSupportedBackends?.() ?? [];
try {
  const session = await ort.InferenceSession.create(graph, {
    executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: Number(deviceId) } : 'cpu'],
    logSeverityLevel: 4,
  });
  await session.release();
  process.stdout.write(JSON.stringify({ ok: true, backends }) + '\n');
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, backends, error: String(err?.message ?? err) }) + '\n');
}
