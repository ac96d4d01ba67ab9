/**
 * Range bounds evaluated at equality, where `lt` and `lte` (and `gt` and `gte`) part ways:
 * Qdrant's inclusive bounds include the bound, its strict ones exclude it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, type FilterTarget } from '../../services/store/engine/filter.ts';
import type { Payload } from '../../services/store/engine/payload.ts';

const payloads: Payload[] = [{ price: 9.5 }, { price: 10 }, { price: 10.5 }, { price: [3, 10] }, { price: 'ten' }, {}];

function matching(range: Record<string, unknown>): number[] {
  const target: FilterTarget = {
    payloadOf: (slot) => payloads[slot] ?? null,
    slotOf: () => undefined,
    hasVector: () => true,
    isVectorName: () => true,
    isTextIndexed: () => false,
  };
  const pred = compileFilter({ must: [{ key: 'price', range }] }, target);
  assert.ok(pred, 'a filter with a condition compiles to a predicate');
  return payloads.flatMap((_, slot) => (pred(slot) ? [slot] : []));
}

test('lte includes the bound, lt excludes it', () => {
  assert.deepEqual(matching({ lte: 10 }), [0, 1, 3]);
  assert.deepEqual(matching({ lt: 10 }), [0, 3]);
});

test('gte includes the bound, gt excludes it', () => {
  assert.deepEqual(matching({ gte: 10 }), [1, 2, 3]);
  assert.deepEqual(matching({ gt: 10 }), [2]);
});

test('both bounds inclusive at one value select exactly the points holding it', () => {
  assert.deepEqual(matching({ gte: 10, lte: 10 }), [1, 3]);
  assert.deepEqual(matching({ gt: 10, lt: 10 }), []);
});
