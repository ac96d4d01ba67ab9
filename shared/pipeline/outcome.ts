/**
 * What became of one catalogue item, and which failures belong to the item (reported, skipped,
 * never retried) versus to the infrastructure (store down, encoder closing: retried or fatal).
 * Both the embedded runner and the queue worker decide with the same rule.
 */
import type { CatalogueItem, ItemFailure } from '../catalogue/types.ts';
import { ClipstreamError, describeError, type ErrorCode } from '../errors.ts';

export type ItemOutcome =
  /** `warnings`: what was indexed without (a lexical field that is not a string). */
  | { status: 'indexed'; item: string; pointId: string; modality: CatalogueItem['kind']; warnings?: string[] }
  /** Already stored with the same version: not fetched, not encoded, not written. */
  | { status: 'skipped'; item: string; pointId: string; modality: CatalogueItem['kind'] }
  | { status: 'failed'; item: string; failure: ItemFailure };

/**
 * Codes that describe the item itself: retrying cannot help, the rest of the run goes on.
 * ENCODER_FAILED is here because the micro-batcher re-runs a failed batch item by item, so the
 * error that reaches an item is that item's own.
 */
const ITEM_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'IMAGE_EMPTY',
  'IMAGE_DECODE_FAILED',
  'IMAGE_TOO_LARGE',
  'IMAGE_FORMAT_REFUSED',
  'TEXT_EMPTY',
  'TEXT_TOO_LONG',
  'TEXT_INVALID_UTF8',
  'ENCODER_FAILED',
  'SOURCE_NOT_FOUND',
  'RECORD_INVALID',
  'VECTOR_INVALID',
  'BAD_REQUEST',
]);

/** True when `err` is the item's fault (report and move on); false for infrastructure trouble. */
export function isItemError(err: unknown): err is ClipstreamError {
  return err instanceof ClipstreamError && ITEM_CODES.has(err.code);
}

export function failureOf(item: string, err: unknown): ItemFailure {
  const code = err instanceof ClipstreamError ? err.code : 'INTERNAL';
  // ClipstreamError messages already start with the item; keep the reason alone.
  let reason = describeError(err);
  if (err instanceof ClipstreamError && err.item && reason.startsWith(`${err.item}: `)) reason = reason.slice(err.item.length + 2);
  return { item, code, reason };
}

export function isItemFailure(x: CatalogueItem | ItemFailure): x is ItemFailure {
  return 'reason' in x && 'code' in x && !('kind' in x);
}
