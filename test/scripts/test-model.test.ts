/**
 * The committed test model (models/test-tiny): jina-clip-v2's exact signature, zero-row batches,
 * unit l2norm outputs, meaningful cross-lingual behaviour on drawn images, text→image ranking
 * that follows colour and category (not backdrops), Matryoshka-like truncation, and byte-identical
 * regeneration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { Tokenizer } from '@anush008/tokenizers';
import { CATEGORIES, COLOURS, LANGUAGES, conceptPhrase, type Language } from '../../scripts/test-model/concepts.ts';
import { drawProductImage, renderProductImage, type ProductImageSpec } from '../../scripts/test-model/draw.ts';
import { generateTestModel } from '../../scripts/test-model/files.ts';
import { IMAGE_MEAN, IMAGE_STD } from '../../scripts/test-model/graph.ts';
import { imageToPixelValues } from '../../scripts/test-model/pixels.ts';

const MODEL_DIR = fileURLToPath(new URL('../../models/test-tiny', import.meta.url));
const DIM = 1024;
const PLANE = 3 * 512 * 512;

const session = await ort.InferenceSession.create(path.join(MODEL_DIR, 'onnx/model.onnx'));
const tokenizer = Tokenizer.fromFile(path.join(MODEL_DIR, 'tokenizer.json'));
const noImages = () => new ort.Tensor('float32', new Float32Array(0), [0, 3, 512, 512]);
const noText = (batch: number) => new ort.Tensor('int64', new BigInt64Array(batch).fill(1n), [batch, 1]);

function rows(t: ort.Tensor): Float32Array[] {
  const [n, d] = t.dims as [number, number];
  const data = t.data as Float32Array;
  return Array.from({ length: n }, (_, i) => data.slice(i * d, (i + 1) * d));
}

async function runText(texts: string[]): Promise<Record<string, ort.Tensor>> {
  const encodings = await Promise.all(texts.map((t) => tokenizer.encode(t)));
  const seq = Math.max(...encodings.map((e) => e.getLength()));
  const ids = new BigInt64Array(texts.length * seq).fill(1n);
  encodings.forEach((e, i) => e.getIds().forEach((id, j) => (ids[i * seq + j] = BigInt(id))));
  return session.run({ input_ids: new ort.Tensor('int64', ids, [texts.length, seq]), pixel_values: noImages() });
}

async function embedTexts(texts: string[]): Promise<Float32Array[]> {
  return rows((await runText(texts)).l2norm_text_embeddings!);
}

async function runImages(pngs: Buffer[]): Promise<Record<string, ort.Tensor>> {
  const pixels = new Float32Array(pngs.length * PLANE);
  for (const [i, png] of pngs.entries()) pixels.set(await imageToPixelValues(png), i * PLANE);
  return session.run({ input_ids: noText(pngs.length), pixel_values: new ort.Tensor('float32', pixels, [pngs.length, 3, 512, 512]) });
}

/** Cosine of the first k dims, i.e. after Matryoshka truncation and re-normalisation. */
function cosine(a: Float32Array, b: Float32Array, k = DIM): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < k; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function nearest(query: Float32Array, candidates: Float32Array[], k = DIM): number {
  let best = -1;
  let bestScore = -Infinity;
  candidates.forEach((c, i) => {
    const s = cosine(query, c, k);
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  });
  return best;
}

// One image per colour (categories rotate, so colour is recognised whatever the shape) and one
// per category (colours rotate), with seeds, sizes and formats varying as in a catalogue.
const colourImages = rows(
  (
    await runImages(
      await Promise.all(
        COLOURS.map((c, i) =>
          drawProductImage({
            colour: c.id,
            category: CATEGORIES[i % CATEGORIES.length]!.id,
            seed: 100 + i,
            width: i % 2 ? 640 : 512,
            height: i % 3 ? 512 : 400,
            format: i % 2 ? 'jpeg' : 'png',
          }),
        ),
      ),
    )
  ).l2norm_image_embeddings!,
);
const categoryImages = rows(
  (
    await runImages(
      await Promise.all(
        CATEGORIES.map((k, i) => drawProductImage({ colour: COLOURS[(i * 3) % COLOURS.length]!.id, category: k.id, seed: 200 + i })),
      ),
    )
  ).l2norm_image_embeddings!,
);

test('signature: input and output names, order, element types and symbolic dims match jina-clip-v2', async () => {
  assert.deepEqual(session.inputNames, ['input_ids', 'pixel_values']);
  assert.deepEqual(session.outputNames, ['text_embeddings', 'image_embeddings', 'l2norm_text_embeddings', 'l2norm_image_embeddings']);
  const inputs = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = session.outputMetadata;
  assert.ok(inputs.input_ids?.isTensor && inputs.pixel_values?.isTensor);
  assert.equal(inputs.input_ids.type, 'int64');
  assert.deepEqual(inputs.input_ids.shape, ['text_batch', 'sequence']);
  assert.equal(inputs.pixel_values.type, 'float32');
  assert.deepEqual(inputs.pixel_values.shape, ['image_batch', 3, 512, 512]);
  const expectedBatch = ['text_batch', 'image_batch', 'text_batch', 'image_batch'];
  outputs.forEach((m, i) => {
    assert.ok(m.isTensor);
    assert.equal(m.type, 'float32', m.name);
    assert.deepEqual(m.shape, [expectedBatch[i], DIM], m.name);
  });
});

test('text-only call with a zero-row pixel_values, image-only call with ones [B,1] input_ids', async () => {
  const text = await runText(['red shoes', 'rote Schuhe', '赤い靴']);
  assert.deepEqual(text.text_embeddings!.dims, [3, DIM]);
  assert.deepEqual(text.image_embeddings!.dims, [0, DIM]);
  assert.deepEqual(text.l2norm_image_embeddings!.dims, [0, DIM]);
  assert.equal(text.text_embeddings!.type, 'float32');

  const images = await runImages([await drawProductImage({ colour: 'red', category: 'shoe' }), await drawProductImage({ colour: 'blue', category: 'bag' })]);
  assert.deepEqual(images.image_embeddings!.dims, [2, DIM]);
  assert.deepEqual(images.text_embeddings!.dims, [2, DIM]);
  assert.notDeepEqual(rows(images.image_embeddings!)[0], rows(images.image_embeddings!)[1]);
});

test('pad positions (id 1) are masked: padding a sequence does not change its embedding', async () => {
  const ids = (await tokenizer.encode('blaue Tasche')).getIds().map(BigInt);
  const run = async (row: bigint[]) =>
    rows((await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(row), [1, row.length]), pixel_values: noImages() })).text_embeddings!)[0]!;
  const plain = await run(ids);
  const padded = await run([...ids, 1n, 1n, 1n, 1n]);
  for (let i = 0; i < DIM; i++) assert.ok(Math.abs(plain[i]! - padded[i]!) < 1e-6);
});

test('l2norm outputs are the raw embeddings scaled to unit length', async () => {
  const out = await runText(['green cup', 'Represent the query for retrieving evidence documents: grüne Tasse']);
  const raw = rows(out.text_embeddings!);
  rows(out.l2norm_text_embeddings!).forEach((unit, r) => {
    let n = 0;
    for (const x of unit) n += x * x;
    assert.ok(Math.abs(Math.sqrt(n) - 1) < 1e-5, `row ${r} norm ${Math.sqrt(n)}`);
    assert.ok(cosine(unit, raw[r]!) > 0.99999);
  });
  for (const unit of categoryImages) {
    let n = 0;
    for (const x of unit) n += x * x;
    assert.ok(Math.abs(Math.sqrt(n) - 1) < 1e-5);
  }
});

const RETRIEVAL_LANGUAGES: Language[] = ['en', 'de', 'fr', 'es', 'ja', 'zh', 'ru', 'ar', 'ko'];

test('cross-lingual: each colour word is nearest to the image of that colour, at 1024 and 64 dims', async () => {
  for (const lang of RETRIEVAL_LANGUAGES) {
    const words = COLOURS.map((c) => c.words[lang][0]!);
    const embeddings = await embedTexts(words);
    embeddings.forEach((e, i) => {
      assert.equal(COLOURS[nearest(e, colourImages)]!.id, COLOURS[i]!.id, `${lang} "${words[i]}" at 1024 dims`);
      assert.equal(COLOURS[nearest(e, colourImages, 64)]!.id, COLOURS[i]!.id, `${lang} "${words[i]}" at 64 dims`);
    });
  }
});

test('cross-lingual: each category word is nearest to the image of that category, at 1024 and 64 dims', async () => {
  for (const lang of RETRIEVAL_LANGUAGES) {
    const words = CATEGORIES.map((c) => c.words[lang][0]!);
    const embeddings = await embedTexts(words);
    embeddings.forEach((e, i) => {
      assert.equal(CATEGORIES[nearest(e, categoryImages)]!.id, CATEGORIES[i]!.id, `${lang} "${words[i]}" at 1024 dims`);
      assert.equal(CATEGORIES[nearest(e, categoryImages, 64)]!.id, CATEGORIES[i]!.id, `${lang} "${words[i]}" at 64 dims`);
    });
  }
});

test('phrases in every language ("rote Schuhe", "赤い靴", …) find the matching product among look-alikes', async () => {
  const products = [
    { colour: 'red', category: 'shoe' },
    { colour: 'blue', category: 'shoe' },
    { colour: 'red', category: 'bag' },
    { colour: 'blue', category: 'bag' },
  ];
  const images = rows((await runImages(await Promise.all(products.map((p, i) => drawProductImage({ ...p, seed: 300 + i }))))).l2norm_image_embeddings!);
  for (const lang of LANGUAGES) {
    const phrases = products.map((p) => conceptPhrase(p.colour, p.category, lang));
    const embeddings = await embedTexts(phrases);
    embeddings.forEach((e, i) => assert.equal(nearest(e, images), i, `${lang}: "${phrases[i]}"`));
  }
  // The retrieval-query prefix dilutes the text but must not change what it finds.
  const [query] = await embedTexts(['Represent the query for retrieving evidence documents: chaussures rouges']);
  assert.equal(nearest(query!, images), 0);
});

/** 512×512 drawings straight to pixel_values (no codec or resize), so a sweep stays quick. */
async function embedDrawings(specs: ProductImageSpec[]): Promise<{ unit: Float32Array[]; raw: Float32Array[] }> {
  const pixels = new Float32Array(specs.length * PLANE);
  const plane = PLANE / 3;
  specs.forEach((spec, n) => {
    const { data } = renderProductImage({ ...spec, width: 512, height: 512 });
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) pixels[n * PLANE + c * plane + i] = (data[i * 3 + c]! / 255 - IMAGE_MEAN[c]!) / IMAGE_STD[c]!;
    }
  });
  const out = await session.run({ input_ids: noText(specs.length), pixel_values: new ort.Tensor('float32', pixels, [specs.length, 3, 512, 512]) });
  return { unit: rows(out.l2norm_image_embeddings!), raw: rows(out.image_embeddings!) };
}

test('text→image: a query ranks its own product first among every colour (10 seed sets) and every category, in 5 languages at 1024 and 64 dims', async () => {
  // Catalogue-like pools: one drawing per colour of one category (backgrounds vary: light products
  // sit on dark backdrops), and one per category of a light, mid or dark colour. A query must find
  // its product by colour and category, whatever the backdrops of the others.
  const pools: ProductImageSpec[][] = [];
  for (let set = 0; set < 10; set++) pools.push(COLOURS.map((c, i) => ({ colour: c.id, category: set < 7 ? 'bag' : 'shoe', seed: set * 101 + i })));
  for (const [n, colour] of ['white', 'grey', 'black', 'yellow'].entries()) {
    pools.push(CATEGORIES.map((k, i) => ({ colour, category: k.id, seed: 5000 + n * 37 + i })));
  }
  const languages: Language[] = ['en', 'de', 'ja', 'ar', 'ru'];
  const rawNorms: number[] = [];
  let checked = 0;
  let minMargin = Infinity;
  let worst = '';
  for (const pool of pools) {
    const { unit, raw } = await embedDrawings(pool);
    for (const r of raw) rawNorms.push(Math.sqrt(r.reduce((a, x) => a + x * x, 0)));
    for (const lang of languages) {
      const phrases = pool.map((p) => conceptPhrase(p.colour, p.category, lang));
      // Plain, and as the encoder sends a search query: its prefix's filler words dilute the text.
      const queries = await embedTexts([...phrases, ...phrases.map((p) => `Represent the query for retrieving evidence documents: ${p}`)]);
      for (const k of [DIM, 64]) {
        queries.forEach((q, n) => {
          const i = n % pool.length;
          const scores = unit.map((im) => cosine(q, im, k));
          const best = nearest(q, unit, k);
          const label = `${n < pool.length ? '' : 'query '}"${phrases[i]}" at ${k} dims (seed ${pool[i]!.seed})`;
          assert.equal(best, i, `${label} ranks a ${pool[best]!.colour} ${pool[best]!.category} first: ${scores[best]!.toFixed(3)} vs ${scores[i]!.toFixed(3)}`);
          const margin = scores[i]! - Math.max(...scores.filter((_, j) => j !== i));
          if (margin < minMargin) [minMargin, worst] = [margin, label];
          checked++;
        });
      }
    }
  }
  assert.equal(checked, pools.reduce((a, p) => a + p.length, 0) * languages.length * 2 * 2);
  // A clear winner, not a coin toss that happens to land right with these seeds.
  assert.ok(minMargin > 0.1, `smallest margin ${minMargin.toFixed(3)} for ${worst}`);
  // Every image carries its colour and category with the same weight, whatever its backdrop.
  const spread = Math.max(...rawNorms) / Math.min(...rawNorms);
  assert.ok(spread < 1.02, `image embedding norms vary by a factor ${spread.toFixed(3)}`);
});

test('Matryoshka-like: most of the energy sits in the first 64 dims, and more dims agree better with 1024', async () => {
  const [text] = rows((await runText(['red shoes'])).text_embeddings!);
  let head = 0;
  let total = 0;
  text!.forEach((x, i) => {
    total += x * x;
    if (i < 64) head += x * x;
  });
  assert.ok(head / total > 0.7, `first 64 dims hold ${(head / total).toFixed(2)} of the energy`);
  // Truncated similarities converge on the full one as dims grow.
  const full = cosine(text!, categoryImages[0]!);
  const err = (k: number) => Math.abs(cosine(text!, categoryImages[0]!, k) - full);
  assert.ok(err(256) <= err(32) + 1e-9);
});

test('regenerating the model gives byte-identical files; --heavy keeps the embeddings', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'clipstream-test-model-'));
  try {
    const written = await generateTestModel({ outDir: path.join(dir, 'same') });
    const committed = (await readdir(MODEL_DIR, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(MODEL_DIR, path.join(e.parentPath, e.name)))
      .sort();
    assert.deepEqual([...written].sort(), committed);
    for (const name of written) {
      const a = await readFile(path.join(MODEL_DIR, name));
      const b = await readFile(path.join(dir, 'same', name));
      assert.ok(a.equals(b), `${name} differs from the committed file: run npm run make:test-model`);
    }

    await generateTestModel({ outDir: path.join(dir, 'heavy'), heavy: 2 });
    const heavy = await ort.InferenceSession.create(path.join(dir, 'heavy', 'onnx/model.onnx'));
    const pixels = new Float32Array(PLANE);
    pixels.set(await imageToPixelValues(await drawProductImage({ colour: 'green', category: 'cup' })));
    const tokenIds = (await tokenizer.encode('grüne Tasse')).getIds().map(BigInt);
    const ids = new ort.Tensor('int64', BigInt64Array.from(tokenIds), [1, tokenIds.length]);
    const feeds = { input_ids: ids, pixel_values: new ort.Tensor('float32', pixels, [1, 3, 512, 512]) };
    const [light, heavyOut] = [await session.run(feeds), await heavy.run(feeds)];
    for (const name of ['l2norm_text_embeddings', 'l2norm_image_embeddings']) {
      const a = light[name]!.data as Float32Array;
      const b = heavyOut[name]!.data as Float32Array;
      let maxDiff = 0;
      let anyDiff = false;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        anyDiff ||= a[i] !== b[i];
      }
      assert.ok(maxDiff < 1e-5, `${name}: heavy blocks moved the embedding by ${maxDiff}`);
      assert.ok(anyDiff, `${name}: heavy blocks are not wired into the output`);
    }
    await heavy.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
