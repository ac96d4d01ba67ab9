import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isClipstreamError } from '../../shared/errors.ts';
import {
  buildCoarseToFineRequest,
  checkStageLimits,
  defaultStageLimits,
  excludeIds,
  sliceNormalize,
  stageLimitsFor,
} from '../../shared/store/coarse-to-fine.ts';

const dims = [64, 256, 1024];
const query = Array.from({ length: 1024 }, (_, i) => (i % 7) - 3 + 0.5);

test('slices are truncated first, then L2-normalised', () => {
  const v = sliceNormalize([3, 4, 100, 100], 2);
  assert.deepEqual(v, [0.6, 0.8]);
  assert.throws(() => sliceNormalize([0, 0, 1], 2), (e: unknown) => isClipstreamError(e, 'VECTOR_INVALID'));
});

test('one query: 64-d prefetch inside 256-d prefetch inside the 1024-d query, the filter at every stage', () => {
  const filter = { must: [{ key: 'modality', match: { value: 'image' } }] };
  const body = buildCoarseToFineRequest(dims, { vector: query, limit: 10, offset: 5, filter, stageLimits: [300, 60] });
  const outer = body as Record<string, any>;
  assert.equal(outer.using, 'mrl_1024');
  assert.equal(outer.query.length, 1024);
  assert.equal(outer.limit, 10);
  assert.equal(outer.offset, 5);
  assert.deepEqual(outer.filter, filter);
  assert.equal(outer.with_payload, true);
  const mid = outer.prefetch;
  assert.equal(mid.using, 'mrl_256');
  assert.equal(mid.limit, 60);
  assert.equal(mid.query.length, 256);
  assert.deepEqual(mid.filter, filter);
  const inner = mid.prefetch;
  assert.equal(inner.using, 'mrl_64');
  assert.equal(inner.limit, 300);
  assert.equal(inner.query.length, 64);
  assert.deepEqual(inner.filter, filter);
  assert.equal(inner.prefetch, undefined);
  // The first 64 of the query over their norm, worked out here rather than by sliceNormalize.
  const head = query.slice(0, 64);
  const n = Math.hypot(...head);
  inner.query.forEach((x: number, k: number) => assert.ok(Math.abs(x - head[k]! / n) < 1e-12, `component ${k}`));
  assert.ok(Math.abs(Math.hypot(...mid.query) - 1) < 1e-9);
});

test('the first stage asks for an HNSW beam of twice its limit unless told otherwise; later stages for none', () => {
  const stages = (body: unknown) => {
    const outer = body as Record<string, any>;
    return { outer: outer.params, mid: outer.prefetch.params, inner: outer.prefetch.prefetch.params };
  };
  assert.deepEqual(stages(buildCoarseToFineRequest(dims, { vector: query, limit: 10, stageLimits: [300, 60] })), { outer: undefined, mid: undefined, inner: { hnsw_ef: 600 } });
  // Default limits, stretched for a deep page: the beam follows the stretched L1.
  assert.deepEqual(stages(buildCoarseToFineRequest(dims, { vector: query, limit: 500 })).inner, { hnsw_ef: 1000 });
  assert.deepEqual(stages(buildCoarseToFineRequest(dims, { vector: query, limit: 10, stageLimits: [300, 60], hnswEf: 64 })).inner, { hnsw_ef: 64 });
  // null: the store's own beam (Qdrant: max(ef_construct, L1)).
  assert.deepEqual(stages(buildCoarseToFineRequest(dims, { vector: query, limit: 10, stageLimits: [300, 60], hnswEf: null })).inner, undefined);
});

test('stage limits must satisfy L1 ≥ L2 ≥ limit + offset', () => {
  checkStageLimits(dims, [100, 20], 10, 10);
  const bad: Array<[number[], number, number, RegExp]> = [
    [[50, 100], 10, 0, /L1 ≥ L2/],
    [[100, 20], 15, 10, /at least 25/],
    [[100], 10, 0, /1 stage limit/],
    [[100, 0], 1, 0, /positive integer/],
  ];
  for (const [limits, limit, offset, why] of bad) {
    assert.throws(() => checkStageLimits(dims, limits, limit, offset), (e: unknown) => isClipstreamError(e, 'BAD_REQUEST') && why.test(e.message), why.source);
  }
  assert.throws(() => buildCoarseToFineRequest(dims, { vector: query, limit: 10, stageLimits: [5, 5] }), (e: unknown) => isClipstreamError(e, 'BAD_REQUEST'));
});

test('defaults are L1=400, L2=100, stretched (not failed) for deep pages', () => {
  assert.deepEqual(defaultStageLimits(dims), [400, 100]);
  assert.deepEqual(defaultStageLimits([64, 1024]), [100]);
  assert.deepEqual(stageLimitsFor([400, 100], 150, 100), [400, 250]);
  const body = buildCoarseToFineRequest(dims, { vector: query, limit: 200 }) as Record<string, any>;
  assert.equal(body.prefetch.limit, 200);
  assert.equal(body.prefetch.prefetch.limit, 400);
});

test('excluding ids merges into must_not without losing the caller filter', () => {
  assert.deepEqual(excludeIds(undefined, ['a']), { must_not: [{ has_id: ['a'] }] });
  const f = { must: [{ key: 'lang', match: { value: 'de' } }], must_not: { key: 'modality', match: { value: 'text' } } };
  assert.deepEqual(excludeIds(f, ['a']), { must: f.must, must_not: [f.must_not, { has_id: ['a'] }] });
});
