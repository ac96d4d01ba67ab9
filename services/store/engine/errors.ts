/**
 * Errors the store answers with. Each carries the HTTP status Qdrant uses for the same failure
 * and a message worded like Qdrant's, so clients (and their error handling) cannot tell the
 * embedded store from a real server.
 */
export class StoreError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'StoreError';
    this.status = status;
  }
}

/** 400 "Wrong input: …" — the request is well-formed but contradicts the collection. */
export const wrongInput = (reason: string) => new StoreError(400, `Wrong input: ${reason}`);
/** 400 "Bad request: …" — the request combines options Qdrant refuses. */
export const badRequest = (reason: string) => new StoreError(400, `Bad request: ${reason}`);
/** 400 "Format error in JSON body: …" — the body does not have the shape of the schema. */
export const formatError = (reason: string) => new StoreError(400, `Format error in JSON body: ${reason}`);
/** 422 "Validation error in JSON body: [field: reason]" — a value outside its allowed range. */
export const validationError = (field: string, reason: string) =>
  new StoreError(422, `Validation error in JSON body: [${field}: ${reason}]`);
export const notFound = (reason: string) => new StoreError(404, `Not found: ${reason}`);
export const conflict = (reason: string) => new StoreError(409, `Wrong input: ${reason}`);
export const collectionNotFound = (name: string) => notFound(`Collection \`${name}\` doesn't exist!`);

/**
 * A store file that is damaged: the store refuses to open rather than guess (and leaves the file
 * as it found it); `clipstream store repair` is the way on.
 */
export class StoreCorruptionError extends StoreError {
  readonly file: string;
  /** The message without Qdrant's "Service internal error" prefix, for the command line. */
  readonly detail: string;

  constructor(file: string, detail: string) {
    super(500, `Service internal error: ${detail}`);
    this.name = 'StoreCorruptionError';
    this.file = file;
    this.detail = detail;
  }
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** Whether an I/O error means the volume is out of space (or quota): writes can resume once freed. */
export function isOutOfSpace(err: unknown): boolean {
  return NO_SPACE.has((err as NodeJS.ErrnoException | null)?.code ?? '');
}

/**
 * The answer for a write the disk refused: 507 when the volume is full (nothing was applied, and
 * writes resume by themselves once space is freed), 503 for other I/O failures.
 */
export function storageError(err: unknown, file: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (isOutOfSpace(err)) {
    return new StoreError(
      507,
      `Insufficient storage: no space left on the device writing ${file} (${code}); the operation was not applied. Writes resume once space is freed, without a restart`,
    );
  }
  return new StoreError(503, `Service unavailable: writing ${file} failed: ${(err as Error)?.message ?? String(err)}; the operation was not applied`);
}
