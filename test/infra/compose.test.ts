// No Docker engine runs here: the deployment files are checked statically against the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../shared/config/index.ts';

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { build?: { dockerfile: string; target: string }; environment?: Record<string, string>; command?: string[]; image?: string }>;
};
const dockerfile = readFileSync('infra/Dockerfile', 'utf8');
const AWS_CHAIN = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

test('every clipstream service builds a target that the Dockerfile defines', () => {
  const targets = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build) continue;
    assert.ok(existsSync(svc.build.dockerfile), `${name}: ${svc.build.dockerfile} exists`);
    assert.ok(targets.includes(svc.build.target), `${name}: target ${svc.build.target} in ${targets.join(',')}`);
  }
});

test('environment variables given to clipstream services are ones the config reads', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build) continue;
    for (const key of Object.keys(svc.environment ?? {})) {
      assert.ok(CONFIG_VARIABLES.includes(key) || AWS_CHAIN.has(key), `${name}: ${key} is not a clipstream variable`);
    }
  }
});

test('the distributed stack has Redis, Qdrant, S3, the query service and workers', () => {
  const s = compose.services;
  for (const name of ['redis', 'qdrant', 'minio', 'query', 'worker-cpu', 'worker-gpu']) assert.ok(s[name], name);
  assert.equal(s['worker-cpu']!.environment?.REDIS_URL, 'redis://redis:6379');
  assert.equal(s['query']!.environment?.QDRANT_URL, 'http://qdrant:6333');
  assert.deepEqual(s['worker-gpu']!.command?.slice(0, 1), ['worker']);
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
});

test('.env.example lists every configuration variable', () => {
  const example = readFileSync('.env.example', 'utf8');
  for (const name of CONFIG_VARIABLES) assert.match(example, new RegExp(`^#? ?${name}=`, 'm'), name);
});

test('README documents every configuration variable', () => {
  const readme = readFileSync('README.md', 'utf8');
  for (const name of CONFIG_VARIABLES) assert.ok(readme.includes(`\`${name}\``), `${name} missing from README (run scripts/config-table.ts)`);
});
