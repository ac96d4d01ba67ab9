#!/usr/bin/env node
// `npm run mutation [-- target…]`: StrykerJS over each target of stryker.config.mjs in turn
// (default: all), printing each one's mutation score. Minutes per target on two cores.
import { spawnSync } from 'node:child_process';

const ALL = ['retry', 'filter', 'coarse-to-fine', 'records', 'query'];
const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = false;
for (const target of targets) {
  console.log(`\n=== mutation: ${target}`);
  const r = spawnSync('npx', ['--no-install', 'stryker', 'run', 'stryker.config.mjs'], { stdio: 'inherit', env: { ...process.env, MUTATION_TARGET: target } });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
