/**
 * The query API on the embedded store with the test model: a catalogue of drawn product images
 * and multilingual titles, searched by text in several languages, by image, by stored point,
 * with filters, grouping, paging and stage limits; plus items, thumbnails, collections,
 * readiness and the embedding cache.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import type { ClipEncoder } from '../../shared/encoder/index.ts';
import { buildQueryApp } from '../../services/query/app.ts';
import { SCHEMA_VERSION } from '../../shared/store/schema.ts';
import type { SearchResponse } from '../../services/query/search.ts';
import { drawProductImage } from '../../scripts/test-model/draw.ts';
import type { TestStore } from '../support/store.ts';
import type { SeededCatalogue } from './support/catalogue.ts';
import { openQueryFixture, type QueryFixture } from './support/fixture.ts';

let fixture: QueryFixture;
let store: TestStore;
let encoder: ClipEncoder;
let catalogue: SeededCatalogue;
let app: FastifyInstance;

before(async () => {
  fixture = await openQueryFixture('search', { QUERY_MAX_LIMIT: '60' });
  ({ store, encoder, catalogue } = fixture);
  app = await buildQueryApp({ config: fixture.config, encoder, store: { client: store.client, url: store.url } });
});

after(async () => {
  await app?.close();
  await fixture?.close();
});

async function search(payload: object): Promise<SearchResponse> {
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as SearchResponse;
}

const product = (hit: { payload?: Record<string, unknown> }) => hit.payload?.product_id;

/** The list, after checking it has something in it: `.every()` over nothing would pass vacuously. */
function nonEmpty<T>(list: T[] | undefined): T[] {
  assert.ok(list && list.length > 0, 'expected at least one result');
  return list;
}

test('text queries in any language find the right colour and category among images', async () => {
  const cases: Array<[string, string]> = [
    ['red shoe', 'red-shoe'],
    ['rote Schuhe', 'red-shoe'],
    ['chaussures rouges', 'red-shoe'],
    ['赤い靴', 'red-shoe'],
    ['blaue Tasche', 'blue-bag'],
    ['sac bleu', 'blue-bag'],
    ['緑の帽子', 'green-hat'],
    ['taza amarilla', 'yellow-cup'],
    ['黑色鞋子', 'black-shoe'],
  ];
  // The dense model's own cross-lingual reach (hybrid's lexical branch is tested in hybrid.test.ts).
  for (const [text, expected] of cases) {
    const r = await search({ text, modality: 'image', limit: 3, mode: 'dense' });
    assert.equal(product(r.hits![0]!), expected, `${text} → ${r.hits!.map(product).join(', ')}`);
    assert.ok(nonEmpty(r.hits).every((h) => h.payload?.modality === 'image' && h.thumbnail === `/v1/items/${h.id}/thumbnail`));
    assert.equal(r.query.kind, 'text');
    assert.ok(r.timings.encode_ms >= 0 && r.timings.search_ms > 0 && r.timings.total_ms >= r.timings.search_ms);
  }
});

test('a text query finds texts in other languages; modality and language filters hold', async () => {
  const r = await search({ text: 'rote Schuhe', modality: 'text', filter: { lang: 'en' }, limit: 5 });
  assert.equal(r.hits![0]!.payload!.text, 'red shoes');
  assert.ok(nonEmpty(r.hits).every((h) => h.payload!.modality === 'text' && h.payload!.lang === 'en'));
  const ja = await search({ text: 'red shoe', modality: 'text', filter: { lang: ['ja', 'zh'] }, limit: 10 });
  assert.ok(ja.hits!.length > 0);
  assert.ok(nonEmpty(ja.hits).every((h) => ['ja', 'zh'].includes(h.payload!.lang as string)));
  const any = await search({ text: 'red shoe', limit: 20 });
  assert.deepEqual(new Set(any.hits!.map((h) => h.payload!.modality)), new Set(['image', 'text']));
});

test('an image query finds its own product first (upload, base64); an unseen photo finds its product', async () => {
  const target = catalogue.byId.get('green-cup')!;
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(target.imageBytes)], { type: 'image/png' }), 'query.png');
  form.append('modality', 'image');
  form.append('limit', '3');
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload: form });
  assert.equal(res.statusCode, 200, res.body);
  const upload = res.json() as SearchResponse;
  assert.equal(upload.hits![0]!.id, target.imagePointId);
  assert.ok(upload.hits![0]!.score > 0.99, String(upload.hits![0]!.score));
  assert.equal(upload.query.kind, 'image');

  const b64 = await search({ image: { base64: target.imageBytes.toString('base64') }, modality: 'image', limit: 3 });
  assert.equal(b64.hits![0]!.id, target.imagePointId);
  assert.equal(b64.query.cached, true, 'the same bytes hit the embedding cache');

  const unseen = await drawProductImage({ colour: 'yellow', category: 'hat', seed: 999, width: 200, height: 180, format: 'jpeg' });
  const photo = await search({ image: { base64: unseen.toString('base64') }, limit: 3 });
  assert.equal(product(photo.hits![0]!), 'yellow-hat');
  // Image → text across modalities: the titles of that product rank first among texts.
  const titles = await search({ image: { base64: unseen.toString('base64') }, modality: 'text', limit: 3 });
  assert.ok(nonEmpty(titles.hits).every((h) => product(h) === 'yellow-hat'), titles.hits!.map(product).join());
});

test('point_id ("more like this") excludes the point itself and finds its product', async () => {
  const target = catalogue.byId.get('blue-hat')!;
  const r = await search({ point_id: target.imagePointId, limit: 10 });
  assert.equal(r.query.kind, 'point');
  assert.ok(!r.hits!.some((h) => h.id === target.imagePointId));
  assert.equal(r.hits!.length, 10);
  const texts = await search({ point_id: target.imagePointId, modality: 'text', limit: 3 });
  assert.ok(nonEmpty(texts.hits).every((h) => product(h) === 'blue-hat'), texts.hits!.map(product).join());
  const exact = await search({ point_id: target.imagePointId, exact: true, limit: 10 });
  assert.ok(!exact.hits!.some((h) => h.id === target.imagePointId));
  const grouped = await search({ point_id: target.imagePointId, group_by: 'product', limit: 3 });
  assert.ok(!grouped.groups!.flatMap((g) => g.hits).some((h) => h.id === target.imagePointId));
  const missing = await app.inject({ method: 'POST', url: '/v1/search', payload: { point_id: '00000000-0000-5000-8000-000000000000' } });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().error.message, /no point with this id/);
});

test('record-field filters: ranges, keyword sets, exclusions, product ids', async () => {
  const cheap = await search({ text: 'shoe', filter: { fields: { price: { lt: 40 } } }, limit: 60 });
  assert.ok(cheap.hits!.length > 0);
  assert.ok(nonEmpty(cheap.hits).every((h) => (h.payload!.fields as { price: number }).price < 40));
  assert.ok(nonEmpty(cheap.hits).every((h) => h.payload!.modality === 'text'), 'images have no fields, so a field filter keeps texts only');
  const colours = await search({ text: 'bag', filter: { fields: { colour: ['red', 'blue'] }, not: { lang: 'en' } }, limit: 60 });
  assert.ok(colours.hits!.length > 0);
  assert.ok(nonEmpty(colours.hits).every((h) => ['red', 'blue'].includes((h.payload!.fields as { colour: string }).colour) && h.payload!.lang !== 'en'));
  const except = await search({ text: 'bag', filter: { fields: { colour: { except: ['red'] } } }, limit: 60 });
  assert.ok(nonEmpty(except.hits).every((h) => (h.payload!.fields as { colour?: string } | undefined)?.colour !== 'red'));
  // "None of" excludes matching values only: points without the field (images here) stay, as in Qdrant.
  assert.ok(except.hits!.some((h) => h.payload!.modality === 'image'));
  const products = await search({ text: 'red shoe', filter: { product_id: ['blue-cup', 'green-bag'] }, limit: 60 });
  assert.deepEqual(new Set(products.hits!.map(product)), new Set(['blue-cup', 'green-bag']));
});

test('group_by product: one group per product, group_size hits each, best product first', async () => {
  const r = await search({ text: 'rote Schuhe', group_by: 'product', group_size: 2, limit: 4 });
  assert.equal(r.hits, undefined);
  assert.equal(r.groups!.length, 4);
  assert.equal(r.groups![0]!.product_id, 'red-shoe');
  assert.equal(new Set(r.groups!.map((g) => g.product_id)).size, 4);
  for (const g of nonEmpty(r.groups)) {
    assert.ok(g.hits.length >= 1 && g.hits.length <= 2);
    assert.ok(nonEmpty(g.hits).every((h) => product(h) === g.product_id));
  }
  const images = await search({ text: 'red', group_by: 'product', group_size: 3, modality: 'image', limit: 5 });
  assert.ok(nonEmpty(images.groups).every((g) => g.hits.length === 1 && g.hits[0]!.payload!.modality === 'image'));
});

test('limit, offset, stage limits and exact search', async () => {
  // Dense: the cascade is compared with exact search below.
  const all = await search({ text: 'blue', limit: 8, mode: 'dense' });
  const page = await search({ text: 'blue', limit: 3, offset: 2, mode: 'dense' });
  assert.deepEqual(page.hits!.map((h) => h.id), all.hits!.slice(2, 5).map((h) => h.id));
  assert.equal(all.stages.source, 'default');
  assert.deepEqual(all.stages.dims, [64, 256, 1024]);
  assert.deepEqual(all.stages.limits, [400, 100, 8]);
  const custom = await search({ text: 'blue', limit: 8, stages: [50, 20] });
  assert.deepEqual(custom.stages, { dims: [64, 256, 1024], limits: [50, 20, 8], source: 'request' });
  assert.equal(custom.query.mode, 'coarse_to_fine');
  const exact = await search({ text: 'blue', limit: 8, exact: true });
  assert.equal(exact.query.mode, 'exact');
  assert.deepEqual(exact.stages.dims, [1024]);
  // The catalogue is far smaller than the candidate budgets, so the cascade is exact here.
  assert.deepEqual(all.hits!.map((h) => h.id), exact.hits!.map((h) => h.id));
  const bare = await search({ text: 'blue', limit: 2, with_payload: false });
  assert.ok(nonEmpty(bare.hits).every((h) => h.payload === undefined));
});

test('items, thumbnails and collection info', async () => {
  const p = catalogue.byId.get('red-bag')!;
  const item = await app.inject({ url: `/v1/items/${p.imagePointId}` });
  assert.equal(item.statusCode, 200);
  assert.equal(item.json().payload.product_id, 'red-bag');
  assert.equal(item.json().thumbnail, `/v1/items/${p.imagePointId}/thumbnail`);
  assert.equal((await app.inject({ url: '/v1/items/00000000-0000-5000-8000-000000000000' })).statusCode, 404);

  const thumb = await app.inject({ url: `/v1/items/${p.imagePointId}/thumbnail?size=64` });
  assert.equal(thumb.statusCode, 200);
  assert.equal(thumb.headers['content-type'], 'image/webp');
  const meta = await sharp(thumb.rawPayload).metadata();
  assert.equal(meta.format, 'webp');
  assert.ok(meta.width! <= 64 && meta.height! <= 64);
  const again = await app.inject({ url: `/v1/items/${p.imagePointId}/thumbnail?size=64`, headers: { 'if-none-match': String(thumb.headers.etag) } });
  assert.equal(again.statusCode, 304);
  const textThumb = await app.inject({ url: `/v1/items/${p.textPointIds.en}/thumbnail` });
  assert.equal(textThumb.statusCode, 404);
  assert.equal((await app.inject({ url: `/v1/items/${p.imagePointId}/thumbnail?size=5000` })).statusCode, 400);

  const info = (await app.inject({ url: '/v1/collections' })).json();
  assert.equal(info.model, encoder.model.modelId);
  assert.equal(info.test_model, true);
  const c = info.collections[0];
  assert.equal(c.points, catalogue.points);
  assert.equal(c.model, encoder.model.modelId);
  assert.deepEqual(c.dims, [64, 256, 1024]);
  assert.equal(c.schema_version, SCHEMA_VERSION);
  assert.deepEqual(Object.keys(c.vectors).sort(), ['mrl_1024', 'mrl_256', 'mrl_64']);
});

test('the embedding cache serves repeated texts, counted in /metrics', async () => {
  const first = await search({ text: 'purple chair unique-1', limit: 1 });
  const second = await search({ text: '  purple   chair unique-1 ', limit: 1 });
  assert.equal(first.query.cached, false);
  assert.equal(second.query.cached, true);
  const metrics = (await app.inject({ url: '/metrics' })).body;
  const hits = Number(/clipstream_query_embedding_cache_total\{kind="text",result="hit"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(hits >= 1);
  assert.match(metrics, /clipstream_query_search_duration_seconds_count\{mode="coarse_to_fine"\} [1-9]/);
  assert.match(metrics, /clipstream_query_candidates_count\{stage="mrl_64"\} [1-9]/);
});

test('readyz is 200 while the store is up and 503 with the reason once it is down', async () => {
  const ready = await app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 200, ready.body);
  assert.match(ready.json().checks.store, new RegExp(`^ok: .*\\(${catalogue.points} points\\)`));
  await store.close();
  const down = await app.inject({ url: '/readyz' });
  assert.equal(down.statusCode, 503);
  assert.match(down.json().checks.store, /unavailable/);
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload: { text: 'red shoe' } });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error.code, 'STORE_UNAVAILABLE');
  store = { ...store, close: async () => {} };
});
