/**
 * What a shop shows per product in grouped results: its image (a text record's hit still shows
 * its product's photo), its title in the query's language where it has one, brand, SKU and
 * price. Read in one scroll over the groups' products after the search, from the payloads the
 * pipeline stored.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { LexicalAnalyser } from '../../shared/lexical/index.ts';

export interface ProductCard {
  /** Thumbnail URL of one of its images; absent for a text-only product. */
  image?: string;
  title?: string;
  /** The language of `title`. */
  lang?: string;
  brand?: string;
  sku?: string;
  price?: number;
  /** [start, end) of the matched words in `title`. */
  highlights?: Array<[number, number]>;
}

const SKU_FIELDS = ['sku', 'model', 'model_number', 'mpn', 'ean', 'gtin'];
const PRICE_FIELDS = ['price', 'price_eur', 'price_usd', 'price_gbp'];

interface PointLike {
  id: string | number;
  payload?: Record<string, unknown> | null | undefined;
}

export async function productCards(
  client: QdrantClient,
  collection: string,
  productIds: ReadonlyArray<string | number>,
  opts: { lang?: string | undefined; matched?: ReadonlyMap<string, ReadonlySet<string>>; analyser?: LexicalAnalyser | undefined },
): Promise<Map<string, ProductCard>> {
  const out = new Map<string, ProductCard>();
  if (productIds.length === 0) return out;
  const points: PointLike[] = [];
  let offset: string | number | undefined;
  do {
    const page = await client.scroll(collection, {
      filter: { must: [{ key: 'product_id', match: { any: productIds.map(String) } }] },
      with_payload: { include: ['product_id', 'modality', 'lang', 'title', 'fields'] },
      with_vector: false,
      limit: 512,
      ...(offset !== undefined ? { offset } : {}),
    });
    points.push(...page.points);
    const next = page.next_page_offset;
    offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
  } while (offset !== undefined && points.length < 20_000);
  const byProduct = new Map<string, PointLike[]>();
  for (const p of points) {
    const id = String(p.payload?.product_id ?? '');
    let list = byProduct.get(id);
    if (!list) byProduct.set(id, (list = []));
    list.push(p);
  }
  for (const [id, list] of byProduct) {
    const image = list.find((p) => p.payload?.modality === 'image');
    const texts = list.filter((p) => p.payload?.modality === 'text' && typeof p.payload.title === 'string');
    const inLang = (l: string | undefined) => (l ? texts.find((p) => p.payload?.lang === l || String(p.payload?.lang ?? '').split('-')[0] === l) : undefined);
    const shown = inLang(opts.lang) ?? inLang('en') ?? texts[0];
    const fields = ((shown ?? texts[0])?.payload?.fields ?? {}) as Record<string, unknown>;
    const card: ProductCard = {};
    if (image) card.image = `/v1/items/${image.id}/thumbnail`;
    const title = shown?.payload?.title;
    if (typeof title === 'string') {
      card.title = title;
      const lang = shown?.payload?.lang;
      if (typeof lang === 'string') card.lang = lang;
      const matched = opts.matched?.get(id);
      if (matched && matched.size > 0 && opts.analyser) card.highlights = opts.analyser.highlights(title, matched, card.lang);
    }
    if (typeof fields.brand === 'string') card.brand = fields.brand;
    const sku = SKU_FIELDS.map((f) => fields[f]).find((v) => typeof v === 'string' || typeof v === 'number');
    if (sku !== undefined) card.sku = String(sku);
    const price = PRICE_FIELDS.map((f) => fields[f]).find((v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))));
    if (price !== undefined) card.price = Number(price);
    out.set(id, card);
  }
  return out;
}
