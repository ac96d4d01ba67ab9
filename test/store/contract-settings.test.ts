/**
 * Settings the embedded store keeps and reports without acting on them (one process, exact
 * search), as a client sees them: optimizers_config, wal_config, sharding_method "auto", shard
 * and replication numbers, accepted at creation, changed by PATCH and echoed in collection info.
 * Runs against a real Qdrant too with QDRANT_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;

before(async () => {
  ts = await startTestStore();
  client = ts.client;
});
after(async () => {
  await ts.close();
});

describe('collection settings', () => {
  it('optimizers, WAL and sharding settings are accepted, echoed and updated', async () => {
    const name = ts.name('settings');
    await client.createCollection(name, {
      vectors: { size: 4, distance: 'Cosine' },
      sharding_method: 'auto',
      shard_number: 2,
      on_disk_payload: false,
      optimizers_config: { indexing_threshold: 5000, deleted_threshold: 0.3 },
      wal_config: { wal_capacity_mb: 64 },
    });
    let info = await client.getCollection(name);
    assert.equal(info.config.params.sharding_method, 'auto');
    assert.equal(info.config.params.shard_number, 2);
    assert.equal(info.config.params.on_disk_payload, false);
    assert.equal(info.config.optimizer_config.indexing_threshold, 5000);
    assert.equal(info.config.optimizer_config.deleted_threshold, 0.3);
    assert.equal(info.config.wal_config?.wal_capacity_mb, 64);

    await client.updateCollection(name, { optimizers_config: { indexing_threshold: 0 } });
    info = await client.getCollection(name);
    assert.equal(info.config.optimizer_config.indexing_threshold, 0);
    assert.equal(info.config.optimizer_config.deleted_threshold, 0.3, 'the other settings stay');
  });
});
