// infra/k8s checked statically (no cluster here): every manifest against the Kubernetes JSON
// schemas shipped by kubernetes-models (and KEDA's by @kubernetes-models/keda), the kustomize
// files against what they name, and the deployment facts the operations issue asks for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { parseAllDocuments } from 'yaml';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { CONFIG_VARIABLES } from '../../shared/config/index.ts';
import { QUEUE_NAMES } from '../../shared/queue/queues.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';

const ROOT = 'infra/k8s';
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': core.Namespace,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'v1/PersistentVolumeClaim': core.PersistentVolumeClaim,
  'apps/v1/Deployment': apps.Deployment,
  'batch/v1/Job': batch.Job,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': keda.ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': keda.TriggerAuthentication,
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []));
}
const kustomizations = yamlFiles(ROOT).filter((f) => path.basename(f) === 'kustomization.yaml');
const kustomization = (dir: string) => parseAllDocuments(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources?: string[]; patches?: Array<{ path: string; target: { kind: string; name: string } }>; images?: Array<{ name: string }>; replicas?: Array<{ name: string }> };
/** Every manifest a kustomization lists (resources), read from the files. */
const manifests: Manifest[] = kustomization(`${ROOT}/base`).resources!.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(ROOT, 'base', file), 'utf8')).map((d) => d.toJS() as Manifest),
);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const named = (kind: string, name: string) => {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(m, `${kind} ${name}`);
  return m;
};

test('every manifest validates against its Kubernetes (or KEDA) JSON schema', () => {
  assert.ok(manifests.length >= 12);
  for (const m of manifests) {
    const Model = MODELS[`${m.apiVersion}/${m.kind}`];
    assert.ok(Model, `${m.apiVersion} ${m.kind} has a schema here`);
    assert.doesNotThrow(() => new Model(m).validate(), `${m.kind} ${m.metadata.name}`);
  }
  // The schemas do catch mistakes.
  const broken = structuredClone(named('Deployment', 'clipstream-query'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = '8080';
  assert.throws(() => new apps.Deployment(broken).validate(), /containerPort/);
  assert.throws(() => new keda.ScaledObject({ metadata: { name: 'x' }, spec: { triggers: [] } } as never).validate(), /scaleTargetRef/);
});

test('kustomize files: every resource and patch exists, patches and replicas target base objects, images are the ones containers use', () => {
  assert.ok(kustomizations.length >= 2);
  for (const file of kustomizations) {
    const dir = path.dirname(file);
    const k = kustomization(dir);
    for (const r of k.resources ?? []) assert.ok(existsSync(path.join(dir, r)), `${file}: ${r}`);
    for (const p of k.patches ?? []) {
      assert.ok(existsSync(path.join(dir, p.path)), `${file}: patch ${p.path}`);
      named(p.target.kind, p.target.name);
      const ops = parseAllDocuments(readFileSync(path.join(dir, p.path), 'utf8'))[0]!.toJS() as Array<{ op: string; path: string }>;
      for (const op of ops) {
        const target = named(p.target.kind, p.target.name) as unknown as Record<string, unknown>;
        const parent = op.path.split('/').slice(1, -1).reduce<any>((o, key) => o?.[key], target);
        assert.ok(parent && typeof parent === 'object', `${p.path}: ${op.path} exists in ${p.target.name}`);
      }
    }
    for (const r of k.replicas ?? []) named('Deployment', r.name);
    const images = new Set((k.images ?? []).map((i) => i.name));
    for (const d of [...byKind('Deployment'), ...byKind('Job')]) {
      for (const c of d.spec.template.spec.containers) assert.ok(images.has(c.image), `${file}: image ${c.image} of ${d.metadata.name} is set by the kustomization`);
    }
  }
});

test('GPU workers: one GPU each, on GPU nodes, the model cache read-only, CUDA asked for', () => {
  const worker = named('Deployment', 'clipstream-worker-gpu');
  const pod = worker.spec.template.spec;
  const [c] = pod.containers;
  assert.equal(pod.containers.length, 1, 'one worker process per pod');
  assert.equal(String(c.resources.limits['nvidia.com/gpu']), '1');
  assert.equal(String(c.resources.requests['nvidia.com/gpu']), '1');
  assert.ok(Object.keys(pod.nodeSelector ?? {}).some((k) => k.startsWith('nvidia.com/')), 'GPU node selector');
  assert.ok(pod.tolerations.some((t: { key: string }) => t.key === 'nvidia.com/gpu'));
  assert.deepEqual(c.args.slice(0, 1), ['worker']);
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  assert.equal(env.ORT_EXECUTION_PROVIDER, 'cuda');
  assert.equal(env.ORT_DEVICE_ID, '0');
  const models = pod.volumes.find((v: { name: string }) => v.name === 'models');
  assert.equal(models.persistentVolumeClaim.readOnly, true);
  assert.equal(c.volumeMounts.find((m: { name: string }) => m.name === 'models').readOnly, true);
  named('PersistentVolumeClaim', models.persistentVolumeClaim.claimName);
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
});

let redis: TestRedis;
before(async () => {
  redis = await testRedis(import.meta.url);
});
after(async () => {
  await redis?.cleanup();
});

test('KEDA scales each worker Deployment on the length of its BullMQ wait list, the very key BullMQ uses', async () => {
  const prefix = named('ConfigMap', 'clipstream-config').data!.QUEUE_PREFIX!;
  const expected: Record<string, string> = { 'clipstream-worker-gpu': QUEUE_NAMES.image, 'clipstream-worker-text': QUEUE_NAMES.text };
  const scaled = byKind('ScaledObject');
  assert.equal(scaled.length, 2);
  for (const so of scaled) {
    const target = named('Deployment', so.spec.scaleTargetRef.name);
    const queueName = expected[target.metadata.name]!;
    const queue = new Queue(queueName, { connection: redis.redis, prefix });
    try {
      const [trigger] = so.spec.triggers;
      assert.equal(trigger.type, 'redis');
      assert.equal(trigger.metadata.listName, queue.keys.wait, `${so.metadata.name} watches ${queue.keys.wait}`);
      // The worker consumes that queue.
      const args = target.spec.template.spec.containers[0].args.join(' ');
      assert.match(args, new RegExp(`--queues ${queueName.replace('embed-', '')}`));
      const auth = named('TriggerAuthentication', trigger.authenticationRef.name);
      for (const ref of auth.spec.secretTargetRef) assert.ok(named('Secret', ref.name).stringData![ref.key] !== undefined, `secret key ${ref.key}`);
    } finally {
      await queue.close();
    }
  }
});

test('the query service: probes on its own routes, a PodDisruptionBudget over its pods; the scheduler: a single replica', () => {
  const query = named('Deployment', 'clipstream-query');
  const [c] = query.spec.template.spec.containers;
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  const operations = readFileSync('services/query/routes/operations.ts', 'utf8');
  for (const p of ['/readyz', '/healthz', '/metrics']) assert.ok(operations.includes(`'${p}'`), `the query service serves ${p}`);
  const pdb = named('PodDisruptionBudget', 'clipstream-query');
  for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) assert.equal(query.spec.template.metadata.labels[k], v);
  assert.ok(query.spec.replicas > pdb.spec.minAvailable, 'a drain can evict one pod');
  const service = named('Service', 'clipstream-query');
  assert.equal(service.spec.ports[0].targetPort, c.ports[0].name);
  const scheduler = named('Deployment', 'clipstream-scheduler');
  assert.equal(scheduler.spec.replicas, 1);
  assert.equal(scheduler.spec.strategy.type, 'Recreate');
});

test('configuration from a ConfigMap, keys from a Secret; every pod non-root; selectors match their pods', () => {
  const configMap = named('ConfigMap', 'clipstream-config').data!;
  const secret = named('Secret', 'clipstream-secrets').stringData!;
  for (const key of ['QDRANT_API_KEY', 'API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'HF_TOKEN', 'REDIS_URL']) assert.ok(key in secret, `Secret holds ${key}`);
  for (const key of Object.keys(configMap)) {
    assert.ok(CONFIG_VARIABLES.includes(key), `ConfigMap key ${key} is a clipstream variable`);
    assert.doesNotMatch(key, /KEY|SECRET|TOKEN|PASSWORD/, `${key} belongs in the Secret`);
  }
  for (const key of Object.keys(secret)) assert.ok(CONFIG_VARIABLES.includes(key) || /^AWS_|^REDIS_PASSWORD$/.test(key), `Secret key ${key} is read by clipstream or KEDA`);
  for (const d of [...byKind('Deployment'), ...byKind('Job')]) {
    const pod = d.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${d.metadata.name} runs as non-root`);
    for (const c of pod.containers) {
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${d.metadata.name}/${c.name}`);
      const refs = (c.envFrom ?? []).map((e: { configMapRef?: { name: string }; secretRef?: { name: string } }) => e.configMapRef?.name ?? e.secretRef?.name);
      assert.deepEqual(refs.sort(), ['clipstream-config', 'clipstream-secrets']);
      for (const e of c.env ?? []) assert.ok(CONFIG_VARIABLES.includes(e.name), `${d.metadata.name}: ${e.name} is a clipstream variable`);
    }
    if (d.kind === 'Deployment') {
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) assert.equal(d.spec.template.metadata.labels[k], v, d.metadata.name);
    }
  }
});
