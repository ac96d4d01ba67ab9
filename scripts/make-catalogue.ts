/**
 * Generates the bundled sample catalogue in examples/catalogue/ (deterministic): a small shop.
 *   products/<product id>/front.jpg   one drawn product photo per product
 *   records.jsonl                     per product and language: title (brand, colour + category, model
 *                                     number), short description, brand, model, EAN, price; every
 *                                     fourth product is sold in English only
 *   queries.jsonl                     judged queries for `clipstream eval` (exact SKU/model number,
 *                                     brand + category, descriptive cross-lingual, misspelled, image)
 *   query-images/<product id>.jpg     other photos of some products, for the image queries
 * Colours and categories come from the test model's concepts, so the test model can tell them apart;
 * brands and codes are words it does not know, which only the lexical vectors can match. With the
 * real jina-clip-v2 the same catalogue is simply a small multilingual shop.
 *
 *   node --import tsx scripts/make-catalogue.ts [--out examples/catalogue] [--products 72]
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CATEGORIES, COLOURS, conceptPhrase, type Language } from './test-model/concepts.ts';
import { drawProductImage } from './test-model/draw.ts';

export const CATALOGUE_LANGUAGES: readonly Language[] = ['en', 'de', 'fr', 'es', 'it', 'ja', 'zh', 'ru'];

/** Fictional brands with the prefix of their model numbers. */
export const BRANDS: ReadonlyArray<{ name: string; code: string }> = [
  { name: 'Nordwind', code: 'NW' },
  { name: 'Kumo', code: 'KM' },
  { name: 'Alpenglow', code: 'AG' },
  { name: 'Castillo', code: 'CT' },
  { name: 'Hanami', code: 'HN' },
  { name: 'Brightline', code: 'BL' },
  { name: 'Veloura', code: 'VL' },
  { name: 'Tundra', code: 'TD' },
];

export interface SampleProduct {
  productId: string;
  colour: string;
  category: string;
  price: number;
  brand: string;
  /** Model number, e.g. `NW-1037X5`: letters and digits joined by a hyphen. */
  model: string;
  /** EAN-13 with a valid check digit. */
  ean: string;
  languages: readonly Language[];
}

function ean13(n: number): string {
  const body = `400${String(1_000_000_000 + n * 7_919_131).slice(-9)}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 1 : 3), 0);
  return body + String((10 - (sum % 10)) % 10);
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
    const brand = BRANDS[(n * 5) % BRANDS.length]!;
    const model = `${brand.code}-${1000 + ((n * 389) % 9000)}${'XKRTZ'[n % 5]}${n % 10}`;
    products.push({
      productId: `P${String(n).padStart(3, '0')}`,
      colour,
      category,
      price: 5 + ((n * 37) % 200),
      brand: brand.name,
      model,
      ean: ean13(n),
      languages: n % 4 === 0 ? ['en'] : CATALOGUE_LANGUAGES,
    });
  }
  return products;
}

const DESCRIPTIONS: Readonly<Record<string, (phrase: string, brand: string) => string>> = {
  en: (p, b) => `${p} from ${b}, made to last.`,
  de: (p, b) => `${p} von ${b}, langlebig verarbeitet.`,
  fr: (p, b) => `${p} de ${b}, conçu pour durer.`,
  es: (p, b) => `${p} de ${b}, hecho para durar.`,
  it: (p, b) => `${p} di ${b}, fatto per durare.`,
  ja: (p, b) => `${b}の${p}。長く使えるつくり。`,
  zh: (p, b) => `${b}出品的${p}，经久耐用。`,
  ru: (p, b) => `${p} от ${b}, сделано на совесть.`,
};

export function productRecord(p: SampleProduct, lang: Language): Record<string, unknown> {
  const phrase = conceptPhrase(p.colour, p.category, lang);
  return {
    id: `${p.productId}-${lang}`,
    title: `${p.brand} ${phrase} ${p.model}`,
    description: DESCRIPTIONS[lang]!(phrase, p.brand),
    lang,
    product_id: p.productId,
    brand: p.brand,
    model: p.model,
    ean: p.ean,
    colour: p.colour,
    category: p.category,
    price_eur: p.price,
  };
}

export type QueryKind = 'sku' | 'brand_category' | 'cross_lingual' | 'misspelled' | 'image';

export interface JudgedQuery {
  id: string;
  kind: QueryKind;
  query?: string;
  image?: string;
  lang?: string;
  relevant: Record<string, number>;
}

/** One letter swapped with its neighbour: a typo that still reads as the word. */
function typo(word: string, seed: number): string {
  const chars = [...word];
  if (chars.length < 4) return word + word.at(-1);
  const i = 1 + (seed % (chars.length - 2));
  [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
  return chars.join('');
}

/**
 * The judged queries: every product by model number (half with its hyphen, half without) and some
 * by EAN; brand + category (relevant: that brand's products of the category); English-only
 * products described in another language; misspelled brand or model words; photos.
 */
export function judgedQueries(products: readonly SampleProduct[]): JudgedQuery[] {
  const out: JudgedQuery[] = [];
  const add = (q: Omit<JudgedQuery, 'id'>) => out.push({ id: `q${String(out.length + 1).padStart(3, '0')}`, ...q });
  for (const [i, p] of products.entries()) {
    add({ kind: 'sku', query: i % 2 === 0 ? p.model : p.model.replace('-', ''), lang: 'en', relevant: { [p.productId]: 2 } });
    if (i % 3 === 0) add({ kind: 'sku', query: `EAN ${p.ean}`, relevant: { [p.productId]: 2 } });
  }
  const seen = new Set<string>();
  for (const p of products) {
    const key = `${p.brand}/${p.category}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const lang = CATALOGUE_LANGUAGES[seen.size % 4]!; // en, de, fr, es
    const noun = CATEGORIES.find((c) => c.id === p.category)!.words[lang][0]!;
    const relevant = Object.fromEntries(products.filter((x) => x.brand === p.brand && x.category === p.category).map((x) => [x.productId, 2]));
    add({ kind: 'brand_category', query: `${p.brand} ${noun}`, lang, relevant });
  }
  const others: Language[] = ['de', 'fr', 'es', 'ja', 'zh', 'it'];
  for (const [i, p] of products.filter((x) => x.languages.length === 1).entries()) {
    for (const lang of [others[i % others.length]!, others[(i + 3) % others.length]!]) {
      add({ kind: 'cross_lingual', query: conceptPhrase(p.colour, p.category, lang), lang, relevant: { [p.productId]: 2 } });
    }
  }
  for (const [i, p] of products.entries()) {
    if (i % 2 !== 1) continue;
    const phrase = conceptPhrase(p.colour, p.category, 'en');
    add({
      kind: 'misspelled',
      query: i % 4 === 1 ? `${typo(p.brand, i)} ${phrase}` : `${phrase} ${p.model.replace(/\d$/, '')}`,
      lang: 'en',
      relevant: { [p.productId]: 2 },
    });
  }
  for (const [i, p] of products.entries()) {
    if (i % 3 !== 2) continue;
    add({ kind: 'image', image: `query-images/${p.productId}.jpg`, relevant: { [p.productId]: 2 } });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'examples/catalogue' }, products: { type: 'string', default: '72' } } });
  const out = path.resolve(values.out!);
  const products = sampleProducts(Number(values.products));
  await rm(path.join(out, 'products'), { recursive: true, force: true });
  await rm(path.join(out, 'query-images'), { recursive: true, force: true });
  await mkdir(path.join(out, 'query-images'), { recursive: true });
  const lines: string[] = [];
  for (const [i, p] of products.entries()) {
    const dir = path.join(out, 'products', p.productId);
    await mkdir(dir, { recursive: true });
    const image = await drawProductImage({ colour: p.colour, category: p.category, width: 320, height: 240, seed: i + 1, format: 'jpeg', quality: 85 });
    await writeFile(path.join(dir, 'front.jpg'), image);
    for (const lang of p.languages) lines.push(JSON.stringify(productRecord(p, lang)));
  }
  const queries = judgedQueries(products);
  for (const q of queries) {
    if (!q.image) continue;
    const p = products.find((x) => x.productId in q.relevant)!;
    // Another photo of the product: a different placement, shade and size than the indexed one.
    const photo = await drawProductImage({ colour: p.colour, category: p.category, width: 256, height: 256, seed: 1000 + products.indexOf(p), format: 'jpeg', quality: 80 });
    await writeFile(path.join(out, q.image), photo);
  }
  await writeFile(path.join(out, 'records.jsonl'), lines.join('\n') + '\n');
  await writeFile(path.join(out, 'queries.jsonl'), queries.map((q) => JSON.stringify(q)).join('\n') + '\n');
  const kinds = [...new Set(queries.map((q) => q.kind))].map((k) => `${queries.filter((q) => q.kind === k).length} ${k}`).join(', ');
  process.stdout.write(`wrote ${products.length} products (${lines.length} records, ${CATALOGUE_LANGUAGES.length} languages) and ${queries.length} judged queries (${kinds}) to ${out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
