import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageKey, normaliseQueryText, QueryEmbeddingCache } from '../../services/query/cache.ts';

const vectors = (x: number) => ({ 1024: new Float32Array([x]) });

test('normalisation collapses whitespace and composes Unicode but keeps case', () => {
  assert.equal(normaliseQueryText('  rote \t Schuhe\n'), 'rote Schuhe');
  assert.equal(normaliseQueryText('cafe\u0301'), 'café');
  assert.notEqual(normaliseQueryText('Rot'), normaliseQueryText('rot'));
  assert.equal(imageKey(Buffer.from('a')), imageKey(new Uint8Array([97])));
});

test('a repeated key is served from the cache; lookups are counted as hits and misses', async () => {
  const seen: string[] = [];
  const cache = new QueryEmbeddingCache(10, (kind, hit) => seen.push(`${kind}:${hit ? 'hit' : 'miss'}`));
  let encodes = 0;
  const encode = async () => vectors(++encodes);
  const a = await cache.get('text', 'red shoe', encode);
  const b = await cache.get('text', 'red shoe', encode);
  const c = await cache.get('image', 'red shoe', encode);
  assert.equal(encodes, 2);
  assert.deepEqual([a.cached, b.cached, c.cached], [false, true, false]);
  assert.equal(b.vectors, a.vectors);
  assert.deepEqual(seen, ['text:miss', 'text:hit', 'image:miss']);
});

test('concurrent identical queries share one encode; a failure is not cached', async () => {
  const cache = new QueryEmbeddingCache(10);
  let encodes = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = async () => {
    encodes++;
    await gate;
    return vectors(1);
  };
  const both = Promise.all([cache.get('text', 'q', slow), cache.get('text', 'q', slow)]);
  release();
  const [x, y] = await both;
  assert.equal(encodes, 1);
  assert.equal(x.vectors, y.vectors);
  await assert.rejects(cache.get('text', 'bad', async () => Promise.reject(new Error('boom'))));
  const again = await cache.get('text', 'bad', async () => vectors(2));
  assert.equal(again.cached, false);
});

test('size 0 disables caching and the LRU evicts the least recently used entry', async () => {
  const off = new QueryEmbeddingCache(0);
  let n = 0;
  await off.get('text', 'q', async () => vectors(++n));
  await off.get('text', 'q', async () => vectors(++n));
  assert.equal(n, 2);
  const lru = new QueryEmbeddingCache(2);
  await lru.get('text', 'a', async () => vectors(1));
  await lru.get('text', 'b', async () => vectors(2));
  await lru.get('text', 'a', async () => vectors(9));
  await lru.get('text', 'c', async () => vectors(3));
  assert.equal((await lru.get('text', 'a', async () => vectors(99))).cached, true);
  assert.equal((await lru.get('text', 'b', async () => vectors(99))).cached, false);
});
