/**
 * Line, branch and function coverage per source folder, from the lcov file `npm run coverage`
 * writes (Node's built-in test coverage). `--readme` also puts the table into README.md between
 * the `coverage` markers. Files no test loads are absent from lcov, so they count for nothing here.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const LCOV = 'coverage/lcov.info';

interface Tally {
  lines: [number, number];
  branches: [number, number];
  functions: [number, number];
}

/** `shared/encoder/x.ts` → `shared/encoder/`; `services/store/engine/query/y.ts` → `services/store/`; `services/store-connect.ts` → `services/`. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : `${parts[0]}/`;
}

const tallies = new Map<string, Tally>();
let tally: Tally | undefined;
for (const line of readFileSync(LCOV, 'utf8').split('\n')) {
  const [key, value = ''] = line.split(':', 2) as [string, string?];
  if (key === 'SF') {
    const file = value.trim();
    const folder = folderOf(file);
    tally = /^(test|node_modules)\//.test(file) ? undefined : tallies.get(folder);
    if (!tally && !/^(test|node_modules)\//.test(file)) {
      tally = { lines: [0, 0], branches: [0, 0], functions: [0, 0] };
      tallies.set(folder, tally);
    }
  } else if (tally) {
    const n = Number(value);
    if (key === 'LH') tally.lines[0] += n;
    else if (key === 'LF') tally.lines[1] += n;
    else if (key === 'BRH') tally.branches[0] += n;
    else if (key === 'BRF') tally.branches[1] += n;
    else if (key === 'FNH') tally.functions[0] += n;
    else if (key === 'FNF') tally.functions[1] += n;
  }
}

const pct = ([hit, found]: [number, number]) => (found === 0 ? '—' : `${((100 * hit) / found).toFixed(1)} %`);
const total: Tally = { lines: [0, 0], branches: [0, 0], functions: [0, 0] };
const rows = ['| folder | lines | branches | functions |', '|---|---|---|---|'];
for (const [folder, t] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
  rows.push(`| \`${folder}\` | ${pct(t.lines)} | ${pct(t.branches)} | ${pct(t.functions)} |`);
  for (const k of ['lines', 'branches', 'functions'] as const) {
    total[k][0] += t[k][0];
    total[k][1] += t[k][1];
  }
}
rows.push(`| all | ${pct(total.lines)} | ${pct(total.branches)} | ${pct(total.functions)} |`);
const table = rows.join('\n');
console.log(table);

if (process.argv.includes('--readme')) {
  const readme = readFileSync('README.md', 'utf8');
  const start = '<!-- coverage:start -->';
  const end = '<!-- coverage:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md has no ${start} … ${end} markers`);
  writeFileSync('README.md', `${readme.slice(0, i + start.length)}\n${table}\n${readme.slice(j)}`);
  console.log('README.md: coverage table updated');
}
