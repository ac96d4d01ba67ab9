/**
 * `runSync` against real components: objects and records in s3rver change between runs, and the
 * index must then hold exactly what the sources hold (ids and content hashes compared, not
 * counts), in the embedded mode and through Redis queues and a worker. Two sources side by side
 * stay independent; the mass-delete guard and a listing that fails half-way delete nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../shared/config/index.ts';
import { EncoderThread } from '../../shared/encoder/thread.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { isItemFailureEntry, openSource, parseSourceSpec } from '../../shared/sources/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { runIngest, runSync } from '../../services/producer/ingest.ts';
import { startEmbedWorker, type EmbedWorker } from '../../workers/embed/worker.ts';
import { testRedis, type TestRedis } from '../support/redis.ts';
import { startS3rver, type S3rver } from '../support/s3rver.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { allPoints, BUCKET, productImage, testConfig } from '../pipeline/harness.ts';

let s3: S3rver;
let store: TestStore;
let redis: TestRedis;
let thread: EncoderThread;
let n = 0;
const storeRef = () => ({ client: store.client, url: store.url });

before(async () => {
  [s3, store, redis] = await Promise.all([startS3rver({ faults: true }), startTestStore(), testRedis(import.meta.url)]);
  await s3.createBucket(BUCKET);
  thread = await EncoderThread.open(testConfig({}));
});

after(async () => {
  await thread?.close();
  await Promise.all([s3?.stop(), store?.close(), redis?.cleanup()]);
});

/** A config of its own (alias, Redis prefix, DATA_DIR) for one scenario. */
function scenario(mode: 'embedded' | 'distributed', env: Record<string, string> = {}) {
  const id = `${mode}${++n}`;
  const config: Config = testConfig({
    ...env,
    S3_ENDPOINT: s3.endpoint,
    QDRANT_URL: store.url,
    QDRANT_COLLECTION: store.name(`sync_${id}`),
    ...(mode === 'distributed' ? { REDIS_URL: redis.url, QUEUE_PREFIX: `${redis.prefix}:${id}` } : {}),
  });
  return { id, config, alias: config.store.collection, prefix: `sync-${id}` };
}

/** What a source holds now, read with the source reader: source URI → version. */
async function sourceState(spec: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const x of openSource(parseSourceSpec(spec), { s3Client: s3.client }).items) if (!isItemFailureEntry(x)) out.set(x.sourceUri, x.version);
  return out;
}

/** What the index holds: source URI → content hash (optionally only one source's points). */
async function indexState(alias: string, root?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await allPoints(store.client, alias)) {
    if (root && p.payload.source_root !== root) continue;
    assert.equal(p.id, pointId(p.payload.source), 'the id derives from the source URI');
    out.set(p.payload.source, p.payload.content_hash);
  }
  return out;
}

function union(...maps: Array<Map<string, string>>): Map<string, string> {
  return new Map(maps.flatMap((m) => [...m]));
}

const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => a.localeCompare(b));

function records(lines: Array<Record<string, unknown> | string>): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

async function withMode<T>(mode: 'embedded' | 'distributed', config: Config, fn: (opts: { mode: 'embedded' | 'distributed' }) => Promise<T>): Promise<T> {
  let worker: EmbedWorker | undefined;
  if (mode === 'distributed') worker = await startEmbedWorker(config, { encoder: thread, store: storeRef(), stalledIntervalMs: 1000, lockDurationMs: 5000 });
  try {
    return await fn({ mode });
  } finally {
    await worker?.close();
  }
}

for (const mode of ['embedded', 'distributed'] as const) {
  test(`${mode}: sync adds, re-encodes and deletes what changed in S3 and in a records file; another source is left alone`, async () => {
    // Two of six deleted at once is more than the default guard allows.
    const { config, alias, prefix } = scenario(mode, { SYNC_MAX_DELETE_SHARE: '0.5' });
    const a = `s3://${BUCKET}/${prefix}/a/`;
    const b = `s3://${BUCKET}/${prefix}/b/`;
    for (let i = 0; i < 3; i++) await s3.put(BUCKET, `${prefix}/a/img${i}.jpg`, await productImage([40 * i, 200, 60], i));
    await s3.put(BUCKET, `${prefix}/a/products.jsonl`, records([0, 1, 2].map((i) => ({ id: `r${i}`, text: `red shoe number ${i}`, lang: 'en' }))));
    for (let i = 0; i < 2; i++) await s3.put(BUCKET, `${prefix}/b/img${i}.jpg`, await productImage([200, 40 * i, 60], 10 + i));

    await withMode(mode, config, async (o) => {
      const first = await runSync(config, [a, b], { ...o, store: storeRef(), encoder: thread });
      assert.equal(first.outcome, 'succeeded', first.error);
      assert.deepEqual(first.sync, { added: 8, changed: 0, deleted: 0, unchanged: 0, deletionsHeldBack: 0, duplicates: 0 });
      const stateB = await sourceState(b);
      assert.deepEqual(sorted(await indexState(alias)), sorted(union(await sourceState(a), stateB)));
      assert.deepEqual(sorted(await indexState(alias, b)), sorted(stateB), 'each point carries the root of its source');

      // Between runs: one image changed, one removed, one added; one record edited, one removed, one added.
      await s3.put(BUCKET, `${prefix}/a/img1.jpg`, await productImage([0, 0, 250], 99));
      await s3.remove(BUCKET, `${prefix}/a/img2.jpg`);
      await s3.put(BUCKET, `${prefix}/a/img3.jpg`, await productImage([250, 250, 0], 3));
      await s3.put(BUCKET, `${prefix}/a/products.jsonl`, records([{ id: 'r0', text: 'red shoe number 0', lang: 'en' }, { id: 'r1', text: 'blue shoe, edited', lang: 'en' }, { id: 'r3', text: 'green shoe', lang: 'en' }]));

      const encodedBefore = thread.stats().image.items + thread.stats().text.items;
      const second = await runSync(config, [a], { ...o, store: storeRef(), encoder: thread });
      assert.equal(second.outcome, 'succeeded', second.error);
      assert.deepEqual(second.sync, { added: 2, changed: 2, deleted: 2, unchanged: 2, deletionsHeldBack: 0, duplicates: 0 });
      assert.equal(thread.stats().image.items + thread.stats().text.items - encodedBefore, 4, 'only the added and changed items were encoded');
      assert.deepEqual(sorted(await indexState(alias)), sorted(union(await sourceState(a), stateB)), 'the index holds exactly the sources');
      const edited = (await allPoints(store.client, alias)).find((p) => p.payload.source.endsWith('/r1'));
      assert.equal(edited?.payload.text, 'blue shoe, edited');

      const encodedBeforeThird = thread.stats().image.items + thread.stats().text.items;
      const third = await runSync(config, [a], { ...o, store: storeRef(), encoder: thread });
      assert.deepEqual(third.sync, { added: 0, changed: 0, deleted: 0, unchanged: 6, deletionsHeldBack: 0, duplicates: 0 });
      if (mode === 'distributed') assert.equal(third.enqueued, 0, 'nothing was queued');
      assert.equal(thread.stats().image.items + thread.stats().text.items, encodedBeforeThird, 'nothing was encoded');
      assert.equal(third.indexed, 0);
    });
  });
}

test('the mass-delete guard: a sync that would delete more than SYNC_MAX_DELETE_SHARE deletes nothing and fails, until --allow-mass-delete', async () => {
  const { config, alias, prefix } = scenario('embedded');
  const spec = `s3://${BUCKET}/${prefix}/records.jsonl`;
  await s3.put(BUCKET, `${prefix}/records.jsonl`, records([0, 1, 2, 3, 4].map((i) => ({ id: `p${i}`, text: `black jacket ${i}` }))));
  const first = await runSync(config, [spec], { store: storeRef(), encoder: thread });
  assert.equal(first.sync?.added, 5);
  await s3.put(BUCKET, `${prefix}/records.jsonl`, records([0, 1, 2].map((i) => ({ id: `p${i}`, text: `black jacket ${i}` }))));

  const guarded = await runSync(config, [spec], { store: storeRef(), encoder: thread });
  assert.equal(guarded.outcome, 'failed');
  assert.match(guarded.error ?? '', /would delete 2 of the 5 points of .*records\.jsonl \(40\.0 %, over the 20 % allowed by SYNC_MAX_DELETE_SHARE\), so nothing of it was deleted.*--allow-mass-delete/);
  assert.deepEqual([guarded.sync?.deleted, guarded.sync?.deletionsHeldBack], [0, 2]);
  assert.equal((await indexState(alias)).size, 5, 'nothing was deleted');

  const allowed = await runSync(config, [spec], { store: storeRef(), encoder: thread, allowMassDelete: true });
  assert.equal(allowed.outcome, 'succeeded');
  assert.equal(allowed.sync?.deleted, 2);
  assert.deepEqual(sorted(await indexState(alias)), sorted(await sourceState(spec)));
});

test('a listing that fails half-way deletes nothing; the run fails naming the source', async () => {
  const { config, alias, prefix } = scenario('embedded');
  const spec = `s3://${BUCKET}/${prefix}/`;
  for (let i = 0; i < 6; i++) await s3.put(BUCKET, `${prefix}/img${i}.jpg`, await productImage([30 * i, 90, 200], 20 + i));
  await runSync(config, [spec], { store: storeRef(), encoder: thread, sources: { pageSize: 2 } });
  assert.equal((await indexState(alias)).size, 6);

  s3.faults!.failListingsAfter(1);
  try {
    await assert.rejects(runSync(config, [spec], { store: storeRef(), encoder: thread, sources: { pageSize: 2 } }), (err: unknown) => {
      assert.ok(isClipstreamError(err, 'SOURCE_UNREACHABLE'), String(err));
      assert.match((err as Error).message, new RegExp(`${prefix}`));
      return true;
    });
  } finally {
    s3.faults!.failListingsAfter(Number.POSITIVE_INFINITY);
  }
  assert.deepEqual(sorted(await indexState(alias)), sorted(await sourceState(spec)), 'the four unlisted images were not taken for deleted');
});

test('records: an id listed twice is reported and the last one wins; an unreadable line holds deletions back', async () => {
  const { config, alias, prefix } = scenario('embedded');
  const spec = `s3://${BUCKET}/${prefix}/items.jsonl`;
  await s3.put(BUCKET, `${prefix}/items.jsonl`, records([{ id: 'a', text: 'first text of a' }, { id: 'b', text: 'b' }, { id: 'c', text: 'c' }, { id: 'd', text: 'd' }, { id: 'a', text: 'last text of a' }]));
  const notices: string[] = [];
  const first = await runSync(config, [spec], { store: storeRef(), encoder: thread, listener: { notice: (l) => notices.push(l) } });
  assert.equal(first.sync?.duplicates, 1);
  assert.ok(notices.some((l) => /record:items\/a is listed more than once/.test(l)), notices.join('\n'));
  const a = (await allPoints(store.client, alias)).find((p) => p.payload.source === 'record:items/a');
  assert.equal(a?.payload.text, 'last text of a');

  // d removed, and a line that cannot be read: which record it was is unknown, so nothing is deleted.
  await s3.put(BUCKET, `${prefix}/items.jsonl`, records([{ id: 'a', text: 'last text of a' }, '{"id": "b", "text": "b"', { id: 'c', text: 'c' }]));
  const held = await runSync(config, [spec], { store: storeRef(), encoder: thread });
  assert.equal(held.outcome, 'succeeded');
  assert.deepEqual([held.sync?.deleted, held.sync?.deletionsHeldBack], [0, 2]);
  assert.match(held.error ?? '', /2 deletion\(s\) in .*items\.jsonl held back: its listing was incomplete \(1 unreadable entry, e\.g\. .*items\.jsonl:2: malformed JSON/);
  assert.equal((await indexState(alias)).size, 4);
});

test('points ingested before sources were tracked are adopted by the first sync, then kept in step', async () => {
  const { config, alias, prefix } = scenario('embedded', { SYNC_MAX_DELETE_SHARE: '0.5' });
  const spec = `s3://${BUCKET}/${prefix}/`;
  for (let i = 0; i < 3; i++) await s3.put(BUCKET, `${prefix}/img${i}.jpg`, await productImage([90, 30 * i, 200], 40 + i));
  await runIngest(config, [spec], { store: storeRef(), encoder: thread });
  const points = await allPoints(store.client, alias);
  await store.client.deletePayload(alias, { keys: ['source_root'], points: points.map((p) => p.id), wait: true });

  const adopted = await runSync(config, [spec], { store: storeRef(), encoder: thread });
  assert.deepEqual([adopted.sync?.unchanged, adopted.indexed], [3, 0], 'unchanged points are not re-encoded');
  assert.deepEqual(sorted(await indexState(alias, spec)), sorted(await sourceState(spec)), 'every point now carries its source root');

  await s3.remove(BUCKET, `${prefix}/img0.jpg`);
  await s3.put(BUCKET, `${prefix}/img3.jpg`, await productImage([10, 10, 10], 43));
  await s3.put(BUCKET, `${prefix}/img4.jpg`, await productImage([20, 20, 20], 44));
  await s3.put(BUCKET, `${prefix}/img5.jpg`, await productImage([30, 30, 30], 45));
  const next = await runSync(config, [spec], { store: storeRef(), encoder: thread });
  assert.equal(next.sync?.deleted, 1);
  assert.deepEqual(sorted(await indexState(alias)), sorted(await sourceState(spec)));
});

test('a sync needs the store: in distributed mode without QDRANT_URL it refuses before queueing anything', async () => {
  const config = testConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: `${redis.prefix}:noqdrant`, S3_ENDPOINT: s3.endpoint });
  await assert.rejects(runSync(config, [`s3://${BUCKET}/none/`], {}), (err: unknown) => isClipstreamError(err, 'CONFIG_INVALID') && /set QDRANT_URL/.test((err as Error).message));
  assert.deepEqual(await redis.redis.keys(`${redis.prefix}:noqdrant:*`), []);
});
