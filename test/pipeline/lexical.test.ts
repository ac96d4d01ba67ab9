/**
 * `lex` vectors at ingestion, against the embedded store: a record's from its lexical fields, an
 * image's from its key and its product's records (whichever arrives first), a changed record
 * changes both, and a lexical field that is not a string is left out and reported.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LexicalAnalyser, termId } from '../../shared/lexical/index.ts';
import { imageKeyText, recordLexicalText } from '../../shared/pipeline/lexical.ts';
import { openPipeline, type Pipeline } from '../../shared/pipeline/index.ts';
import { pointId } from '../../shared/store/ids.ts';
import { startTestStore, type TestStore } from '../support/store.ts';
import { FakeEncoder, imageObject, textRecord } from './fakes.ts';
import { testConfig } from './harness.ts';

let store: TestStore;
let pipeline: Pipeline;

before(async () => {
  store = await startTestStore();
  const config = testConfig({ QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('lex') });
  pipeline = await openPipeline(config, {
    encoder: new FakeEncoder(),
    store,
    fetchBytes: async () => ({ bytes: new Uint8Array([1, 2, 3]) }),
  });
});

after(async () => {
  await pipeline?.close();
  await store?.close();
});

async function lexOf(id: string): Promise<{ indices: number[]; values: number[] }> {
  const [p] = await store.client.retrieve(pipeline.collection, { ids: [id], with_vector: ['lex'], with_payload: false });
  return (p!.vector as { lex: { indices: number[]; values: number[] } }).lex;
}

const has = (v: { indices: number[] }, term: string) => v.indices.includes(termId(term));

test('the lexical text of a record: its text and other string fields, once each; listed non-strings reported', () => {
  const record = { text: 'Arizona sandal\nSoft footbed', lang: 'en', fields: { title: 'Arizona sandal', brand: 'Birkenstock', size: 42, sku: 'BK-ARZ-42' } };
  assert.deepEqual(recordLexicalText(record, []).parts.map((p) => p.text), ['Arizona sandal\nSoft footbed', 'Birkenstock', 'BK-ARZ-42']);
  const listed = recordLexicalText(record, ['title', 'size', 'sku']);
  assert.deepEqual(listed.parts.map((p) => p.text), ['Arizona sandal', 'BK-ARZ-42']);
  assert.deepEqual(listed.problems, ['lexical field size is a number, not a string: indexed without it']);
  assert.equal(imageKeyText('s3://shop/products/wh-1000xm5/front_view.jpg'), 'products wh-1000xm5 front view');
});

test('an image stored before its product\'s records gets their words once they are stored; an edit changes both', async () => {
  const image = imageObject('products/P9/front.jpg', new Uint8Array([1, 2, 3]), { productId: 'P9' });
  assert.equal((await pipeline.processor.process(image)).status, 'indexed');
  let imageLex = await lexOf(pointId(image.sourceUri));
  assert.ok(has(imageLex, 'front') && has(imageLex, 'p9'), 'key words');
  assert.ok(!has(imageLex, 'sony'));

  const record = textRecord('P9-en', 'Sony WH-1000XM5 headphones', { lang: 'en', productId: 'P9', fields: { brand: 'Sony', colour: 7 } });
  const outcome = await pipeline.processor.process(record);
  assert.equal(outcome.status, 'indexed');
  const recordLex = await lexOf(pointId(record.sourceUri));
  assert.ok(has(recordLex, 'wh1000xm5') && has(recordLex, 'headphon') && has(recordLex, 'soni'));
  imageLex = await lexOf(pointId(image.sourceUri));
  assert.ok(has(imageLex, 'wh1000xm5') && has(imageLex, 'front'), 'the image now carries its product\'s words');

  const edited = textRecord('P9-en', 'Bose QC45 headphones', { lang: 'en', productId: 'P9' });
  await pipeline.processor.process(edited);
  const editedLex = await lexOf(pointId(record.sourceUri));
  assert.ok(has(editedLex, 'qc45') && !has(editedLex, 'wh1000xm5'));
  imageLex = await lexOf(pointId(image.sourceUri));
  assert.ok(has(imageLex, 'qc45') && !has(imageLex, 'wh1000xm5'));

  // A new image of a product whose records are stored gets their words straight away.
  const back = imageObject('products/P9/back.jpg', new Uint8Array([4, 5, 6]), { productId: 'P9' });
  await pipeline.processor.process(back);
  assert.ok(has(await lexOf(pointId(back.sourceUri)), 'qc45'));
});

test('a listed lexical field that is not a string is indexed without it and reported', async () => {
  const config = testConfig({ QDRANT_URL: store.url, QDRANT_COLLECTION: store.name('lex-fields'), LEXICAL_FIELDS: 'text,sku' });
  const p = await openPipeline(config, { encoder: new FakeEncoder(), store, fetchBytes: async () => ({ bytes: new Uint8Array([1]) }) });
  try {
    const record = textRecord('r1', 'blue chair', { lang: 'en', fields: { sku: 12345 } });
    const outcome = await p.processor.process(record);
    assert.equal(outcome.status, 'indexed');
    assert.ok(outcome.status === 'indexed' && outcome.warnings?.[0]?.includes('lexical field sku is a number'));
  } finally {
    await p.close();
  }
});

test('a text of stop words only is stored with an empty lex vector', async () => {
  const record = textRecord('stop', 'the of and', { lang: 'en' });
  assert.equal((await pipeline.processor.process(record)).status, 'indexed');
  const lex = await lexOf(pointId(record.sourceUri));
  assert.deepEqual(lex.indices, []);
  assert.deepEqual(new LexicalAnalyser().document('the of and', 'en').indices, []);
});
