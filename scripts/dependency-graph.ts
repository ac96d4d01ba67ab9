/**
 * Writes docs/dependency-graph.svg: the modules of bin/, services/, workers/ and shared/ grouped
 * by folder (dependency-cruiser's `archi` view), laid out by Graphviz compiled to WebAssembly so
 * no `dot` binary is needed. `npm run deps` checks the rules first, then draws this.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { instance } from '@viz-js/viz';

const OUT = 'docs/dependency-graph.svg';

const dot = execFileSync(
  process.execPath,
  [
    'node_modules/dependency-cruiser/bin/dependency-cruise.mjs',
    'bin',
    'services',
    'workers',
    'shared',
    '--config',
    '.dependency-cruiser.cjs',
    '--include-only',
    '^(bin|services|workers|shared)/',
    '--output-type',
    'archi',
  ],
  { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
);
const viz = await instance();
writeFileSync(OUT, viz.renderString(dot, { format: 'svg', engine: 'dot' }));
console.log(`dependency graph: ${OUT}`);
