/**
 * The domain objects that flow through the pipeline: sources produce `CatalogueItem`s,
 * the encoder turns them into Matryoshka vectors, the store keeps one point per item.
 */

/** One image object (S3 or local file). The bytes are fetched later, by the worker. */
export interface ImageObject {
  kind: 'image';
  /** Canonical source URI: `s3://bucket/key` or `file:///abs/path`. The point id derives from it. */
  sourceUri: string;
  /** Content version: the S3 ETag (quotes stripped) or a SHA-256 of the bytes. */
  version: string;
  bytes: number;
  lastModified?: string;
  contentType?: string;
  /** Optional product grouping, e.g. from the key layout or a sidecar record. */
  productId?: string;
  /** The source it was listed from (`sourceRootOf`), stored as `source_root`: a sync of one source never touches another's points. */
  sourceRoot?: string;
}

/** One text record from a JSONL/CSV file. */
export interface TextRecord {
  kind: 'text';
  /** `record:<dataset>/<record id>`. */
  sourceUri: string;
  /** SHA-256 of the text and fields: a changed record re-encodes, an unchanged one is skipped. */
  version: string;
  recordId: string;
  text: string;
  lang?: string;
  productId?: string;
  /** The record's own fields (besides id/text/lang/product_id); stored under payload `fields`. */
  fields: Record<string, unknown>;
  /** The source it was listed from (`sourceRootOf`), stored as `source_root`. */
  sourceRoot?: string;
}

export type CatalogueItem = ImageObject | TextRecord;
export type Modality = CatalogueItem['kind'];

/** A problem with one item that was reported and skipped (never fatal to the run). */
export interface ItemFailure {
  /** Where: a source URI, or a file and line (`records.jsonl:17`). */
  item: string;
  code: string;
  reason: string;
  /**
   * The catalogue item the failure is about, when known although `item` names a line (a record
   * whose id was read but whose text is empty). A sync keeps that item's point rather than
   * reading the failure as a deletion.
   */
  sourceUri?: string;
}
