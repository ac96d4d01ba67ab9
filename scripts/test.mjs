#!/usr/bin/env node
// Runs every test/**/*.test.ts through Node's test runner (Node 20's --test has no glob support).
// Arguments narrow the run to files whose path contains one of them: `npm test -- store encoder`.
// The whole run (no arguments) first checks what the build enforces — types, lint, the
// dependency rules and dead code (`npm run check`) — and fails without running a test if any does.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : walk(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}
// `--coverage` (npm run coverage): Node's built-in coverage, written as coverage/lcov.info.
const coverage = process.argv.includes('--coverage');
const filters = process.argv.slice(2).filter((a) => a !== '--coverage');
const files = walk('test').sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// A hung test fails after this long instead of holding the run. The slowest test measured takes
// ~50 s on a loaded 2-core machine (a scheduler process killed and restarted); a test that needs
// more says so with its own `timeout` option.
const TEST_TIMEOUT_MS = 240_000;

if (filters.length === 0 && !coverage) {
  const check = spawnSync('npm', ['run', '-s', 'check'], { stdio: 'inherit' });
  if (check.status !== 0) {
    console.error('npm test: `npm run check` failed (tsc, lint, deps or knip); no tests run');
    process.exit(check.status ?? 1);
  }
}
const coverageArgs = coverage
  ? ['--enable-source-maps', '--experimental-test-coverage', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=lcov', '--test-reporter-destination=coverage/lcov.info']
  : [];
if (coverage) mkdirSync('coverage', { recursive: true });
const r = spawnSync(process.execPath, ['--import', 'tsx', ...coverageArgs, '--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
