/**
 * An embedded store in its own process (test/store/fixtures/serve-store.ts), for the tests that
 * SIGKILL it: persistence, crash during compaction, the ANN index and snapshots across a kill.
 */
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { QdrantClient } from '@qdrant/js-client-rest';

const FIXTURE = path.join(import.meta.dirname, '..', 'store', 'fixtures', 'serve-store.ts');

export interface StoreProcess {
  child: ChildProcess;
  url: string;
  client: QdrantClient;
}

/** Starts the store on `dataDir` and waits for its `{"url": …}` line; `track` collects the child for `killAll`. */
export async function startStoreProcess(dataDir: string, opts: { track?: ChildProcess[]; stderr?: 'inherit' | 'ignore' } = {}): Promise<StoreProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir], { stdio: ['pipe', 'pipe', opts.stderr ?? 'inherit'] });
  opts.track?.push(child);
  // stdout is a pipe (stdio above), so the stream exists.
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [null])])) as [string | null];
  if (line === null) throw new Error('store process exited before listening');
  const { url } = JSON.parse(line) as { url: string };
  return { child, url, client: new QdrantClient({ url, checkCompatibility: false }) };
}

/** SIGKILLs every tracked child still running (an `after` hook: a failed test must not leave one behind). */
export function killAll(children: ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
