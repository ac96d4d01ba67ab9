/**
 * The JSON body parser: strict UTF-8 (RFC 8259; a Latin-1 body would otherwise turn into
 * replacement characters and be searched as such), and prototype-poisoning keys refused with a
 * message that says so, instead of the generic "Body is not valid JSON" a client cannot act on.
 */
import type { FastifyInstance } from 'fastify';
import { ClipstreamError } from '../../shared/errors.ts';
import { HttpAnswerError } from './http-errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpAnswerError(415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${charset} is refused: send JSON as UTF-8`);
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ClipstreamError('BAD_REQUEST', 'the body is not valid UTF-8 (JSON must be sent as UTF-8)');
  }
  if (text.trim() === '') throw new ClipstreamError('BAD_REQUEST', 'the body is empty (expected a JSON object)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ClipstreamError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const poisoned = poisonedKey(value);
  if (poisoned) {
    throw new ClipstreamError('BAD_REQUEST', `the body has the key ${poisoned}, which is refused: it could change object prototypes (rename the field)`);
  }
  return value;
}

/**
 * The first `__proto__` key, or `constructor` key holding a `prototype`, as a path
 * (`filter.fields.__proto__`) — the same keys Fastify's own parser refuses. Iterative, so a
 * deeply nested body cannot exhaust the stack.
 */
export function poisonedKey(root: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[root, '']];
  while (stack.length > 0) {
    const [node, at] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    const here = (key: string) => (at === '' ? key : `${at}.${key}`);
    if (Object.hasOwn(node, '__proto__')) return `"${here('__proto__')}"`;
    const ctor = (node as Record<string, unknown>).constructor;
    if (Object.hasOwn(node, 'constructor') && ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) {
      return `"${here('constructor')}" holding "prototype"`;
    }
    for (const [key, child] of Object.entries(node)) stack.push([child, Array.isArray(node) ? `${at}[${key}]` : here(key)]);
  }
  return undefined;
}

/** Replaces Fastify's JSON parser on `app` (and its children). */
export function useStrictJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, request.headers['content-type']));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
