/**
 * The benchmark's server processes, each alone so load generator, query service and store do
 * not share one event loop (as in a deployment, where Qdrant is its own process):
 *   child.ts store <dataDir>   the embedded store
 *   child.ts service           the query service, configured from the environment
 * Each prints `{"url": …}` once listening and stops on SIGTERM or when stdin closes.
 */
import { loadConfig } from '../../shared/config/index.ts';
import { startEmbeddedStore } from '../../services/store/index.ts';
import { startQueryService } from '../../services/query/server.ts';

const [role, dataDir] = process.argv.slice(2);
let close: () => Promise<void>;
if (role === 'store' && dataDir) {
  const store = await startEmbeddedStore({ dataDir, host: '127.0.0.1', port: 0 });
  process.stdout.write(JSON.stringify({ url: store.url }) + '\n');
  close = () => store.close();
} else if (role === 'service') {
  const service = await startQueryService(loadConfig(process.env));
  process.stdout.write(JSON.stringify({ url: service.url }) + '\n');
  close = () => service.close();
} else {
  process.stderr.write('usage: child.ts store <dataDir> | service\n');
  process.exit(2);
}
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
