/**
 * Errors carry a stable `code` (for metrics, HTTP mapping and tests) and name the item they
 * concern (bucket/key, record id, file and line) so a failure report is actionable on its own.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_DOWNLOAD_FAILED'
  | 'MODEL_INVALID'
  | 'IMAGE_EMPTY'
  | 'IMAGE_DECODE_FAILED'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_FORMAT_REFUSED'
  | 'TEXT_EMPTY'
  | 'TEXT_TOO_LONG'
  | 'TEXT_INVALID_UTF8'
  | 'ENCODER_FAILED'
  | 'ENCODER_OVERLOADED'
  | 'ENCODER_CLOSED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_UNREACHABLE'
  | 'RECORD_INVALID'
  | 'STORE_UNAVAILABLE'
  | 'STORE_SCHEMA_MISMATCH'
  | 'STORE_REQUEST_FAILED'
  /** The collection a write was meant for is gone (an abandoned rebuild's): retrying cannot help. */
  | 'COLLECTION_NOT_FOUND'
  /** The stored model, dims or schema differ from the configured ones: `clipstream rebuild`. */
  | 'REBUILD_REQUIRED'
  /** A sync would delete more than it may, or its listing was incomplete: nothing was deleted. */
  | 'DELETE_GUARD'
  /** Another run holds the source's lock. */
  | 'RUN_LOCKED'
  /** Redis lost a run's state (restarted without its data): the run cannot be followed. */
  | 'QUEUE_STATE_LOST'
  | 'VECTOR_INVALID'
  | 'QUEUE_UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED';

export class ClipstreamError extends Error {
  readonly code: ErrorCode;
  /** The item the error is about (e.g. `s3://bucket/key`, `records.jsonl:17`), when there is one. */
  readonly item?: string;

  constructor(code: ErrorCode, message: string, options: { item?: string; cause?: unknown } = {}) {
    super(options.item ? `${options.item}: ${message}` : message, { cause: options.cause });
    this.name = 'ClipstreamError';
    this.code = code;
    this.item = options.item;
  }
}

export function isClipstreamError(err: unknown, code?: ErrorCode): err is ClipstreamError {
  return err instanceof ClipstreamError && (code === undefined || err.code === code);
}

/** A short, single-line reason for logs and failure reports. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
