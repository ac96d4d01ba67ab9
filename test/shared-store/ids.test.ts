import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import { CLIPSTREAM_NAMESPACE, NAMESPACE_URL, pointId, uuidv5 } from '../../shared/store/ids.ts';

const NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

test('uuidv5 matches known RFC 4122 vectors', () => {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org') and uuid.uuid5(uuid.NAMESPACE_URL, 'http://python.org/').
  assert.equal(uuidv5('python.org', NAMESPACE_DNS), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  assert.equal(uuidv5('http://python.org/', NAMESPACE_URL), '4c565f0d-3f5a-5890-b41b-20cf47701c5e');
});

test('the project namespace is the documented derivation and never changes', () => {
  assert.equal(uuidv5('https://github.com/clipstream/clipstream#point-id', NAMESPACE_URL), CLIPSTREAM_NAMESPACE);
});

test('point ids are deterministic, distinct per source, UTF-8 hashed', () => {
  const a = pointId('s3://bucket/images/é.jpg');
  assert.equal(a, pointId('s3://bucket/images/é.jpg'));
  // Cross-checked with Python's uuid.uuid5(UUID(CLIPSTREAM_NAMESPACE), 's3://bucket/key/é.jpg').
  assert.equal(pointId('s3://bucket/key/é.jpg'), '9753c203-11ab-57bd-a7a7-38d805ae1e08');
  assert.notEqual(pointId('record:products/1'), pointId('record:products/2'));
  assert.notEqual(pointId('file:///data/a.png'), pointId('s3://data/a.png'));
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('non-canonical source URIs are refused, naming the URI', () => {
  for (const bad of ['bucket/key', 'file://relative/path', 's3://bucket', 'record:products', 'https://x/y']) {
    assert.throws(
      () => pointId(bad),
      (err: unknown) => isClipstreamError(err, 'BAD_REQUEST') && err.message.includes(bad),
    );
  }
});
