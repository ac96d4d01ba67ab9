/**
 * Hybrid search through /v1/search on the embedded store with the test model: an exact SKU (which
 * the dense vectors cannot know) puts its product first in hybrid and lexical mode, hits explain
 * their branch ranks and matched terms with highlight spans, DBSF and grouping work on both
 * branches, and the bad-input rules (stop-word-only queries, modes that need text) hold.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildQueryApp } from '../../services/query/app.ts';
import type { SearchResponse } from '../../services/query/search.ts';
import type { SeededCatalogue } from './support/catalogue.ts';
import { openQueryFixture, type QueryFixture } from './support/fixture.ts';

let fixture: QueryFixture;
let catalogue: SeededCatalogue;
let app: FastifyInstance;

before(async () => {
  fixture = await openQueryFixture('hybrid');
  catalogue = fixture.catalogue;
  app = await buildQueryApp({ config: fixture.config, encoder: fixture.encoder, store: { client: fixture.store.client, url: fixture.store.url } });
});

after(async () => {
  await app?.close();
  await fixture?.close();
});

async function post(payload: object): Promise<{ status: number; body: SearchResponse & { error?: { message: string } } }> {
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload });
  return { status: res.statusCode, body: res.json() };
}

async function search(payload: object): Promise<SearchResponse> {
  const r = await post(payload);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test('an exact SKU finds its product first in hybrid (the default for text) and lexical mode, not in dense', async () => {
  const target = catalogue.products[7]!;
  const hybrid = await search({ text: target.sku, limit: 5 });
  assert.equal(hybrid.query.retrieval, 'hybrid');
  assert.match(hybrid.query.fusion ?? '', /^rrf\(k=60/);
  const first = hybrid.hits![0]!;
  assert.equal(first.payload?.product_id, target.id);
  // The product's four points (image and three records) all hold the SKU: the lexical branch's top four.
  assert.ok(first.explain!.lexical_rank! <= 4, JSON.stringify(first.explain));
  assert.deepEqual(first.explain?.matched_terms, [target.sku.toLowerCase().replace('-', '')]);
  assert.ok(first.payload && !('lex_terms' in first.payload), 'the term ids the lexical branch filters on stay inside');
  assert.deepEqual(hybrid.hits!.slice(0, 4).map((h) => h.payload?.product_id), Array(4).fill(target.id), 'the product\'s image and records lead');

  const lexical = await search({ text: target.sku, mode: 'lexical', limit: 5 });
  assert.equal(lexical.query.retrieval, 'lexical');
  assert.equal(lexical.hits![0]!.payload?.product_id, target.id);
  assert.ok(lexical.hits!.every((h) => h.explain?.dense_rank === undefined));

  const dense = await search({ text: target.sku, mode: 'dense', limit: 5 });
  assert.equal(dense.query.retrieval, 'dense');
  assert.ok(dense.hits!.every((h) => h.explain === undefined));
});

test('hits say their rank in each branch and which terms matched; titles get highlight spans', async () => {
  const r = await search({ text: 'red shoes', lang: 'en', modality: 'text', limit: 5 });
  assert.deepEqual(r.query.terms, ['red', 'shoe']);
  assert.equal(r.query.lang, 'en');
  const top = r.hits![0]!;
  assert.equal(top.payload?.product_id, 'red-shoe');
  assert.ok(top.explain?.dense_rank !== undefined && top.explain.lexical_rank !== undefined);
  const title = String(top.payload?.title);
  const spans = top.explain!.highlights!.title!;
  assert.deepEqual(spans.map(([s, e]) => title.slice(s, e).toLowerCase()), ['red', 'shoes']);
});

test('hybrid pages are slices of one fused ranking', async () => {
  const all = await search({ text: 'blue bag', limit: 8 });
  const page = await search({ text: 'blue bag', limit: 3, offset: 2 });
  assert.deepEqual(page.hits!.map((h) => h.id), all.hits!.slice(2, 5).map((h) => h.id));
});

test('DBSF fusion and product groups run on both branches', async () => {
  const target = catalogue.products[3]!;
  const dbsf = await search({ text: target.sku, fusion: 'dbsf', limit: 3 });
  assert.equal(dbsf.query.fusion, 'dbsf');
  assert.equal(dbsf.hits![0]!.payload?.product_id, target.id);
  const grouped = await search({ text: target.sku, group_by: 'product', group_size: 2, limit: 3 });
  assert.equal(grouped.groups![0]!.product_id, target.id);
  assert.ok(grouped.groups![0]!.hits!.length <= 2);
  // A filter applies to both branches: the SKU's product excluded, it cannot come back through either.
  const filtered = await search({ text: target.sku, filter: { not: { product_id: [target.id] } }, limit: 5 });
  assert.ok(filtered.hits!.every((h) => h.payload?.product_id !== target.id));
});

test('a query of stop words falls back to dense in hybrid mode and is refused in lexical mode', async () => {
  const fallback = await search({ text: 'the of', lang: 'en', limit: 3 });
  assert.equal(fallback.query.retrieval, 'dense');
  assert.match(fallback.query.fallback ?? '', /no searchable words/);
  assert.equal(fallback.hits!.length, 3);
  const refused = await post({ text: 'the of ?!', lang: 'en', mode: 'lexical' });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error!.message, /no searchable words/);
});

test('image and point queries stay dense; asking them for hybrid is a clear 400', async () => {
  const p = catalogue.products[0]!;
  const like = await search({ point_id: p.imagePointId, limit: 3 });
  assert.equal(like.query.retrieval, 'dense');
  const refused = await post({ point_id: p.imagePointId, mode: 'hybrid' });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error!.message, /needs a text query/);
});
