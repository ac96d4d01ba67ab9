/**
 * The vector-aware JSON parser used for write bodies must agree with JSON.parse everywhere,
 * except that number arrays under "vector"/"vectors" arrive as float32.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseVectorJson } from '../../services/store/http/json-body.ts';

const parse = (text: string) => parseVectorJson(Buffer.from(text, 'utf8'));

describe('vector JSON body parser', () => {
  it('reads vectors as float32 and everything else exactly like JSON.parse', () => {
    const body = {
      points: [
        { id: 9007199254740991, vector: { a: [0.1, -2.5e-3, 1e3, 0, -0, 123456789.12345679, 3.4e-40], b: [1, 2, 3] }, payload: { n: [0.1, 2], s: 'é"\\\n\u2028', deep: { x: null, t: true, f: false } } },
        { id: 'a1b2c3d4-0000-4000-8000-00000000000a', vector: [0.30000001192092896, 1.5], payload: null },
      ],
    };
    const text = JSON.stringify(body);
    const got = parse(text) as typeof body & { points: Array<{ vector: Record<string, Float32Array> | Float32Array }> };
    const ref = JSON.parse(text) as typeof body;
    const a = (got.points[0]!.vector as Record<string, Float32Array>).a!;
    assert.ok(a instanceof Float32Array);
    assert.deepEqual(Array.from(a), (ref.points[0]!.vector as { a: number[] }).a.map(Math.fround));
    assert.ok(got.points[1]!.vector instanceof Float32Array);
    assert.deepEqual(Array.from(got.points[1]!.vector as Float32Array), [Math.fround(0.30000001192092896), 1.5]);
    assert.deepEqual(got.points[0]!.payload, ref.points[0]!.payload, 'payload arrays stay plain JS values');
    assert.equal(got.points[0]!.id, 9007199254740991);
    assert.equal(got.points[1]!.id, ref.points[1]!.id);
    assert.equal(got.points[1]!.payload, null);
  });

  it('keeps mixed or non-numeric arrays under "vector" as plain arrays', () => {
    const got = parse('{"vector": ["a", 1], "vectors": {"x": [1, "2"]}, "v": [1, 2]}') as Record<string, unknown>;
    assert.deepEqual(got.vector, ['a', 1]);
    assert.deepEqual(got.vectors, { x: [1, '2'] });
    assert.deepEqual(got.v, [1, 2]);
  });

  it('does not let a "__proto__" key change the prototype', () => {
    const got = parse('{"payload": {"__proto__": {"polluted": true}}}') as { payload: Record<string, unknown> };
    assert.equal(Object.getPrototypeOf(got.payload), Object.prototype);
    assert.deepEqual(Object.keys(got.payload), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('rejects malformed JSON with a 400 that says where', () => {
    for (const bad of ['{"points": [', '{"a": 01}', '{"a": 1,}', '{"a" 1}', '[1, 2] x', '{"vector": [1, 2,]}', '"unterminated']) {
      assert.throws(
        () => parse(bad),
        (err: Error & { status?: number }) => err.status === 400 && /Format error in JSON body: .* at line \d+ column \d+/.test(err.message),
        bad,
      );
    }
  });
});
