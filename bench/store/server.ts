/**
 * The embedded store alone in its own process, so the benchmark reads the RSS and CPU time of
 * the store and nothing else (no generated vectors, request bodies or client in it). Prints
 * `{"url": …}` once listening. On stdin, the line `memory` is answered with one JSON line of
 * process.memoryUsage() (what the RSS is made of); it stops on SIGTERM or when stdin closes
 * (the parent died). STORE_PARSE_THREADS (read through the config module), when set, overrides
 * the number of parse threads; the port is argv[3] (default 0: any free port).
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../../shared/config/index.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: server.ts <dataDir>\n');
  process.exit(2);
}
const port = Number(process.argv[3] ?? 0);
const store = await startEmbeddedStore({ dataDir, host: '127.0.0.1', port, parseThreads: loadConfig().store.parseThreads });
process.stdout.write(JSON.stringify({ url: store.url }) + '\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line.trim() === 'memory') process.stdout.write(JSON.stringify(process.memoryUsage()) + '\n');
});
commands.on('close', () => void stop());
