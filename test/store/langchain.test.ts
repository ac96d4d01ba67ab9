/**
 * LangChain.js's QdrantVectorStore (@langchain/qdrant) on the store, as a LangChain user would
 * set it up: documents in, similarity search with and without scores and filters, maximal
 * marginal relevance, deletion. Runs against a real Qdrant too with QDRANT_URL. The embedding
 * is a deterministic letter histogram, so expected neighbours are computed here exactly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Embeddings } from '@langchain/core/embeddings';
import { Document } from '@langchain/core/documents';
import { QdrantVectorStore } from '@langchain/qdrant';
import { startTestStore, type TestStore } from '../support/store.ts';

/** 26 letter counts: similar spellings, similar vectors. */
class LetterEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  embed(text: string): number[] {
    const v: number[] = new Array<number>(26).fill(0);
    for (const ch of text.toLowerCase()) {
      const c = ch.charCodeAt(0) - 97;
      if (c >= 0 && c < 26) v[c]! += 1;
    }
    if (Math.max(...v) === 0) v[0] = 1;
    return v;
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.embed(t));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.embed(text);
  }
}

const TEXTS = [
  ['red leather handbag', { kind: 'bag', n: 1 }],
  ['red leather handbags', { kind: 'bag', n: 2 }],
  ['blue canvas backpack', { kind: 'bag', n: 3 }],
  ['walnut writing desk', { kind: 'furniture', n: 4 }],
  ['oak writing desk', { kind: 'furniture', n: 5 }],
  ['green garden chair', { kind: 'furniture', n: 6 }],
] as const;

const emb = new LetterEmbeddings();
const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
  return dot / (Math.hypot(...a) * Math.hypot(...b));
};
const ranked = (query: string, texts: readonly string[]) => [...texts].sort((x, y) => cosine(emb.embed(y), emb.embed(query)) - cosine(emb.embed(x), emb.embed(query)));

let ts: TestStore;
let store: QdrantVectorStore;

before(async () => {
  ts = await startTestStore();
  store = await QdrantVectorStore.fromTexts(
    TEXTS.map(([t]) => t),
    TEXTS.map(([, m]) => ({ ...m })),
    emb,
    { client: ts.client, collectionName: ts.name('langchain_docs') },
  );
});
after(async () => {
  await ts.close();
});

describe('LangChain QdrantVectorStore on the store', () => {
  it('similaritySearch returns the nearest documents with their metadata', async () => {
    const docs = await store.similaritySearch('red leather bag', 3);
    assert.deepEqual(docs.map((d) => d.pageContent), ranked('red leather bag', TEXTS.map(([t]) => t)).slice(0, 3));
    assert.deepEqual(docs[0]!.metadata.kind, 'bag');
    assert.equal(typeof docs[0]!.id, 'string');
  });

  it('similaritySearchWithScore gives cosine similarities, and filters on metadata', async () => {
    const hits = await store.similaritySearchWithScore('writing desk', 2);
    for (const [doc, score] of hits) assert.ok(Math.abs(score - cosine(emb.embed(doc.pageContent), emb.embed('writing desk'))) < 1e-5, doc.pageContent);
    const furniture = TEXTS.filter(([, m]) => m.kind === 'furniture').map(([t]) => t);
    const filtered = await store.similaritySearch('red leather bag', 2, { must: [{ key: 'metadata.kind', match: { value: 'furniture' } }] });
    assert.deepEqual(filtered.map((d) => d.pageContent), ranked('red leather bag', furniture).slice(0, 2));
  });

  it('maxMarginalRelevanceSearch skips the near-duplicate a plain search returns', async () => {
    const plain = await store.similaritySearch('red leather handbag', 2);
    assert.deepEqual(plain.map((d) => d.pageContent).sort(), ['red leather handbag', 'red leather handbags']);
    // LangChain passes `lambda` through as Qdrant's `diversity` (1 = most diverse).
    const diverse = await store.maxMarginalRelevanceSearch('red leather handbag', { k: 2, fetchK: 6, lambda: 0.9 });
    assert.equal(diverse.length, 2);
    assert.equal(diverse[0]!.pageContent, 'red leather handbag');
    assert.notEqual(diverse[1]!.pageContent, 'red leather handbags');
  });

  it('adds and deletes documents by id', async () => {
    const id = '5f1a1f5e-8a6b-4c6e-9e1e-2b7d9b0c0a01';
    await store.addDocuments([new Document({ id, pageContent: 'zzz unique zebra', metadata: { kind: 'other' } })]);
    let [top] = await store.similaritySearch('zzz zebra', 1);
    assert.equal(top!.pageContent, 'zzz unique zebra');
    await store.delete({ ids: [id] });
    [top] = await store.similaritySearch('zzz zebra', 1);
    assert.notEqual(top!.pageContent, 'zzz unique zebra');
  });
});
