// Mutation testing (StrykerJS, command runner): `npm run mutation` runs every target below in turn,
// `MUTATION_TARGET=retry npx stryker run` one of them. Each target mutates a few modules and runs
// only the test files that exercise them, so a run takes minutes rather than hours. Too slow for CI.
const TARGETS = {
  retry: {
    mutate: ['shared/retry.ts', 'shared/store/retry.ts'],
    tests: ['test/shared/retry.test.ts', 'test/shared-store/retry.test.ts'],
  },
  filter: {
    mutate: ['services/store/engine/filter.ts'],
    tests: ['test/store/filter-range.test.ts', 'test/store/filter-properties.test.ts'],
  },
  'coarse-to-fine': {
    mutate: ['shared/store/coarse-to-fine.ts'],
    tests: ['test/shared-store/coarse-to-fine-unit.test.ts', 'test/shared-store/coarse-to-fine.test.ts'],
  },
  records: {
    mutate: ['shared/sources/records.ts', 'shared/sources/record-fields.ts', 'shared/sources/records-csv.ts', 'shared/sources/lines.ts'],
    tests: ['test/sources/records.test.ts', 'test/sources/lines.test.ts', 'test/sources/records-csv.test.ts'],
  },
  lines: {
    mutate: ['shared/sources/lines.ts'],
    tests: ['test/sources/lines.test.ts', 'test/sources/records.test.ts'],
  },
  query: {
    mutate: ['services/store/engine/query/*.ts'],
    tests: ['test/store/contract-scoring.test.ts', 'test/store/contract.test.ts', 'test/store/engine.test.ts'],
  },
};

const name = process.env.MUTATION_TARGET ?? 'retry';
const target = TARGETS[name];
if (!target) throw new Error(`MUTATION_TARGET=${name}: one of ${Object.keys(TARGETS).join(', ')}`);

export default {
  testRunner: 'command',
  commandRunner: { command: `node --import tsx --test --test-concurrency=1 ${target.tests.join(' ')}` },
  mutate: target.mutate,
  coverageAnalysis: 'off',
  concurrency: 1,
  // A mutant that loops (a retry that never stops) is cut off soon after the tests' normal duration.
  timeoutMS: 5_000,
  timeoutFactor: 1.5,
  reporters: ['clear-text', 'progress-append-only'],
  ignorePatterns: ['data', 'coverage', 'docs', 'infra', 'examples', 'appendonlydir', 'test-artifacts', '.stryker-tmp'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
