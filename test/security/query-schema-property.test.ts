/**
 * Property-based checks of the search contract (fast-check), against the real store and test
 * model: random valid requests answer 200 with hits that respect limit, modality and product
 * filter; random invalid ones (one rule broken at a time) answer 400 in the documented
 * envelope; and arbitrary JSON values or bytes never make the service answer 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildQueryApp } from '../../services/query/app.ts';
import { CATEGORIES, COLOURS } from '../query/support/catalogue.ts';
import { openQueryFixture, type QueryFixture } from '../query/support/fixture.ts';

const MAX_LIMIT = 30;
let fixture: QueryFixture;
let app: FastifyInstance;
let pointIds: string[];
let png: string;

before(async () => {
  fixture = await openQueryFixture('property', { QUERY_MAX_LIMIT: String(MAX_LIMIT) });
  const { config, encoder, store } = fixture;
  app = await buildQueryApp({ config, encoder, store: { client: store.client, url: store.url } });
  pointIds = fixture.catalogue.products.flatMap((p) => [p.imagePointId, ...Object.values(p.textPointIds)]);
  png = (await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer()).toString('base64');
});

after(async () => {
  await app?.close();
  await fixture?.close();
});

type Body = Record<string, unknown>;

const text = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => s.normalize('NFC').replace(/\s+/gu, ' ').trim() !== '');
const query = fc.oneof(
  text.map((t) => ({ text: t })),
  fc.constantFrom(...COLOURS).chain((c) => fc.constantFrom(...CATEGORIES).map((k) => ({ text: `${c} ${k}` }))),
  fc.integer({ min: 0, max: 1000 }).map((i) => ({ point_id: pointIds[i % pointIds.length]! })),
  fc.constant(null).map(() => ({ image: { base64: png } })),
);
const filter = fc.record(
  {
    lang: fc.oneof(fc.constantFrom('en', 'de', 'fr', 'ja'), fc.uniqueArray(fc.constantFrom('en', 'de', 'fr', 'ja', 'es', 'zh', 'it'), { minLength: 1, maxLength: 3 })),
    product_id: fc.constantFrom(...(['red-shoe', 'blue-bag', 'green-cup', 'no-such-product'] as const)),
    fields: fc.record(
      {
        colour: fc.oneof(fc.constantFrom(...COLOURS), fc.uniqueArray(fc.constantFrom(...COLOURS), { minLength: 1, maxLength: 3 }).map((a) => ({ except: a }))),
        price: fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 100 })).map(([lo, span]) => ({ gte: lo, lt: lo + span })),
      },
      { requiredKeys: [] },
    ),
    not: fc.record({ lang: fc.constantFrom('ja', 'zh') }),
  },
  { requiredKeys: [] },
);

/** Requests the contract accepts: the schema and the rules between fields (window, groups, stages). */
const validBody: fc.Arbitrary<Body> = fc
  .record(
    {
      modality: fc.constantFrom('image', 'text', 'any'),
      filter,
      limit: fc.integer({ min: 1, max: MAX_LIMIT }),
      offset: fc.integer({ min: 0, max: MAX_LIMIT - 1 }),
      group: fc.boolean(),
      group_size: fc.integer({ min: 1, max: 5 }),
      exact: fc.boolean(),
      stages: fc.option(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })), { nil: undefined }),
      with_payload: fc.boolean(),
    },
    { requiredKeys: ['limit'] },
  )
  .chain((o) =>
    query.map((q) => {
      const body: Body = { ...q, limit: o.limit };
      if (o.modality !== undefined) body.modality = o.modality;
      if (o.filter !== undefined) body.filter = o.filter;
      if (o.with_payload !== undefined) body.with_payload = o.with_payload;
      if (o.group) {
        body.group_by = 'product';
        if (o.group_size !== undefined) body.group_size = o.group_size;
      } else {
        if (o.offset !== undefined) body.offset = Math.min(o.offset, MAX_LIMIT - o.limit);
        if (o.exact) body.exact = true;
      }
      if (o.stages && !body.exact) {
        const window = o.limit + ((body.offset as number | undefined) ?? 0);
        const l2 = window + o.stages[1];
        body.stages = [l2 + o.stages[0], l2];
      }
      return body;
    }),
  );

/** One rule broken, whatever the rest of the request. */
const mutations: Array<[string, fc.Arbitrary<(b: Body) => Body>]> = [
  ['unknown key', fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !KNOWN.has(k)).map((k) => (b) => ({ ...b, [k]: 1 }))],
  ['limit out of range', fc.oneof(fc.constant(0), fc.integer({ min: MAX_LIMIT + 1, max: 1e9 }), fc.integer({ min: -1e9, max: -1 })).map((n) => (b) => ({ ...b, limit: n }))],
  ['limit not an integer', fc.oneof(fc.double({ min: 1.01, max: 9.99, noNaN: true }), fc.string(), fc.boolean(), fc.constant(null)).map((v) => (b) => ({ ...b, limit: v }))],
  ['window over the limit', fc.integer({ min: 1, max: MAX_LIMIT }).map((l) => (b) => ({ ...strip(b, 'group_by', 'group_size', 'stages'), limit: l, offset: MAX_LIMIT - l + 1 }))],
  ['negative offset', fc.integer({ min: -1000, max: -1 }).map((n) => (b) => ({ ...strip(b, 'group_by', 'group_size'), offset: n }))],
  ['no query', fc.constant((b: Body) => strip(b, 'text', 'image', 'point_id'))],
  ['two queries', fc.constant((b: Body) => ({ ...strip(b, 'image'), text: 'red', point_id: pointIds[0] }))],
  ['point_id not a uuid', fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s)).map((s) => (b) => ({ ...strip(b, 'text', 'image'), point_id: s }))],
  ['text not a string', fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 })).map((v) => (b) => ({ ...strip(b, 'image', 'point_id'), text: v }))],
  ['blank text', fc.constantFrom('', ' ', '\n\t ', '\u3000').map((t) => (b) => ({ ...strip(b, 'image', 'point_id'), text: t }))],
  ['text too long', fc.constant((b: Body) => ({ ...strip(b, 'image', 'point_id'), text: 'x'.repeat(fixture.config.server.query.maxTextChars + 1) }))],
  ['modality not in the enum', fc.string({ maxLength: 8 }).filter((m) => !['image', 'text', 'any'].includes(m)).map((m) => (b) => ({ ...b, modality: m }))],
  ['unknown filter key', fc.constantFrom('price', 'source', 'modality', 'title').map((k) => (b) => ({ ...b, filter: { [k]: 'x' } }))],
  ['bad field name', fc.constantFrom('a b', '../x', 'x;y', '', '$where').map((k) => (b) => ({ ...b, filter: { fields: { [k]: 'x' } } }))],
  ['range of non-numbers', fc.constantFrom('gt', 'gte', 'lt', 'lte').map((op) => (b) => ({ ...b, filter: { fields: { price: { [op]: 'ten' } } } }))],
  ['empty condition', fc.constant((b: Body) => ({ ...b, filter: { fields: { price: {} } } }))],
  ['stages not decreasing', fc.integer({ min: 1, max: 50 }).map((d) => (b) => ({ ...strip(b, 'exact', 'offset', 'group_by', 'group_size'), limit: 5, stages: [100, 100 + d] }))],
  ['stages below the window', fc.constant((b: Body) => ({ ...strip(b, 'exact', 'offset', 'group_by', 'group_size'), limit: 20, stages: [400, 5] }))],
  ['stages of the wrong count', fc.constantFrom([400], [400, 200, 100]).map((s) => (b) => ({ ...strip(b, 'exact', 'group_by', 'group_size'), stages: s }))],
  ['offset with groups', fc.integer({ min: 1, max: 5 }).map((o) => (b) => ({ ...strip(b, 'exact'), limit: 5, offset: o, group_by: 'product' }))],
  ['exact with stages', fc.constant((b: Body) => ({ ...strip(b, 'group_by', 'group_size', 'offset'), limit: 5, exact: true, stages: [100, 50] }))],
  ['image with both forms', fc.constant((b: Body) => ({ ...strip(b, 'text', 'point_id'), image: { base64: png, url: 'https://x.example/a.png' } }))],
  ['image not allowed by URL', fc.webUrl().map((u) => (b) => ({ ...strip(b, 'text', 'point_id'), image: { url: u } }))],
  ['image not base64', fc.constantFrom('###', '%%%%', 'a b c!').map((s) => (b) => ({ ...strip(b, 'text', 'point_id'), image: { base64: s } }))],
  ['with_payload not a boolean', fc.oneof(fc.string(), fc.integer()).map((v) => (b) => ({ ...b, with_payload: v }))],
];
const KNOWN = new Set(['text', 'image', 'point_id', 'modality', 'filter', 'limit', 'offset', 'group_by', 'group_size', 'stages', 'exact', 'with_payload']);

function strip(b: Body, ...keys: string[]): Body {
  const copy = { ...b };
  for (const k of keys) delete copy[k];
  return copy;
}

interface Envelope {
  error: { code: string; status: number; message: string };
}

function assertEnvelope(res: { statusCode: number; body: string }): void {
  const parsed = JSON.parse(res.body) as Envelope;
  assert.deepEqual(Object.keys(parsed), ['error']);
  assert.equal(parsed.error.status, res.statusCode);
  assert.match(parsed.error.code, /^[A-Z_]+$/);
  assert.ok(parsed.error.message.length > 0);
}

interface Hit {
  payload?: { modality?: string; product_id?: string };
}

test('valid requests answer 200 with hits that keep to limit, modality and product filter', async () => {
  await fc.assert(
    fc.asyncProperty(validBody, async (body) => {
      const res = await app.inject({ method: 'POST', url: '/v1/search', payload: body });
      assert.equal(res.statusCode, 200, `${JSON.stringify(body).slice(0, 300)} → ${res.body.slice(0, 300)}`);
      const out = res.json() as { hits?: Hit[]; groups?: Array<{ hits: Hit[] }> };
      const hits = out.hits ?? out.groups!.flatMap((g) => g.hits);
      assert.ok((out.hits ?? out.groups)!.length <= (body.limit as number));
      const f = body.filter as { product_id?: string } | undefined;
      for (const hit of hits) {
        if (body.with_payload === false) {
          assert.equal(hit.payload, undefined);
          continue;
        }
        if (body.modality === 'image' || body.modality === 'text') assert.equal(hit.payload?.modality, body.modality);
        if (f?.product_id) assert.equal(hit.payload?.product_id, f.product_id);
      }
      if (out.groups) for (const g of out.groups) assert.ok(g.hits.length <= ((body.group_size as number | undefined) ?? 3));
    }),
    { numRuns: 80 },
  );
});

test('requests that break one rule answer 400 in the documented envelope, whatever else they hold', async () => {
  const broken = fc.oneof(...mutations.map(([name, m]) => fc.tuple(fc.constant(name), m))).chain(([name, m]) => validBody.map((b) => [name, m(b)] as const));
  await fc.assert(
    fc.asyncProperty(broken, async ([name, body]) => {
      const res = await app.inject({ method: 'POST', url: '/v1/search', payload: body });
      assert.ok(res.statusCode === 400 || res.statusCode === 413, `${name}: ${JSON.stringify(body).slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
      assertEnvelope(res);
    }),
    { numRuns: 300 },
  );
});

test('arbitrary JSON values and bytes never answer 5xx, and every refusal is in the envelope', async () => {
  const bodies = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom(...KNOWN, '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 3 })).map((v) => JSON.stringify(v)),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 200 }),
  );
  await fc.assert(
    fc.asyncProperty(bodies, async (payload) => {
      const res = await app.inject({ method: 'POST', url: '/v1/search', headers: { 'content-type': 'application/json' }, payload });
      assert.ok(res.statusCode < 500, `${String(payload).slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
      if (res.statusCode !== 200) assertEnvelope(res);
    }),
    { numRuns: 400 },
  );
});
