/**
 * Point ids: the same catalogue item always maps to the same point, so re-ingesting replaces
 * instead of duplicating, and any process (producer, worker, query service) can compute the id
 * of an item from its source URI alone, without asking the store.
 */
import { createHash } from 'node:crypto';
import { ClipstreamError } from '../errors.ts';

/** RFC 4122 appendix C name-space for URLs. */
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/**
 * The project's namespace: UUIDv5(NAMESPACE_URL, "https://github.com/clipstream/clipstream#point-id").
 * Fixed forever: changing it would orphan every stored point.
 */
export const CLIPSTREAM_NAMESPACE = 'a3dba129-e620-5810-b2b1-bea98c7ae47a';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** Name-based UUID (version 5, SHA-1) as in RFC 4122 §4.3. */
export function uuidv5(name: string, namespace: string): string {
  if (!isUuid(namespace)) throw new TypeError(`namespace is not a UUID: ${namespace}`);
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(Buffer.from(name, 'utf8'))
    .digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Only canonical forms are accepted: `s3://b/k` and `S3://b/k/` hashing differently would
// silently duplicate items, so a non-canonical URI is a bug upstream and must surface here.
const CANONICAL_SOURCE = /^(s3:\/\/[^/\s]+\/.+|file:\/\/\/.+|record:[^/\s]+\/.+)$/;

export function isCanonicalSourceUri(uri: string): boolean {
  return CANONICAL_SOURCE.test(uri);
}

/** The point id of an item: UUIDv5 of its canonical source URI under CLIPSTREAM_NAMESPACE. */
export function pointId(sourceUri: string): string {
  if (!isCanonicalSourceUri(sourceUri)) {
    throw new ClipstreamError(
      'BAD_REQUEST',
      'not a canonical source URI (expected s3://bucket/key, file:///abs/path or record:<dataset>/<record id>)',
      { item: sourceUri },
    );
  }
  return uuidv5(sourceUri, CLIPSTREAM_NAMESPACE);
}
