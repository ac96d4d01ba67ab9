/**
 * Multipart search requests (an uploaded image plus form fields) become the same `SearchRequest`
 * a JSON client sends, so one schema validates both. Form fields are text; the typed ones are
 * parsed here (numbers, booleans, JSON for filter/stages) — a `query` field may instead carry
 * all parameters as one JSON object.
 */
import type { FastifyRequest } from 'fastify';
import { ClipstreamError } from '../../shared/errors.ts';
import { poisonedKey } from './json-body.ts';

const INTEGER_FIELDS = new Set(['limit', 'offset', 'group_size']);
const BOOLEAN_FIELDS = new Set(['exact', 'with_payload']);
const JSON_FIELDS = new Set(['filter', 'stages', 'image']);

export interface MultipartSearch {
  body: Record<string, unknown>;
  image?: Buffer | undefined;
}

function parseField(name: string, value: string): unknown {
  if (INTEGER_FIELDS.has(name)) {
    if (!/^\s*-?\d+\s*$/.test(value)) throw new ClipstreamError('BAD_REQUEST', `form field ${name} must be an integer, got ${JSON.stringify(value)}`);
    return Number(value);
  }
  if (BOOLEAN_FIELDS.has(name)) {
    if (!/^(true|false)$/i.test(value.trim())) throw new ClipstreamError('BAD_REQUEST', `form field ${name} must be true or false, got ${JSON.stringify(value)}`);
    return value.trim().toLowerCase() === 'true';
  }
  if (JSON_FIELDS.has(name)) return parseJson(name, value);
  return value;
}

function parseJson(name: string, value: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new ClipstreamError('BAD_REQUEST', `form field ${name} is not valid JSON: ${(err as Error).message}`);
  }
  // The same refusal as for a JSON body: a form is no way around it.
  const poisoned = poisonedKey(parsed);
  if (poisoned) throw new ClipstreamError('BAD_REQUEST', `form field ${name} has the key ${poisoned}, which is refused: it could change object prototypes`);
  return parsed;
}

/** Reads every part; a file part is accepted only under the field name `image`. */
export async function readMultipartSearch(request: FastifyRequest): Promise<MultipartSearch> {
  let body: Record<string, unknown> = {};
  let image: Buffer | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image') {
        part.file.resume();
        throw new ClipstreamError('BAD_REQUEST', `unexpected file field ${JSON.stringify(part.fieldname)} (send the query image as "image")`);
      }
      // toBuffer() throws 413 (FST_REQ_FILE_TOO_LARGE) past the configured fileSize limit.
      image = await part.toBuffer();
      continue;
    }
    const value = String(part.value);
    if (part.valueTruncated) throw new ClipstreamError('BAD_REQUEST', `form field ${part.fieldname} is too long`);
    if (part.fieldname === 'query') {
      const parsed = parseJson('query', value);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ClipstreamError('BAD_REQUEST', 'form field query must be a JSON object');
      body = { ...body, ...(parsed as Record<string, unknown>) };
    } else {
      body[part.fieldname] = parseField(part.fieldname, value);
    }
  }
  return { body, image };
}
