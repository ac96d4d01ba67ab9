/**
 * Turning a query image — an upload or base64 text (URLs: image-url.ts) — into checked bytes.
 * Sizes are checked before decoding (bytes) and from the header alone (pixels), so an oversized
 * or decompression-bomb image is refused with 413 before any real work is spent on it.
 */
import sharp from 'sharp';
import { ClipstreamError } from '../../shared/errors.ts';

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
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

export function tooManyBytes(item: string, bytes: number, max: number): ClipstreamError {
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
