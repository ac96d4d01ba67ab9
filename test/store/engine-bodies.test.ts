/**
 * The engine called directly (no HTTP, no server-side validation in front): every entry point
 * given a malformed body answers a StoreError with Qdrant's status for it, never a TypeError or
 * another crash from inside.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Store } from '../../services/store/engine/store.ts';
import { StoreError } from '../../services/store/engine/errors.ts';

let dir: string;
let store: Store;
const WAIT = { wait: true };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-bodies-'));
  store = Store.open(dir);
  store.createCollection('c', { vectors: { v: { size: 2, distance: 'Dot' } }, sparse_vectors: { s: { modifier: 'idf' } } });
  await store.upsert('c', { points: [{ id: 1, vector: { v: [1, 0], s: { indices: [1], values: [1] } }, payload: { a: 1 } }] }, WAIT);
});
after(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Call = [string, (body: unknown) => unknown];
const calls: Call[] = [
  ['upsert', (b) => store.upsert('c', b, WAIT)],
  ['deletePoints', (b) => store.deletePoints('c', b, WAIT)],
  ['setPayload', (b) => store.setPayload('c', b, WAIT, false)],
  ['overwritePayload', (b) => store.setPayload('c', b, WAIT, true)],
  ['deletePayload', (b) => store.deletePayload('c', b, WAIT)],
  ['clearPayload', (b) => store.clearPayload('c', b, WAIT)],
  ['updateVectors', (b) => store.updateVectors('c', b, WAIT)],
  ['deleteVectors', (b) => store.deleteVectors('c', b, WAIT)],
  ['batch', (b) => store.batch('c', b, WAIT)],
  ['retrieve', (b) => store.retrieve('c', b)],
  ['scroll', (b) => store.scroll('c', b)],
  ['count', (b) => store.count('c', b)],
  ['query', (b) => store.query('c', b)],
  ['queryBatch', (b) => store.queryBatch('c', b)],
  ['queryGroups', (b) => store.queryGroups('c', b)],
  ['search', (b) => store.search('c', b)],
  ['recommend', (b) => store.recommend('c', b)],
  ['discover', (b) => store.discover('c', b)],
  ['facet', (b) => store.facet('c', b)],
  ['matrixPairs', (b) => store.matrixPairs('c', b)],
  ['createIndex', (b) => store.createIndex('c', b, WAIT)],
  ['updateCollection', (b) => store.updateCollection('c', b)],
  ['updateAliases', (b) => store.updateAliases(b)],
];

async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return null;
  } catch (err) {
    return err;
  }
}

describe('engine entry points given malformed bodies', () => {
  const bad: unknown[] = [
    null,
    5,
    'text',
    [],
    { points: 'x' },
    { points: [{ id: -1, vector: { v: [1, 0] } }] },
    { points: [{ id: 2, vector: { v: 'x' } }] },
    { points: [{ id: 2, vector: { s: { indices: [1, 1], values: [1, 2] } } }] },
    { points: [{ id: 2, vector: { s: { indices: [1], values: [1, 2] } } }] },
    { ids: null },
    { ids: [{}] },
    { filter: 7 },
    { filter: { must: [{ key: 5 }] } },
    { query: { nearest: { indices: 'x' } }, using: 's' },
    { query: { fusion: 'nope' } },
    { vector: { name: 'v' } },
    { operations: [{ upsert: 5 }] },
    { keys: 'a', points: [1] },
    { key: 3 },
    { actions: 'x' },
  ];

  for (const [name, call] of calls) {
    it(`${name}: a StoreError (400/404/422), never a TypeError`, async () => {
      for (const body of bad) {
        const err = await outcome(() => call(body));
        if (err === null) continue; // some bodies are valid for some calls ({ids: [...]} is a fine filter-less count)
        assert.ok(err instanceof StoreError, `${name}(${JSON.stringify(body)}) threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
        assert.ok([400, 404, 422].includes(err.status), `${name}(${JSON.stringify(body)}) answered ${err.status}`);
      }
    });
  }

  it('random JSON values as bodies never crash an entry point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...calls), fc.jsonValue({ maxDepth: 4 }), async ([name, call], body) => {
        const err = await outcome(() => call(body));
        if (err !== null && !(err instanceof StoreError)) throw new Error(`${name}(${JSON.stringify(body)}) threw ${(err as Error).name}: ${(err as Error).message}`);
        if (err instanceof StoreError) assert.ok(err.status < 500, `${name}(${JSON.stringify(body)}) answered ${err.status}: ${err.message}`);
      }),
      { numRuns: 400 },
    );
  });
});
