/**
 * A small multilingual catalogue for query tests: every product is a colour × category, with
 * one drawn image (a file on disk, like a local-folder source) and titles in a few languages
 * (text records with fields). Points are built and upserted through the store adapter, the way
 * the ingest pipeline writes them, but without the pipeline so these tests depend on less.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { ImageObject, TextRecord } from '../../../shared/catalogue/types.ts';
import type { ClipEncoder } from '../../../shared/encoder/index.ts';
import { documentOf, LexicalAnalyser, type LexicalPart } from '../../../shared/lexical/index.ts';
import { imageKeyText, recordLexicalText, recordVector } from '../../../shared/pipeline/lexical.ts';
import { buildPoint, type CataloguePoint } from '../../../shared/store/points.ts';
import { ensureCollection } from '../../../shared/store/schema.ts';
import { BatchUpserter } from '../../../shared/store/upserter.ts';
import { conceptPhrase, type Language } from '../../../scripts/test-model/concepts.ts';
import { drawProductImage } from '../../../scripts/test-model/draw.ts';

export interface Product {
  id: string;
  colour: string;
  category: string;
  price: number;
  sku: string;
  /** Point id of the product's image. */
  imagePointId: string;
  imagePath: string;
  imageBytes: Buffer;
  /** Point ids of its text records by language. */
  textPointIds: Partial<Record<Language, string>>;
}

export const COLOURS = ['red', 'blue', 'green', 'yellow', 'black'] as const;
export const CATEGORIES = ['shoe', 'bag', 'hat', 'cup'] as const;
/** Each product gets English plus two more languages, rotating, so every language has products. */
const EXTRA_LANGS: Language[] = ['de', 'fr', 'ja', 'es', 'zh', 'it'];

/** Each product's SKU: a code of letters and digits, which the test model's vectors know nothing of. */
export function productSku(n: number): string {
  return `CS-${1000 + n * 7}${'ABCDEFGHJK'[n % 10]}`;
}

export function productId(colour: string, category: string): string {
  return `${colour}-${category}`;
}

export interface SeededCatalogue {
  products: Product[];
  points: number;
  byId: Map<string, Product>;
}

export async function seedCatalogue(opts: {
  client: QdrantClient;
  storeUrl: string;
  collection: string;
  encoder: ClipEncoder;
  dims: readonly number[];
  imageDir: string;
}): Promise<SeededCatalogue> {
  const { client, encoder, dims } = opts;
  await ensureCollection(client, {
    alias: opts.collection,
    dims,
    model: encoder.model.modelId,
    payloadIndexes: [
      { field: 'fields.colour', type: 'keyword' },
      { field: 'fields.price', type: 'float' },
    ],
  });
  mkdirSync(opts.imageDir, { recursive: true });
  const products: Product[] = [];
  const points: Promise<CataloguePoint>[] = [];
  const build = { model: encoder.model.modelId, dims };
  // `lex` vectors as the pipeline makes them (default analyser and lexical fields).
  const lexical = { analyser: new LexicalAnalyser(), fields: [] as string[] };
  let n = 0;
  for (const colour of COLOURS) {
    for (const category of CATEGORIES) {
      const id = productId(colour, category);
      const imageBytes = await drawProductImage({ colour, category, seed: n, width: 160, height: 160 });
      const imagePath = path.join(opts.imageDir, `${id}.png`);
      writeFileSync(imagePath, imageBytes);
      const image: ImageObject = {
        kind: 'image',
        sourceUri: pathToFileURL(imagePath).href,
        version: createHash('sha256').update(imageBytes).digest('hex'),
        bytes: imageBytes.length,
        contentType: 'image/png',
        productId: id,
      };
      const price = 10 + n * 5;
      const langs: Language[] = ['en', EXTRA_LANGS[n % EXTRA_LANGS.length]!, EXTRA_LANGS[(n + 3) % EXTRA_LANGS.length]!];
      const product: Product = { id, colour, category, price, sku: productSku(n), imagePointId: '', imagePath, imageBytes, textPointIds: {} };
      const productTexts: LexicalPart[] = [];
      const sku = productSku(n);
      for (const lang of langs) {
        const title = conceptPhrase(colour, category, lang);
        const record: TextRecord = {
          kind: 'text',
          sourceUri: `record:test/${id}-${lang}`,
          version: createHash('sha256').update(title).digest('hex'),
          recordId: `${id}-${lang}`,
          text: title,
          lang,
          productId: id,
          fields: { title, colour, category, price, sku },
        };
        productTexts.push(...recordLexicalText(record, lexical.fields).parts);
        const lex = recordVector(record, lexical).vector;
        points.push(encoder.encodeText({ text: title, item: record.sourceUri }).then((v) => buildPoint(record, v, { ...build, lex })));
      }
      const imageLex = documentOf(lexical.analyser, [{ text: imageKeyText(image.sourceUri) }, ...productTexts]);
      points.push(encoder.encodeImage({ bytes: imageBytes, item: image.sourceUri }).then((v) => buildPoint(image, v, { ...build, lex: imageLex })));
      products.push(product);
      n++;
    }
  }
  const built = await Promise.all(points);
  for (const p of built) {
    const product = products.find((x) => x.id === p.payload.product_id)!;
    if (p.payload.modality === 'image') product.imagePointId = p.id;
    else product.textPointIds[p.payload.lang as Language] = p.id;
  }
  const upserter = new BatchUpserter(client, { collection: opts.collection, storeUrl: opts.storeUrl, batchSize: 64 });
  await Promise.all(built.map((p) => upserter.add(p)));
  await upserter.close();
  return { products, points: built.length, byId: new Map(products.map((p) => [p.id, p])) };
}
