import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { hybridQueryBody, lexicalFilter } from '../../shared/store/hybrid.ts';

const target = { client: {} as QdrantClient, collection: 'c', dims: [64, 256, 1024] };
const vector = Array.from({ length: 1024 }, (_, i) => (i % 7) - 3);
const lex = { indices: [11, 22], values: [1, 1] };
const terms = [
  { term: 'rot', id: 11 },
  { term: 'schuh', id: 22 },
];

test('hybrid is one query: prefetch [dense chain, lex] under the same filter, fused by RRF with k and weights, or DBSF', () => {
  const filter = { must: [{ key: 'modality', match: { value: 'image' } }] };
  const body = hybridQueryBody(target, { vector, lex, terms, minMatch: 1, limit: 10, filter, stageLimits: [400, 100], branchLimit: 100, fusion: { kind: 'rrf', k: 60, weights: { dense: 1, lexical: 0.5 } } }) as {
    prefetch: Array<Record<string, unknown>>;
    query: unknown;
    filter: unknown;
  };
  assert.deepEqual(body.query, { rrf: { k: 60, weights: [1, 0.5] } });
  const [dense, lexical] = body.prefetch;
  assert.equal(dense!.using, 'mrl_1024');
  assert.equal(dense!.limit, 100);
  assert.equal((dense!.prefetch as Record<string, unknown>).using, 'mrl_256');
  assert.deepEqual(dense!.filter, filter);
  assert.equal(lexical!.using, 'lex');
  assert.deepEqual(lexical!.query, lex);
  assert.deepEqual((lexical!.filter as { must: unknown[] }).must[0], filter, 'the caller\'s filter holds on the lexical branch too');
  assert.deepEqual(body.filter, filter);
  const dbsf = hybridQueryBody(target, { vector, lex, terms, limit: 10, fusion: { kind: 'dbsf' } }) as { query: unknown };
  assert.deepEqual(dbsf.query, { fusion: 'dbsf' });
  const lexicalOnly = hybridQueryBody(target, { lex, terms, limit: 10, fusion: { kind: 'dbsf' } }) as { using: string; prefetch?: unknown };
  assert.equal(lexicalOnly.using, 'lex');
  assert.equal(lexicalOnly.prefetch, undefined);
});

test('lexical candidates hold a share of the words, or every identifier the query has', () => {
  const has = (id: number) => ({ key: 'lex_terms', match: { value: id } });
  assert.deepEqual(lexicalFilter(undefined, terms, 0.6), { min_should: { conditions: [has(11), has(22)], min_count: 2 } });
  assert.equal(lexicalFilter(undefined, terms, 0.5), undefined, 'one of two words: the sparse search alone');
  const three = [...terms, { term: 'damen', id: 33 }];
  assert.equal((lexicalFilter(undefined, three, 0.6) as { min_should: { min_count: number } }).min_should.min_count, 2);
  // "EAN 4006381333931": the number must match, the label word need not.
  assert.deepEqual(lexicalFilter(undefined, [{ term: 'ean', id: 5 }, { term: '4006381333931', id: 6 }], 1), { must: [has(6)] });
  assert.equal(lexicalFilter(undefined, [{ term: 'wh1000xm5', id: 7 }], 1), undefined);
  const base = { must: [{ key: 'lang', match: { value: 'en' } }] };
  assert.deepEqual(lexicalFilter(base, terms, 1), { must: [base, { min_should: { conditions: [has(11), has(22)], min_count: 2 } }] });
});
