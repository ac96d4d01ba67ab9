import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../shared/config/index.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { ensureCollection } from '../../shared/store/schema.ts';
import { connectStore } from '../../services/store-connect.ts';
import { startTestStore } from '../support/store.ts';
import { freePort } from './proxy.ts';

test('without QDRANT_URL the embedded store runs in-process under DATA_DIR/store, and keeps data across restarts', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'connect-'));
  try {
    const config = loadConfig({ DATA_DIR: dataDir });
    const first = await connectStore(config);
    assert.equal(first.embedded, true);
    assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await ensureCollection(first.client, { alias: 'catalogue', dims: [64, 1024], model: 'm' });
    await first.close();
    assert.ok(existsSync(path.join(dataDir, 'store')));
    const second = await connectStore(config);
    try {
      const { aliases } = await second.client.getAliases();
      assert.deepEqual(aliases.map((a) => [a.alias_name, a.collection_name]), [['catalogue', 'catalogue_v1']]);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('with QDRANT_URL the client talks to that server', async () => {
  const server = await startTestStore();
  try {
    const conn = await connectStore(loadConfig({ QDRANT_URL: server.url }));
    assert.equal(conn.embedded, false);
    assert.equal(conn.url, server.url);
    await server.client.createCollection(server.name('seen'), { vectors: { size: 4, distance: 'Cosine' } });
    const { collections } = await conn.client.getCollections();
    assert.ok(collections.some((c) => c.name === server.name('seen')));
    await conn.close();
  } finally {
    await server.close();
  }
});

test('an unreachable QDRANT_URL fails with STORE_UNAVAILABLE naming it', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    connectStore(loadConfig({ QDRANT_URL: url }), { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } }),
    (e: unknown) => isClipstreamError(e, 'STORE_UNAVAILABLE') && e.message.includes(url),
  );
});
