/**
 * One mapping from failures to HTTP answers, so every route says the same thing the same way:
 * `{ error: { code, status, message } }`, where the message names what was wrong and why —
 * including what Node's HTTP parser refuses before Fastify sees a request (`clientError`).
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ClipstreamError, ERROR_TRAITS } from '../../shared/errors.ts';
import type { QueryMetrics } from './metrics.ts';

export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

/** An answer of the HTTP layer itself (shed load, refused charset) whose code is not a pipeline ErrorCode. */
export class HttpAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpAnswerError';
  }
}

export function errorBody(answer: ErrorAnswer): { error: ErrorAnswer } {
  return { error: { code: answer.code, status: answer.status, message: answer.message } };
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: unknown;
  validationContext?: string;
}

/** Fastify's own errors (body too large, bad JSON, schema validation) keep their status; the cause gets a stable code. */
function fromFastify(err: FastifyLikeError): ErrorAnswer | undefined {
  if (err.validation) {
    return { status: 400, code: 'BAD_REQUEST', message: `invalid request: ${err.message}` };
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.code === 'FST_REQ_FILE_TOO_LARGE' || err.statusCode === 413) {
    return { status: 413, code: 'REQUEST_TOO_LARGE', message: `request too large: ${err.message}` };
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
    return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message };
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'BAD_REQUEST', message: err.message };
  }
  return undefined;
}

export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof ClipstreamError) {
    return { status: ERROR_TRAITS[err.code].status, code: err.code, message: err.message };
  }
  if (err instanceof HttpAnswerError) return { status: err.status, code: err.code, message: err.message };
  if (err && typeof err === 'object' && 'message' in err) {
    const answer = fromFastify(err as FastifyLikeError);
    if (answer) return answer;
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/** Every failure and every unmatched route of `app` answers the envelope, counted by cause; 503s say when to retry. */
export function answerErrors(app: FastifyInstance, metrics: QueryMetrics): void {
  app.setErrorHandler(async (err, request, reply) => {
    const answer = errorAnswer(err);
    metrics.errors.inc({ cause: answer.code });
    if (answer.status >= 500) request.log.error({ err }, answer.message);
    if (answer.status === 503) reply.header('retry-after', '5');
    return reply.status(answer.status).send(errorBody(answer));
  });
  app.setNotFoundHandler(async (request, reply) => {
    metrics.errors.inc({ cause: 'NOT_FOUND' });
    return reply.status(404).send(errorBody({ code: 'NOT_FOUND', status: 404, message: `no route ${request.method} ${request.url.split('?')[0]}` }));
  });
}

/**
 * Resolves with the promise or rejects with `onTimeout()` after `ms`. The underlying work is not
 * cancelled (ORT runs cannot be), but the client gets a definite answer instead of a hang.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** What a request Node's HTTP parser refused gets (Fastify's `clientErrorHandler`), in the documented envelope. */
export function clientErrorAnswer(err: NodeJS.ErrnoException): ErrorAnswer {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time (QUERY_REQUEST_TIMEOUT_MS / QUERY_HEADERS_TIMEOUT_MS)' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
    case 'HPE_INVALID_METHOD':
      // What follows a body shorter than its Content-Length said is read as the next request.
      return { status: 400, code: 'BAD_REQUEST', message: 'malformed HTTP request (does Content-Length match the body?)' };
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, code: 'BAD_REQUEST', message: 'the connection ended before the request was complete (is Content-Length longer than the body?)' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'invalid Content-Length header' };
    default:
      return { status: 400, code: 'BAD_REQUEST', message: `malformed HTTP request${err.code ? ` (${err.code})` : ''}` };
  }
}

/** Writes `answer` straight to a socket (no Fastify reply exists yet) and closes it. */
export function writeClientError(socket: Socket, err: NodeJS.ErrnoException, headers: Record<string, string>): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const answer = clientErrorAnswer(err);
    const body = JSON.stringify(errorBody(answer));
    const lines = Object.entries({ ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n');
    socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n${lines}\r\n\r\n${body}`, () => socket.destroy());
    return;
  }
  socket.destroy();
}
