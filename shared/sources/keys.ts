/**
 * What a key or file name means to the catalogue: image or records file (by extension), whether
 * include/exclude globs select it, and which product it belongs to. Shared by the S3 lister
 * and the local folder walk so both kinds of source classify names identically.
 */
import path from 'node:path';
import picomatch from 'picomatch';
import { ClipstreamError } from '../errors.ts';

/** Image extensions the encoder pipeline accepts, with the content type they imply. */
export const IMAGE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  gif: 'image/gif',
};

export type RecordFormat = 'jsonl' | 'csv';
const RECORD_FORMATS: Readonly<Record<string, RecordFormat>> = { jsonl: 'jsonl', ndjson: 'jsonl', csv: 'csv' };

/** Lower-cased extension without the dot (`photo.JPG` → `jpg`), or '' when there is none. */
export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** The content type an image file name implies, or undefined when it is not an image name. */
export function imageContentTypeOf(name: string): string | undefined {
  return IMAGE_CONTENT_TYPES[extensionOf(name)];
}

export function recordFormatOf(name: string): RecordFormat | undefined {
  return RECORD_FORMATS[extensionOf(name)];
}

/** Content-type patterns: exact (`image/png`) or a family (`image/*`). Parameters (`; charset`) are ignored. */
export function contentTypeMatches(contentType: string | undefined, patterns: readonly string[]): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return patterns.some((p) => {
    const want = p.trim().toLowerCase();
    return want.endsWith('/*') ? type.startsWith(want.slice(0, -1)) : type === want;
  });
}

export interface KeySelection {
  /** Globs (picomatch) a relative key must match at least one of; empty or absent: everything. */
  include?: readonly string[] | undefined;
  /** Globs a relative key must match none of. */
  exclude?: readonly string[] | undefined;
}

/**
 * Compiles include/exclude globs into a predicate over keys RELATIVE to the source root (the S3
 * prefix or the local folder), so `--include 'shoes/**'` means the same thing for
 * `s3://bucket/catalogue/` and for `./catalogue`. Dot segments match like any other (`dot: true`).
 */
export function keySelector({ include = [], exclude = [] }: KeySelection): (relativeKey: string) => boolean {
  const inc = include.length > 0 ? picomatch(include as string[], { dot: true }) : () => true;
  const exc = exclude.length > 0 ? picomatch(exclude as string[], { dot: true }) : () => false;
  return (key) => inc(key) && !exc(key);
}

/**
 * How an image's `productId` is derived from its key relative to the source root:
 * - `products-dir` (default): the segment after a `products/` directory — `products/<id>/front.jpg` → `<id>`;
 *   keys outside that layout get no product. Explicit, so no false grouping by accident.
 * - `parent-dir`: the directory directly holding the file (`shoes/AB12/1.jpg` → `AB12`); none at the root.
 * - `stem-prefix`: the file name up to the first `_` (`AB12_front.jpg` → `AB12`); none without `_`.
 * - a RegExp: its named group `product`, else group 1, matched against the relative key.
 * - `none`: images carry no product id.
 */
export type ProductIdRule = 'products-dir' | 'parent-dir' | 'stem-prefix' | 'none' | RegExp;

export const DEFAULT_PRODUCT_ID_RULE: ProductIdRule = 'products-dir';

/** Parses the textual form of a rule (for a CLI flag): a rule name, or `regex:<pattern>`. */
export function parseProductIdRule(text: string): ProductIdRule {
  const t = text.trim();
  if (t === 'products-dir' || t === 'parent-dir' || t === 'stem-prefix' || t === 'none') return t;
  if (t.startsWith('regex:')) {
    try {
      return new RegExp(t.slice('regex:'.length));
    } catch (err) {
      throw new ClipstreamError('BAD_REQUEST', `invalid product id regex ${JSON.stringify(t)}: ${(err as Error).message}`);
    }
  }
  throw new ClipstreamError(
    'BAD_REQUEST',
    `unknown product id rule ${JSON.stringify(text)} (expected products-dir, parent-dir, stem-prefix, none or regex:<pattern>)`,
  );
}

export function productIdOf(relativeKey: string, rule: ProductIdRule = DEFAULT_PRODUCT_ID_RULE): string | undefined {
  const segments = relativeKey.split('/').filter((s) => s !== '');
  let id: string | undefined;
  if (rule instanceof RegExp) {
    const m = rule.exec(relativeKey);
    id = m?.groups?.product ?? m?.[1];
  } else if (rule === 'products-dir') {
    const i = segments.indexOf('products');
    if (i >= 0 && i < segments.length - 2) id = segments[i + 1];
  } else if (rule === 'parent-dir') {
    if (segments.length >= 2) id = segments[segments.length - 2];
  } else if (rule === 'stem-prefix') {
    const file = segments[segments.length - 1] ?? '';
    const stem = file.slice(0, file.length - path.extname(file).length);
    const cut = stem.indexOf('_');
    if (cut > 0) id = stem.slice(0, cut);
  }
  const trimmed = id?.trim();
  return trimmed ? trimmed : undefined;
}
