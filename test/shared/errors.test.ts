import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClipstreamError, ERROR_TRAITS, isRetryableCode } from '../../shared/errors.ts';
import { isRetryableJobError } from '../../shared/queue/queues.ts';
import { errorAnswer } from '../../services/query/http-errors.ts';

test('a schema mismatch or a vanished collection is never retried; a store outage is', () => {
  assert.equal(isRetryableCode('STORE_SCHEMA_MISMATCH'), false);
  assert.equal(isRetryableCode('COLLECTION_NOT_FOUND'), false);
  assert.equal(isRetryableCode('STORE_UNAVAILABLE'), true);
  assert.equal(isRetryableJobError(new ClipstreamError('STORE_SCHEMA_MISMATCH', 'dims differ')), false);
  assert.equal(isRetryableJobError(new ClipstreamError('COLLECTION_NOT_FOUND', 'gone')), false);
  assert.equal(isRetryableJobError(new ClipstreamError('STORE_REQUEST_FAILED', 'x')), true);
});

test('every code answers the status of its row, not a fallback', () => {
  const codes = Object.keys(ERROR_TRAITS) as Array<keyof typeof ERROR_TRAITS>;
  assert.ok(codes.length >= 30, `${codes.length} codes`);
  for (const code of codes) {
    assert.equal(errorAnswer(new ClipstreamError(code, 'why')).status, ERROR_TRAITS[code].status, code);
  }
  assert.equal(errorAnswer(new ClipstreamError('TEXT_TOO_LONG', 'x')).status, 413);
  assert.equal(errorAnswer(new ClipstreamError('IMAGE_FORMAT_REFUSED', 'x')).status, 415);
  assert.equal(errorAnswer(new ClipstreamError('SOURCE_UNREACHABLE', 'x')).status, 502);
  assert.equal(errorAnswer(new ClipstreamError('RUN_LOCKED', 'x')).status, 409);
});
