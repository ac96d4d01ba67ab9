/**
 * Renders the README's configuration table from .env.example (the one list of variables and
 * defaults), between the `config-table` markers: `node --import tsx scripts/config-table.ts`.
 * test/infra/compose.test.ts checks the README stays in step with the config module.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const rows: string[] = ['| variable | default | meaning |', '|---|---|---|'];
let section = '';
for (const line of readFileSync('.env.example', 'utf8').split('\n')) {
  const heading = /^# ([A-Z][\w ]+?)(?: \((.*)\))?$/.exec(line);
  if (heading && !line.includes('=')) {
    section = heading[1]!;
    continue;
  }
  const m = /^#? ?([A-Z][A-Z0-9_]+)=(\S*)\s*(?:#\s*(.*))?$/.exec(line);
  if (!m) continue;
  const [, name, value, comment] = m;
  const def = value ? `\`${value}\`` : comment?.startsWith('unset') ? 'unset' : '—';
  rows.push(`| \`${name}\` | ${def} | ${[section, comment].filter(Boolean).join(': ').replace(/\|/g, '\\|')} |`);
}
const readme = readFileSync('README.md', 'utf8');
const updated = readme.replace(
  /(<!-- config-table:start -->\n)[\s\S]*?(<!-- config-table:end -->)/,
  `$1${rows.join('\n')}\n$2`,
);
writeFileSync('README.md', updated);
