/**
 * Contract suite, re-scoring queries (runs against a real Qdrant too with QDRANT_URL): formula
 * queries (score boosting), MMR diversity, context search and random sampling, with expected
 * scores computed from Qdrant's documented definitions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let n: (base: string) => string;

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  n = ts.name;
});
after(async () => {
  await ts.close();
});

const close = (actual: number, expected: number, what = 'score') => assert.ok(Math.abs(actual - expected) < 1e-4, `${what}: expected ${expected}, got ${actual}`);
const ids = (points: Array<{ id: string | number }>) => points.map((p) => p.id);

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const e = err as { status?: number; data?: { status?: { error?: string } } };
    assert.ok((e.status ?? 0) >= 400 && (e.status ?? 0) < 500, `status ${e.status}`);
    assert.match(e.data?.status?.error ?? '', pattern);
    return;
  }
  assert.fail('expected a 4xx answer');
}

describe('formula queries', () => {
  const name = () => n('formula');
  const rows: Array<[number, number[], Record<string, unknown>]> = [
    [1, [1, 0], { shop: 'a', boost: 2, price: 10, at: '2025-01-01T00:00:00Z' }],
    [2, [0.2, 1], { shop: 'b', price: 20, at: '2025-01-03T00:00:00Z' }],
    [3, [0.9, 0.1], { shop: 'a', price: [14, 99], at: '2025-01-02T00:00:00Z' }],
    [4, [0.5, 0.5], { shop: 'b', price: 12, at: '2025-01-01T12:00:00Z' }],
  ];
  const dense = new Map(rows.map(([id, v]) => [id, v[0]!])); // the prefetch query [1, 0] scores each point by its first component
  const payload = new Map(rows.map(([id, , p]) => [id, p]));
  before(async () => {
    await client.createCollection(name(), { vectors: { d: { size: 2, distance: 'Dot' } } });
    await client.upsert(name(), { wait: true, points: rows.map(([id, d, p]) => ({ id, vector: { d }, payload: p })) });
  });
  const prefetch = { query: [1, 0], using: 'd', limit: 4 };
  const expectOrder = (points: Array<{ id: string | number; score: number }>, f: (id: number) => number) => {
    const want = [...dense.keys()].map((id) => [id, f(id)] as const).sort((a, b) => b[1] - a[1]);
    assert.deepEqual(ids(points), want.map(([id]) => id));
    points.forEach((p, i) => close(p.score, want[i]![1], `score of ${p.id}`));
  };

  it('$score plus a condition weighted by a constant', async () => {
    const res = await client.query(name(), { prefetch, query: { formula: { sum: ['$score', { mult: [0.6, { key: 'shop', match: { value: 'b' } }] }] } } });
    expectOrder(res.points, (id) => dense.get(id)! + (payload.get(id)!.shop === 'b' ? 0.6 : 0));
  });

  it('payload values with defaults, division, powers and logarithms', async () => {
    const res = await client.query(name(), {
      prefetch,
      query: { formula: { sum: [{ mult: ['$score', 'boost'] }, { div: { left: { ln: 'price' }, right: { pow: { base: 10, exponent: 1 } } } }, { sqrt: 4 }, { abs: { neg: { log10: 100 } } }] }, defaults: { boost: 1 } },
    });
    const price = (id: number) => { const p = payload.get(id)!.price; return Array.isArray(p) ? p[0] : (p as number); };
    expectOrder(res.points, (id) => dense.get(id)! * ((payload.get(id)!.boost as number | undefined) ?? 1) + Math.log(price(id)) / 10 + 2 + 2);
  });

  it('decay functions over a payload number and over datetimes', async () => {
    const res = await client.query(name(), {
      prefetch,
      query: { formula: { sum: [{ lin_decay: { x: 'price', target: 10, scale: 5, midpoint: 0.5 } }, { exp_decay: { x: 'price', target: 10, scale: 5 } }, { gauss_decay: { x: { datetime_key: 'at' }, target: { datetime: '2025-01-01T00:00:00Z' }, scale: 86400, midpoint: 0.25 } }] } },
    });
    const price = (id: number) => { const p = payload.get(id)!.price; return Array.isArray(p) ? p[0] : (p as number); };
    const lin = (x: number) => Math.max(0, 1 - (0.5 * Math.abs(x - 10)) / 5);
    const exp = (x: number) => Math.exp((Math.log(0.5) * Math.abs(x - 10)) / 5);
    const days = (id: number) => (Date.parse(payload.get(id)!.at as string) - Date.parse('2025-01-01T00:00:00Z')) / 86400_000;
    const gauss = (id: number) => Math.exp(Math.log(0.25) * days(id) ** 2);
    expectOrder(res.points, (id) => lin(price(id)) + exp(price(id)) + gauss(id));
  });

  it('a variable missing from payload and defaults is refused, naming it', async () => {
    await rejects(client.query(name(), { prefetch, query: { formula: { mult: ['$score', 'no_such_field'] } } }), /no_such_field/);
  });
});

describe('MMR, context search and sampling', () => {
  const name = () => n('diversity');
  // Two near-duplicates close to the query and one point off to the side.
  const rows: Array<[number, number[]]> = [
    [1, [1, 0.4]],
    [2, [1, 0.42]],
    [3, [0.2, 1]],
    [4, [-1, 0.1]],
  ];
  const norm = (v: number[]) => { const l = Math.hypot(...v); return v.map((x) => x / l); };
  const cos = (a: number[], b: number[]) => norm(a).reduce((s, x, i) => s + x * norm(b)[i]!, 0);
  before(async () => {
    await client.createCollection(name(), { vectors: { v: { size: 2, distance: 'Cosine' } } });
    await client.upsert(name(), { wait: true, points: rows.map(([id, v]) => ({ id, vector: { v } })) });
  });

  it('MMR trades relevance for diversity and keeps the query scores', async () => {
    const q = [1, 0.5];
    const plain = await client.query(name(), { query: q, using: 'v', limit: 2 });
    assert.deepEqual(ids(plain.points).sort(), [1, 2], 'the near-duplicates are the plain top 2');
    const res = await client.query(name(), { query: { nearest: q, mmr: { diversity: 0.9, candidates_limit: 3 } }, using: 'v', limit: 2 });
    // Among the 3 most relevant candidates: first the most relevant; then argmax of
    // 0.1·relevance − 0.9·similarity to it.
    const vec = new Map(rows.slice(0, 3));
    const first = [...vec.keys()].sort((a, b) => cos(vec.get(b)!, q) - cos(vec.get(a)!, q))[0]!;
    const second = [...vec.keys()].filter((id) => id !== first).sort((a, b) => {
      const m = (id: number) => 0.1 * cos(vec.get(id)!, q) - 0.9 * cos(vec.get(id)!, vec.get(first)!);
      return m(b) - m(a);
    })[0]!;
    assert.deepEqual(ids(res.points), [first, second]);
    assert.equal(second, 3);
    close(res.points[1]!.score, cos(vec.get(3)!, q), 'the returned score is the similarity to the query');
  });

  it('context search: the sum over pairs of min(0, sigmoid(sim(+) − sim(−))), best first', async () => {
    const res = await client.query(name(), { query: { context: [{ positive: [1, 0], negative: [0, 1] }] }, using: 'v', limit: 4 });
    const vec = new Map(rows);
    const loss = (id: number) => { const d = cos(vec.get(id)!, [1, 0]) - cos(vec.get(id)!, [0, 1]); return Math.min(0, d / (1 + Math.abs(d))); };
    const zeros = [1, 2].sort();
    assert.deepEqual(ids(res.points).slice(0, 2).sort(), zeros, 'points closer to the positive lose nothing');
    close(res.points[0]!.score, 0);
    assert.deepEqual(ids(res.points).slice(2), [3, 4].sort((a, b) => loss(b) - loss(a)));
    close(res.points[3]!.score, Math.min(loss(3), loss(4)));
  });

  it('sample: random distinct points passing the filter', async () => {
    const res = await client.query(name(), { query: { sample: 'random' }, limit: 3, filter: { must_not: [{ has_id: [4] }] } });
    assert.deepEqual(ids(res.points).sort(), [1, 2, 3]);
  });
});
