/**
 * Generates the bundled sample catalogue in examples/catalogue/ (deterministic):
 *   products/<product id>/front.jpg   one drawn product photo per product
 *   records.jsonl                     the product's title in eight languages, one record per language
 * Colours and categories come from the test model's concepts, so the test model can tell them apart;
 * with the real jina-clip-v2 the same catalogue is simply a small multilingual shop.
 *
 *   node --import tsx scripts/make-catalogue.ts [--out examples/catalogue] [--products 72]
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CATEGORIES, COLOURS, conceptPhrase, type Language } from './test-model/concepts.ts';
import { drawProductImage } from './test-model/draw.ts';

export const CATALOGUE_LANGUAGES: readonly Language[] = ['en', 'de', 'fr', 'es', 'it', 'ja', 'zh', 'ru'];

export interface SampleProduct {
  productId: string;
  colour: string;
  category: string;
  price: number;
}

/** The products of the sample catalogue: distinct colour × category pairs, spread evenly. */
export function sampleProducts(count: number): SampleProduct[] {
  const products: SampleProduct[] = [];
  const pairs = COLOURS.length * CATEGORIES.length;
  if (count > pairs) throw new RangeError(`at most ${pairs} distinct products`);
  // Walk the grid with a stride coprime to its size so any prefix covers colours and categories evenly.
  const stride = 7;
  for (let i = 0; products.length < count; i++) {
    const k = (i * stride) % pairs;
    const colour = COLOURS[k % COLOURS.length]!.id;
    const category = CATEGORIES[Math.floor(k / COLOURS.length)]!.id;
    const n = products.length + 1;
    products.push({ productId: `P${String(n).padStart(3, '0')}`, colour, category, price: 5 + ((n * 37) % 200) });
  }
  return products;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'examples/catalogue' }, products: { type: 'string', default: '72' } } });
  const out = path.resolve(values.out!);
  const products = sampleProducts(Number(values.products));
  await rm(path.join(out, 'products'), { recursive: true, force: true });
  const lines: string[] = [];
  for (const [i, p] of products.entries()) {
    const dir = path.join(out, 'products', p.productId);
    await mkdir(dir, { recursive: true });
    const image = await drawProductImage({ colour: p.colour, category: p.category, width: 320, height: 240, seed: i + 1, format: 'jpeg', quality: 85 });
    await writeFile(path.join(dir, 'front.jpg'), image);
    for (const lang of CATALOGUE_LANGUAGES) {
      lines.push(JSON.stringify({
        id: `${p.productId}-${lang}`,
        text: conceptPhrase(p.colour, p.category, lang),
        lang,
        product_id: p.productId,
        colour: p.colour,
        category: p.category,
        price_eur: p.price,
      }));
    }
  }
  await writeFile(path.join(out, 'records.jsonl'), lines.join('\n') + '\n');
  process.stdout.write(`wrote ${products.length} products (${lines.length} records, ${CATALOGUE_LANGUAGES.length} languages) to ${out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
