import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';

test('defaults apply when the environment is empty', () => {
  const c = loadConfig({});
  assert.equal(c.store.dataDir, path.resolve('./data'));
  assert.equal(c.store.qdrantUrl, undefined);
  assert.equal(c.queue.redisUrl, undefined);
  assert.equal(c.server.port, 8080);
  assert.deepEqual(c.encoder.dims, [64, 256, 1024]);
  assert.equal(c.encoder.textMaxTokens, 512);
  assert.equal(c.model.cacheDir, path.resolve('./data/models'));
  assert.equal(c.s3.forcePathStyle, false);
});

test('values are parsed and typed', () => {
  const c = loadConfig({ PORT: '9000', S3_FORCE_PATH_STYLE: 'true', MRL_DIMS: '1024,64', QDRANT_URL: 'http://q:6333', DATA_DIR: '/tmp/x' });
  assert.equal(c.server.port, 9000);
  assert.equal(c.s3.forcePathStyle, true);
  assert.deepEqual(c.encoder.dims, [64, 1024]);
  assert.equal(c.store.qdrantUrl, 'http://q:6333');
  assert.equal(c.model.cacheDir, '/tmp/x/models');
});

test('a bad variable fails with a message naming it', () => {
  for (const [name, value] of [
    ['PORT', 'eighty'],
    ['QDRANT_URL', 'not a url'],
    ['MRL_DIMS', '64,100'],
    ['ORT_EXECUTION_PROVIDER', 'tpu'],
    ['S3_FORCE_PATH_STYLE', 'maybe'],
  ]) {
    assert.throws(
      () => loadConfig({ [name!]: value }),
      (err: unknown) => err instanceof ClipstreamError && err.code === 'CONFIG_INVALID' && err.message.includes(name!),
      name,
    );
  }
});

test('MRL_DIMS must keep the 1024-d final stage', () => {
  assert.throws(() => loadConfig({ MRL_DIMS: '64,256' }), /MRL_DIMS/);
});
