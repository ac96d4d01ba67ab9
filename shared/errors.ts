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

/** What a code means to the HTTP layer and to a job worker. */
export interface ErrorTraits {
  /** The status the query service answers with. */
  status: number;
  /**
   * Whether another attempt can cure it (a throttled bucket, a restarting store, a saturated
   * encoder). The rest fail the same way every time, so a worker gives up on them at once.
   */
  retryable: boolean;
}

/**
 * One row per code: adding a code without deciding its status and whether it is worth retrying
 * fails the type check. A schema mismatch or a vanished collection is never retryable: the
 * collection will not change shape or come back by waiting.
 */
export const ERROR_TRAITS = {
  CONFIG_INVALID: { status: 500, retryable: false },
  MODEL_NOT_FOUND: { status: 503, retryable: false },
  MODEL_DOWNLOAD_FAILED: { status: 503, retryable: false },
  MODEL_INVALID: { status: 500, retryable: false },
  IMAGE_EMPTY: { status: 400, retryable: false },
  IMAGE_DECODE_FAILED: { status: 400, retryable: false },
  IMAGE_TOO_LARGE: { status: 413, retryable: false },
  IMAGE_FORMAT_REFUSED: { status: 415, retryable: false },
  TEXT_EMPTY: { status: 400, retryable: false },
  TEXT_TOO_LONG: { status: 413, retryable: false },
  TEXT_INVALID_UTF8: { status: 400, retryable: false },
  ENCODER_FAILED: { status: 500, retryable: false },
  ENCODER_OVERLOADED: { status: 503, retryable: true },
  ENCODER_CLOSED: { status: 503, retryable: false },
  SOURCE_NOT_FOUND: { status: 404, retryable: false },
  SOURCE_UNREACHABLE: { status: 502, retryable: true },
  RECORD_INVALID: { status: 400, retryable: false },
  STORE_UNAVAILABLE: { status: 503, retryable: true },
  STORE_SCHEMA_MISMATCH: { status: 503, retryable: false },
  STORE_REQUEST_FAILED: { status: 502, retryable: true },
  COLLECTION_NOT_FOUND: { status: 503, retryable: false },
  REBUILD_REQUIRED: { status: 503, retryable: false },
  DELETE_GUARD: { status: 409, retryable: false },
  RUN_LOCKED: { status: 409, retryable: false },
  QUEUE_STATE_LOST: { status: 500, retryable: false },
  VECTOR_INVALID: { status: 400, retryable: false },
  QUEUE_UNAVAILABLE: { status: 503, retryable: true },
  BAD_REQUEST: { status: 400, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
} as const satisfies Record<ErrorCode, ErrorTraits>;

/** Whether another attempt can cure `code` (see ERROR_TRAITS). */
export function isRetryableCode(code: ErrorCode): boolean {
  return ERROR_TRAITS[code].retryable;
}

export class ClipstreamError extends Error {
  readonly code: ErrorCode;
  /** The item the error is about (e.g. `s3://bucket/key`, `records.jsonl:17`), when there is one. */
  readonly item: string | undefined;

  constructor(code: ErrorCode, message: string, options: { item?: string | undefined; cause?: unknown } = {}) {
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
