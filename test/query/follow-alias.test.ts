/**
 * The query service follows the alias (a rebuild's swap needs no restart) but never searches
 * vectors of another model than the one it encodes queries with: it keeps the last collection of
 * its own model and says why, in /readyz and in /v1/collections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCollectionVersion, switchAlias } from '../../shared/store/schema.ts';
import { CollectionFollower } from '../../services/query/collection-follower.ts';
import { startTestStore, type TestStore } from '../support/store.ts';

let store: TestStore;
const MODEL = 'clipstream/test-tiny@fp32';

before(async () => {
  store = await startTestStore();
});
after(() => store?.close());

async function version(alias: string, n: number, model: string): Promise<string> {
  const name = `${alias}_v${n}`;
  await createCollectionVersion(store.client, { alias, dims: [64, 256, 1024], model }, name);
  return name;
}

test('follows a swap to a version of its own model; keeps the old version when the alias leads to another model', async () => {
  const alias = store.name('follow');
  const v1 = await version(alias, 1, MODEL);
  await switchAlias(store.client, alias, v1);
  const notices: string[] = [];
  const follower = new CollectionFollower({ client: store.client, alias, model: MODEL, storeUrl: store.url, refreshMs: 60_000, onNotice: (l) => notices.push(l) });
  assert.equal(follower.current, alias, 'before the first read: through the alias');
  await follower.refresh();
  assert.deepEqual([follower.current, follower.pinned, follower.mismatch], [v1, false, undefined]);

  const v2 = await version(alias, 2, MODEL);
  await switchAlias(store.client, alias, v2);
  await follower.refresh();
  assert.deepEqual([follower.current, follower.pinned], [v2, false]);
  assert.ok(notices.some((l) => l.includes(`now leads to ${v2}`)));

  const v3 = await version(alias, 3, 'jinaai/jina-clip-v2@fp16');
  await switchAlias(store.client, alias, v3);
  await follower.refresh();
  assert.equal(follower.current, v2, 'it keeps searching the last collection of its own model');
  assert.equal(follower.pinned, true);
  assert.match(follower.mismatch ?? '', new RegExp(`leads to ${v3}, built with jinaai/jina-clip-v2@fp16, but this service encodes queries with ${MODEL.replace(/[./]/g, '\\$&')}: it keeps searching ${v2}`));

  // A rollback to its own model: it follows again.
  await switchAlias(store.client, alias, v1);
  await follower.refresh();
  assert.deepEqual([follower.current, follower.pinned, follower.mismatch], [v1, false, undefined]);
});

test('started against another model with nothing of its own: searches the alias and reports the mismatch', async () => {
  const alias = store.name('other');
  const v1 = await version(alias, 1, 'jinaai/jina-clip-v2@fp16');
  await switchAlias(store.client, alias, v1);
  const follower = new CollectionFollower({ client: store.client, alias, model: MODEL, storeUrl: store.url, refreshMs: 60_000 });
  await follower.refresh();
  assert.equal(follower.current, v1);
  assert.equal(follower.pinned, false);
  assert.match(follower.mismatch ?? '', /built with jinaai\/jina-clip-v2@fp16, but this service encodes queries with clipstream\/test-tiny@fp32$/);
});
