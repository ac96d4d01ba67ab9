/**
 * What text goes into an item's `lex` vector. A record: its LEXICAL_FIELDS (default: its text and
 * every other string field, such as brand and SKU). An image: the words of its object key plus the
 * lexical text of every record of its product (tied by `product_id`, in each record's language),
 * so a search for a brand or model number finds the product's photos as well as its records.
 *
 * An image can be stored before its product's records, and a record edit does not change the
 * image's own version; so whenever a record of a product is stored, that product's images get
 * their `lex` vector recomputed (`ProductLexicon.refreshImages`).
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { ImageObject, TextRecord } from '../catalogue/types.ts';
import { documentOf, LEXICAL_VECTOR, type LexicalAnalyser, type LexicalPart, type SparseVector } from '../lexical/index.ts';
import { withStoreRetry } from '../store/retry.ts';
import type { BackoffPolicy } from '../retry.ts';

/** LEXICAL_FIELDS: `text` is the record's text, `*` every other string field; empty: `text,*`. */
export type LexicalFields = readonly string[];
export const DEFAULT_LEXICAL_FIELDS: LexicalFields = ['text', '*'];

export interface RecordLexicalText {
  parts: LexicalPart[];
  /** Listed fields that were not strings: indexed without them, reported by the run. */
  problems: string[];
}

interface RecordLike {
  text: string;
  lang?: string | undefined;
  fields: Record<string, unknown>;
}

export function recordLexicalText(record: RecordLike, fields: LexicalFields): RecordLexicalText {
  const list = fields.length > 0 ? fields : DEFAULT_LEXICAL_FIELDS;
  const parts: LexicalPart[] = [];
  const problems: string[] = [];
  const named = new Set(list.filter((f) => f !== '*' && f !== 'text'));
  const add = (text: string) => {
    // The record's text is often its title and description joined: don't count those words twice.
    if (text.trim() !== '' && !(list.includes('text') && record.text.includes(text.trim()))) parts.push({ text, lang: record.lang });
  };
  if (list.includes('text')) parts.push({ text: record.text, lang: record.lang });
  for (const name of named) {
    const value = record.fields[name];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') add(value);
    else problems.push(`lexical field ${name} is ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not a string: indexed without it`);
  }
  if (list.includes('*')) {
    for (const [name, value] of Object.entries(record.fields)) if (!named.has(name) && typeof value === 'string') add(value);
  }
  return { parts, problems };
}

/** The words of an image's key: `s3://shop/products/wh-1000xm5/front.jpg` → `products wh-1000xm5 front`. */
export function imageKeyText(sourceUri: string): string {
  const key = sourceUri.replace(/^s3:\/\/[^/]+\//, '').replace(/^file:\/\//, '');
  let decoded = key;
  try {
    decoded = decodeURIComponent(key);
  } catch {
    // a key with a stray % keeps its raw form
  }
  return decoded.replace(/\.[A-Za-z0-9]{2,5}$/, '').split(/[/_\s]+/).filter((w) => w !== '').join(' ');
}

export interface LexicalSettings {
  analyser: LexicalAnalyser;
  fields: LexicalFields;
  /** The lexical text of a product's records, when the store can be asked (images). */
  product?: ProductLexicon;
}

export function recordVector(record: TextRecord, settings: LexicalSettings): { vector: SparseVector; problems: string[] } {
  const { parts, problems } = recordLexicalText(record, settings.fields);
  return { vector: documentOf(settings.analyser, parts), problems };
}

export async function imageVector(image: Pick<ImageObject, 'sourceUri' | 'productId'>, settings: LexicalSettings): Promise<SparseVector> {
  const parts: LexicalPart[] = [{ text: imageKeyText(image.sourceUri) }];
  if (image.productId && settings.product) parts.push(...(await settings.product.textsOf(image.productId)));
  return documentOf(settings.analyser, parts);
}

interface StoredRecordPayload {
  text?: unknown;
  lang?: unknown;
  fields?: unknown;
}

/** A product's texts as stored in one collection: read for images, pushed to images after a record changes. */
export class ProductLexicon {
  constructor(
    private readonly client: QdrantClient,
    private readonly collection: string,
    private readonly settings: Omit<LexicalSettings, 'product'>,
    private readonly store: { storeUrl: string; retry?: BackoffPolicy | undefined },
  ) {}

  async textsOf(productId: string): Promise<LexicalPart[]> {
    const points = await this.scroll(productId, 'text', ['text', 'lang', 'fields']);
    const parts: LexicalPart[] = [];
    for (const p of points) {
      const payload = (p.payload ?? {}) as StoredRecordPayload;
      if (typeof payload.text !== 'string') continue;
      const record: RecordLike = {
        text: payload.text,
        lang: typeof payload.lang === 'string' ? payload.lang : undefined,
        fields: payload.fields && typeof payload.fields === 'object' ? (payload.fields as Record<string, unknown>) : {},
      };
      parts.push(...recordLexicalText(record, this.settings.fields).parts);
    }
    return parts;
  }

  /** Recomputes the `lex` vector of the product's images from its stored records. */
  async refreshImages(productId: string): Promise<number> {
    const images = await this.scroll(productId, 'image', ['source']);
    if (images.length === 0) return 0;
    const texts = await this.textsOf(productId);
    const points = images.map((p) => {
      const source = String((p.payload as { source?: unknown } | null | undefined)?.source ?? '');
      const vector = documentOf(this.settings.analyser, [{ text: imageKeyText(source) }, ...texts]);
      return { id: p.id, vector: { [LEXICAL_VECTOR]: vector } };
    });
    const context = { storeUrl: this.store.storeUrl, operation: `update the lexical vectors of product ${productId}'s images`, ...(this.store.retry ? { policy: this.store.retry } : {}) };
    await withStoreRetry(() => this.client.updateVectors(this.collection, { wait: true, points }), context);
    // Their term ids too (payload lex_terms), which each image holds its own of (its key's words).
    for (const p of points) {
      await withStoreRetry(() => this.client.setPayload(this.collection, { wait: true, points: [p.id], payload: { lex_terms: p.vector[LEXICAL_VECTOR].indices } }), context);
    }
    return points.length;
  }

  private async scroll(productId: string, modality: 'text' | 'image', include: string[]) {
    const out: Array<{ id: string | number; payload?: Record<string, unknown> | null | undefined }> = [];
    let offset: string | number | undefined;
    do {
      const page = await withStoreRetry(
        () =>
          this.client.scroll(this.collection, {
            filter: { must: [{ key: 'product_id', match: { value: productId } }, { key: 'modality', match: { value: modality } }] },
            with_payload: { include },
            with_vector: false,
            limit: 256,
            ...(offset !== undefined ? { offset } : {}),
          }),
        { storeUrl: this.store.storeUrl, operation: `read product ${productId}'s ${modality} points`, ...(this.store.retry ? { policy: this.store.retry } : {}) },
      );
      out.push(...page.points);
      const next = page.next_page_offset;
      offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
    } while (offset !== undefined);
    return out;
  }
}
