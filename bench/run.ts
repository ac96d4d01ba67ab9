/**
 * `npm run bench -- <suite> [args]`: runs bench/<suite>/index.ts, which prints JSON lines
 * (see report.ts). Suites: encoder, store, ingest, query, sync, snapshots, hybrid.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const [suite, ...args] = process.argv.slice(2);
const entry = suite ? path.join(here, suite, 'index.ts') : '';
if (!suite || !existsSync(entry)) {
  process.stderr.write(`usage: npm run bench -- <suite>   (suites: encoder, store, ingest, query, sync, snapshots, hybrid)\n`);
  process.exit(2);
}
const mod = (await import(entry)) as { main(args: string[]): Promise<void> };
await mod.main(args);
