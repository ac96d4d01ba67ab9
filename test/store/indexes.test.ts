/** Keyword postings: a value held by one point is a bare slot, shared values a set; both answer lookups alike. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { PayloadIndex } from '../../services/store/engine/indexes.ts';

it('keyword postings answer lookups as points come, share values, change and go', () => {
  const index = new PayloadIndex('k', { type: 'keyword', params: null });
  index.add(1, { k: 'a' });
  index.add(2, { k: ['a', 'b'] });
  index.add(3, { k: 'c' });
  const sorted = (values: unknown[]) => [...index.lookup(values)!].sort();
  assert.deepEqual(sorted(['a']), [1, 2]);
  assert.deepEqual(sorted(['b']), [2]);
  assert.deepEqual(sorted(['c']), [3]);
  assert.deepEqual(sorted(['b', 'c', 'zz']), [2, 3]);
  assert.deepEqual(sorted(['zz']), []);
  index.remove(1, { k: 'a' });
  assert.deepEqual(sorted(['a']), [2]);
  index.add(4, { k: 'a' });
  assert.deepEqual(sorted(['a']), [2, 4]);
  index.remove(2, { k: ['a', 'b'] });
  index.remove(4, { k: 'a' });
  index.remove(3, { k: 'c' });
  assert.deepEqual([sorted(['a']), sorted(['b']), sorted(['c'])], [[], [], []]);
  assert.equal(index.postings!.size, 0, 'no empty postings are left behind');
  assert.equal(index.points, 0);
});
