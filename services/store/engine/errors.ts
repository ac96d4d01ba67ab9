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
