import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matryoshka, truncateAndNormalise } from '../../shared/encoder/matryoshka.ts';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('every slice is a unit vector and keeps the leading dims', () => {
  const raw = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 0.37) * (3 / Math.sqrt(i + 1)));
  const v = matryoshka(raw, [64, 256, 1024]);
  for (const d of [64, 256, 1024]) {
    assert.equal(v[d]!.length, d);
    assert.ok(Math.abs(norm(v[d]!) - 1) < 1e-5, `dim ${d} norm ${norm(v[d]!)}`);
  }
  // same direction as the raw prefix
  const s = norm(raw.subarray(0, 64));
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(v[64]![i]! - raw[i]! / s) < 1e-6);
});

test('truncate-then-normalise differs from normalise-then-truncate', () => {
  const raw = Float32Array.from({ length: 1024 }, (_, i) => (i % 7) - 3 + 0.5);
  const n = norm(raw);
  const normalisedFirst = raw.map((x) => x / n).subarray(0, 64);
  assert.ok(Math.abs(norm(normalisedFirst) - 1) > 0.1, 'slicing a normalised vector is not unit');
  assert.ok(Math.abs(norm(truncateAndNormalise(raw, 64)) - 1) < 1e-6);
});

test('invalid requests are refused with a clear error', () => {
  assert.throws(() => truncateAndNormalise(new Float32Array(10), 64), /64 dims of a 10-d/);
  assert.throws(() => truncateAndNormalise(new Float32Array(64), 64), /norm 0/);
});
