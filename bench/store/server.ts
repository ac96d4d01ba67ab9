/**
 * The embedded store alone in its own process, so the benchmark can read its RSS without the
 * benchmark's own data (generated vectors, JSON buffers) mixed in. Prints `{"url": …}` once
 * listening; stops on SIGTERM or when stdin closes (the parent died).
 */
import { startEmbeddedStore } from '../../services/store/index.ts';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: server.ts <dataDir>\n');
  process.exit(2);
}
const store = await startEmbeddedStore({ dataDir, host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ url: store.url }) + '\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
