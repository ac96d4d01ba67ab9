/**
 * Turning a query image — an upload, base64 text, or a URL — into checked bytes. Sizes are
 * checked before decoding (bytes) and from the header alone (pixels), so an oversized or
 * decompression-bomb image is refused with 413 before any real work is spent on it.
 *
 * URLs are a server-side request forgery risk (a query could make the service fetch internal
 * addresses), so they are refused unless their host is on QUERY_IMAGE_URL_ALLOW, redirects are
 * not followed (they could leave the allow-list), and the body is read with the same byte cap.
 */
import sharp from 'sharp';
import { ClipstreamError } from '../../shared/errors.ts';

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
  imageUrlAllow: readonly string[];
  timeoutMs: number;
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function decodeBase64Image(text: string, limits: Pick<ImageLimits, 'maxImageBytes'>): Buffer {
  const body = text.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  const approxBytes = Math.floor((body.length * 3) / 4);
  if (approxBytes > limits.maxImageBytes) {
    throw new ClipstreamError('IMAGE_TOO_LARGE', `image is about ${approxBytes} bytes, over the ${limits.maxImageBytes}-byte limit (QUERY_MAX_IMAGE_BYTES)`, {
      item: 'image.base64',
    });
  }
  if (!BASE64_RE.test(body)) throw new ClipstreamError('BAD_REQUEST', 'not valid base64', { item: 'image.base64' });
  const bytes = Buffer.from(body, body.includes('-') || body.includes('_') ? 'base64url' : 'base64');
  if (bytes.length === 0) throw new ClipstreamError('IMAGE_EMPTY', 'the image is empty', { item: 'image.base64' });
  return bytes;
}

/** Whether `url`'s host (with or without its port) is on the allow-list. */
export function urlAllowed(url: URL, allow: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  return allow.some((a) => a === host || a === hostname);
}

export async function fetchImageUrl(raw: string, limits: ImageLimits): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClipstreamError('BAD_REQUEST', 'not a valid URL', { item: 'image.url' });
  }
  if (!urlAllowed(url, limits.imageUrlAllow)) {
    const why = limits.imageUrlAllow.length === 0 ? 'no image URL hosts are allowed (QUERY_IMAGE_URL_ALLOW is empty)' : `host ${url.host} is not in QUERY_IMAGE_URL_ALLOW`;
    throw new ClipstreamError('BAD_REQUEST', `image URLs are not fetched: ${why}; upload the image instead`, { item: raw });
  }
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(limits.timeoutMs) });
  } catch (err) {
    throw new ClipstreamError('SOURCE_UNREACHABLE', `could not fetch the image: ${(err as Error).message}`, { item: raw, cause: err });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ClipstreamError(res.status === 404 ? 'SOURCE_NOT_FOUND' : 'SOURCE_UNREACHABLE', `fetching the image answered HTTP ${res.status}`, { item: raw });
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limits.maxImageBytes) {
    await res.body?.cancel();
    throw tooManyBytes(raw, declared, limits.maxImageBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.byteLength;
    if (total > limits.maxImageBytes) {
      await res.body?.cancel().catch(() => {});
      throw tooManyBytes(raw, total, limits.maxImageBytes);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, total);
}

function tooManyBytes(item: string, bytes: number, max: number): ClipstreamError {
  return new ClipstreamError('IMAGE_TOO_LARGE', `image is ${bytes} bytes or more, over the ${max}-byte limit (QUERY_MAX_IMAGE_BYTES)`, { item });
}

/** Byte and pixel limits, read from the header only (no full decode). */
export async function checkImage(bytes: Buffer, limits: Pick<ImageLimits, 'maxImageBytes' | 'maxImagePixels'>, item: string): Promise<void> {
  if (bytes.length === 0) throw new ClipstreamError('IMAGE_EMPTY', 'the image is empty', { item });
  if (bytes.length > limits.maxImageBytes) throw tooManyBytes(item, bytes.length, limits.maxImageBytes);
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new ClipstreamError('IMAGE_DECODE_FAILED', `not a readable image: ${(err as Error).message}`, { item, cause: err });
  }
  if (!width || !height) throw new ClipstreamError('IMAGE_DECODE_FAILED', 'the image has no dimensions', { item });
  if (width * height > limits.maxImagePixels) {
    throw new ClipstreamError(
      'IMAGE_TOO_LARGE',
      `image is ${width}×${height} = ${width * height} pixels, over the ${limits.maxImagePixels}-pixel limit (QUERY_MAX_IMAGE_PIXELS)`,
      { item },
    );
  }
}
