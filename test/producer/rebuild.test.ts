/**
 * Rebuilds with an alias swap against real components (the store server, s3rver, Redis, the test
 * model): searches keep answering through the whole rebuild and the swap, rollback restores the
 * previous version, a rebuild killed mid-way leaves the alias alone and the next one resumes,
 * running workers write where each job says, and a change of dims is refused by sync until a
 * rebuild builds the new layout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { enqueueItems, openQueues } from '../../shared/queue/index.ts';
import { listVersions } from '../../shared/store/collection-versions.ts';
import { pointId } from '../../shared/store/ids.ts';
import { resolveAlias } from '../../shared/store/schema.ts';
import { LocalState } from '../../shared/state/local.ts';
import { runSync } from '../../services/producer/ingest.ts';
import { rebuildNeeded } from '../../shared/store/rebuild-check.ts';
import { rollback, runRebuild } from '../../services/producer/rebuild.ts';
import { startQueryService } from '../../services/query/server.ts';
import { startEmbedWorker } from '../../workers/embed/worker.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { allPoints, BUCKET, MODEL_DIR, productImage, testConfig, waitFor } from '../pipeline/harness.ts';

let s3: S3rver;
let store: TestStore;
let redis: TestRedis;
let thread: EncoderThread;
let n = 0;
const storeRef = () => ({ client: store.client, url: store.url });

before(async () => {
  [s3, store, redis] = await Promise.all([startS3rver(), startTestStore(), testRedis(import.meta.url)]);
  await s3.createBucket(BUCKET);
  thread = await EncoderThread.open(testConfig({}));
});

after(async () => {
  await thread?.close();
  await Promise.all([s3?.stop(), store?.close(), redis?.cleanup()]);
});

const COLOURS: Array<[number, number, number]> = [[220, 30, 30], [30, 180, 60], [30, 60, 220], [240, 220, 40], [15, 15, 15], [130, 40, 160]];

async function putImages(prefix: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) await s3.put(BUCKET, `${prefix}/products/P${i}/front.jpg`, await productImage(COLOURS[i % COLOURS.length]!, i));
}

function scenario(env: Record<string, string> = {}) {
  const id = `rb${++n}`;
  const config: Config = testConfig({ S3_ENDPOINT: s3.endpoint, QDRANT_URL: store.url, QDRANT_COLLECTION: store.name(`reb_${id}`), ...env });
  return { config, alias: config.store.collection, prefix: `rebuild-${id}`, spec: `s3://${BUCKET}/rebuild-${id}/` };
}

async function sources(alias: string): Promise<Set<string>> {
  return new Set((await allPoints(store.client, alias)).map((p) => p.payload.source));
}

test('searches through the alias answer during the whole rebuild and the swap; the service then serves the new version without a restart', async () => {
  const { config, alias, prefix, spec } = scenario({ PORT: '0' });
  await putImages(prefix, 12);
  await runSync(config, [spec], { store: storeRef(), encoder: thread });
  const v1 = await resolveAlias(store.client, alias);
  assert.equal(v1, `${alias}_v1`);

  const service = await startQueryService(config, { encoder: thread, store: storeRef() });
  let requests = 0;
  const failures: string[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const res = await fetch(`${service.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'red shoe', limit: 5 }) });
      const body = (await res.json()) as { hits?: unknown[] };
      requests++;
      if (res.status !== 200) failures.push(`HTTP ${res.status}: ${JSON.stringify(body)}`);
      else if (!body.hits || body.hits.length === 0) failures.push('empty answer');
    }
  })();
  try {
    // A change made while the rebuild runs reaches the new version before the swap.
    const summary = await runRebuild(config, [], {
      store: storeRef(),
      encoder: thread,
      afterFill: async () => {
        await putImages(prefix, 1, 12);
      },
    });
    assert.equal(summary.outcome, 'succeeded', summary.error);
    assert.equal(summary.collection, `${alias}_v2`);
    assert.equal(summary.previous, v1);
    assert.equal(summary.points, 13);
    // And a few more requests after the swap.
    const after = requests;
    await waitFor('requests after the swap', () => requests >= after + 5);
  } finally {
    stop = true;
    await loop;
  }
  try {
    assert.ok(requests >= 10, `${requests} requests ran through the rebuild`);
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed or were empty`);
    assert.equal(await resolveAlias(store.client, alias), `${alias}_v2`);
    const info = (await (await fetch(`${service.url}/v1/collections`)).json()) as { collections: Array<{ collection: string; points: number }> };
    assert.deepEqual([info.collections[0]?.collection, info.collections[0]?.points], [`${alias}_v2`, 13]);
    const v2 = await sources(alias);
    assert.ok(v2.has(`s3://${BUCKET}/${prefix}/products/P12/front.jpg`), 'the change made during the rebuild is in the new version');
  } finally {
    await service.close();
  }
});

test('rollback restores the previous version; versions beyond REBUILD_KEEP_VERSIONS are dropped; a rollback can be undone', async () => {
  const { config, alias, prefix, spec } = scenario();
  await putImages(prefix, 4);
  await runSync(config, [spec], { store: storeRef(), encoder: thread });
  await putImages(prefix, 1, 4);
  assert.equal((await runRebuild(config, [], { store: storeRef(), encoder: thread })).collection, `${alias}_v2`);
  const third = await runRebuild(config, [], { store: storeRef(), encoder: thread });
  assert.equal(third.collection, `${alias}_v3`);
  assert.deepEqual(third.dropped, [`${alias}_v1`], 'two versions are kept: the live one and one for rollback');
  assert.deepEqual((await listVersions(store.client, alias)).map((v) => v.name), [`${alias}_v2`, `${alias}_v3`]);

  const state = LocalState.open(config.store.dataDir);
  try {
    const back = await rollback(config, storeRef(), state);
    assert.deepEqual(back, { alias, from: `${alias}_v3`, to: `${alias}_v2` });
    assert.equal(await resolveAlias(store.client, alias), `${alias}_v2`);
    assert.equal((await allPoints(store.client, alias)).length, 5);
    await assert.rejects(rollback(config, storeRef(), state), (err: unknown) => isClipstreamError(err, 'NOT_FOUND') && /no built version .* older than/.test((err as Error).message));
    assert.deepEqual(await rollback(config, storeRef(), state, `${alias}_v3`), { alias, from: `${alias}_v2`, to: `${alias}_v3` });
  } finally {
    state.close();
  }
});

test('a rebuild killed mid-way leaves the alias on the old version; the next one resumes the half-built version and swaps', async () => {
  const { config, alias, prefix, spec } = scenario({ RUN_LEASE_MS: '1500' });
  await putImages(prefix, 40);
  await runSync(config, [spec], { store: storeRef(), encoder: thread });

  const child = spawn(process.execPath, ['bin/clipstream.mjs', 'rebuild', '--concurrency', '1', '--no-progress'], {
    env: {
      PATH: process.env.PATH ?? '',
      MODEL_DIR,
      DATA_DIR: config.store.dataDir,
      QDRANT_URL: store.url,
      QDRANT_COLLECTION: alias,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      RUN_LEASE_MS: '1500',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor('the rebuild to fill part of v2', async () => {
      const v2 = (await listVersions(store.client, alias)).find((v) => v.name === `${alias}_v2`);
      return v2 !== undefined && v2.points >= 5 && v2.points < 40;
    }, 60_000);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(await resolveAlias(store.client, alias), `${alias}_v1`, `the alias stayed (child said: ${stderr})`);
  const half = (await listVersions(store.client, alias)).find((v) => v.name === `${alias}_v2`)!;
  assert.equal(half.building, true);

  // The killed process's leases expire (RUN_LEASE_MS) rather than blocking the alias for good.
  const state = LocalState.open(config.store.dataDir);
  try {
    for (const key of [`rebuild|${alias}`, `${alias}_v2|${spec}`]) {
      await waitFor(`the dead rebuild's lease on ${key} to expire`, async () => {
        const got = await state.locks.acquire(key, { holder: 'test' });
        if (!('release' in got)) return false;
        await got.release();
        return true;
      }, 10_000, 100);
    }
  } finally {
    state.close();
  }
  const encodedBefore = thread.stats().image.items;
  const resumed = await runRebuild(config, [], { store: storeRef(), encoder: thread });
  assert.equal(resumed.outcome, 'succeeded', resumed.error);
  assert.deepEqual([resumed.collection, resumed.resumed, resumed.points], [`${alias}_v2`, true, 40]);
  assert.ok(thread.stats().image.items - encodedBefore <= 40 - half.points, 'what the killed rebuild stored was not encoded again');
  assert.equal(await resolveAlias(store.client, alias), `${alias}_v2`);
});

test('running workers write where each job says: into the new version after the swap, into the old one for a job queued for it', async () => {
  const { config, alias, prefix, spec } = scenario({ REDIS_URL: redis.url, QUEUE_PREFIX: `${redis.prefix}:workers` });
  await putImages(prefix, 3);
  const worker = await startEmbedWorker(config, { encoder: thread, store: storeRef(), stalledIntervalMs: 1000, lockDurationMs: 5000 });
  const ctx = await openQueues(config.queue);
  try {
    await runSync(config, [spec], { store: storeRef(), queueContext: ctx });
    assert.equal(await resolveAlias(store.client, alias), `${alias}_v1`);
    const rebuilt = await runRebuild(config, [], { store: storeRef(), queueContext: ctx });
    assert.equal(rebuilt.outcome, 'succeeded', rebuilt.error);
    assert.equal(await resolveAlias(store.client, alias), `${alias}_v2`);

    // The same worker, after the swap: a sync's jobs carry the live collection.
    await putImages(prefix, 1, 3);
    const synced = await runSync(config, [spec], { store: storeRef(), queueContext: ctx });
    assert.equal(synced.sync?.added, 1);
    const newUri = `s3://${BUCKET}/${prefix}/products/P3/front.jpg`;
    assert.ok((await sources(`${alias}_v2`)).has(newUri));
    assert.ok(!(await sources(`${alias}_v1`)).has(newUri), 'the old version was not written');

    // A job queued for the old version before the swap still lands there.
    const item = { kind: 'text' as const, sourceUri: 'record:late/1', version: 'v-late', recordId: '1', text: 'a late red record', fields: {} };
    await enqueueItems(ctx.queues, 'late-run', [item], { collection: `${alias}_v1` });
    await waitFor('the late job to be stored in v1', async () => (await store.client.retrieve(`${alias}_v1`, { ids: [pointId(item.sourceUri)] })).length === 1);
    assert.equal((await store.client.retrieve(`${alias}_v2`, { ids: [pointId(item.sourceUri)] })).length, 0);
  } finally {
    await worker.close();
    await ctx.close();
  }
});

test('other dims: sync and status say a rebuild is required; the rebuild builds the new layout and sync works again', async () => {
  const { config, alias, prefix, spec } = scenario();
  await putImages(prefix, 3);
  await runSync(config, [spec], { store: storeRef(), encoder: thread });

  const wider: Config = testConfig({ S3_ENDPOINT: s3.endpoint, QDRANT_URL: store.url, QDRANT_COLLECTION: alias, DATA_DIR: config.store.dataDir, MRL_DIMS: '64,512,1024' });
  await assert.rejects(runSync(wider, [spec], { store: storeRef() , encoder: thread }), (err: unknown) => {
    assert.ok(isClipstreamError(err, 'STORE_SCHEMA_MISMATCH'), String(err));
    assert.match((err as Error).message, /mrl_512 is missing.*clipstream rebuild/);
    return true;
  });
  assert.match((await rebuildNeeded(wider, storeRef())) ?? '', /mrl_512 is missing.*run `clipstream rebuild`/);
  assert.equal(await rebuildNeeded(config, storeRef()), undefined);

  const widerEncoder = await EncoderThread.open(wider);
  try {
    const rebuilt = await runRebuild(wider, [], { store: storeRef(), encoder: widerEncoder });
    assert.equal(rebuilt.outcome, 'succeeded', rebuilt.error);
    const vectors = (await store.client.getCollection(alias)).config.params.vectors as Record<string, { size: number }>;
    assert.deepEqual(Object.keys(vectors).sort(), ['mrl_1024', 'mrl_512', 'mrl_64']);
    assert.equal(await rebuildNeeded(wider, storeRef()), undefined);
    await putImages(prefix, 1, 3);
    const again = await runSync(wider, [spec], { store: storeRef(), encoder: widerEncoder });
    assert.deepEqual([again.sync?.added, again.sync?.unchanged], [1, 3]);
  } finally {
    await widerEncoder.close();
  }
});
