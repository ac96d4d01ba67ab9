/**
 * Awkward-but-valid and bad images, generated in memory in well under a second, for the
 * preprocessing tests and the ingestion pipeline tests. `expect` assumes CORPUS_LIMITS.
 */
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import type { ErrorCode } from '../../shared/errors.ts';
import type { ImageLimits } from '../../shared/encoder/preprocess.ts';

export interface CorpusImage {
  name: string;
  bytes: Buffer;
  expect: 'ok' | ErrorCode;
  /**
   * Another corpus image this one must reproduce, and the mean |Δ| (normalised units) the
   * format's loss allows: lossless formats ~0, lossy ones more.
   */
  like?: { name: string; meanDelta: number };
  /** Decodes to grey: the three channels hold the same 0–255 values. */
  grey?: boolean;
}

/** Pixel limit as the config default; the byte limit small enough that one item exceeds it cheaply. */
export const CORPUS_LIMITS: ImageLimits = { maxPixels: 40_000_000, maxBytes: 4 * 1024 * 1024, allowSvg: false };

let cached: Promise<readonly CorpusImage[]> | undefined;

/** The corpus, built once per process. */
export function imageCorpus(): Promise<readonly CorpusImage[]> {
  cached ??= buildCorpus();
  return cached;
}

/** Deterministic scene: gradients, flat blocks with hard edges, 1 px stripes, hashed noise. RGB. */
export function sceneRgb(width: number, height: number, seed = 1): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let h = Math.imul(x * 374761393 + y * 668265263 + seed * 2147483647, 1274126177);
      h = (h ^ (h >>> 13)) >>> 0;
      const n = (h % 21) - 10;
      const u = x / width;
      const v = y / height;
      let r = 40 + 180 * u + n;
      let g = 60 + 150 * v + n;
      let b = 200 - 120 * (u + v) / 2 + n;
      if (u > 0.15 && u < 0.35 && v > 0.2 && v < 0.6) [r, g, b] = [220, 40, 30];
      if (u > 0.6 && u < 0.85 && v > 0.55 && v < 0.9) [r, g, b] = [30, 160, 70];
      if (u > 0.45 && u < 0.55 && v > 0.1 && v < 0.4) r = g = b = x % 2 === 0 ? 20 : 235;
      const i = (y * width + x) * 3;
      px[i] = clamp(r);
      px[i + 1] = clamp(g);
      px[i + 2] = clamp(b);
    }
  }
  return px;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

const raw = (data: Buffer, width: number, height: number, channels: 1 | 3 | 4) => sharp(data, { raw: { width, height, channels } });

async function buildCorpus(): Promise<readonly CorpusImage[]> {
  // Short side 540: the resize path (a slight downscale).
  const W = 600;
  const H = 540;
  const rgb = sceneRgb(W, H);
  const png = await raw(rgb, W, H, 3).png().toBuffer();
  const jpeg = await raw(rgb, W, H, 3).jpeg({ quality: 92 }).toBuffer();
  const items: CorpusImage[] = [
    { name: 'rgb.png', bytes: png, expect: 'ok' },
    { name: 'rgb-16bit.png', bytes: await raw(rgb, W, H, 3).toColourspace('rgb16').png().toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 0.01 } },
    { name: 'lossless.webp', bytes: await raw(rgb, W, H, 3).webp({ lossless: true, effort: 0 }).toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 1e-6 } },
    { name: 'lossy.webp', bytes: await raw(rgb, W, H, 3).webp({ quality: 90 }).toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 0.08 } },
    { name: 'lzw.tiff', bytes: await raw(rgb, W, H, 3).tiff({ compression: 'lzw' }).toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 1e-6 } },
    { name: 'image.avif', bytes: await raw(rgb, W, H, 3).avif({ quality: 70, effort: 0 }).toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 0.1 } },
    { name: 'baseline.jpg', bytes: jpeg, expect: 'ok', like: { name: 'rgb.png', meanDelta: 0.05 } },
    { name: 'progressive.jpg', bytes: await raw(rgb, W, H, 3).jpeg({ quality: 92, progressive: true }).toBuffer(), expect: 'ok', like: { name: 'baseline.jpg', meanDelta: 0.02 } },
    { name: 'cmyk.jpg', bytes: await raw(rgb, W, H, 3).toColourspace('cmyk').jpeg({ quality: 92 }).toBuffer(), expect: 'ok', like: { name: 'rgb.png', meanDelta: 0.2 } },
    { name: 'grey.jpg', bytes: await raw(rgb, W, H, 3).greyscale().jpeg({ quality: 92 }).toBuffer(), expect: 'ok', grey: true },
    { name: 'grey-16bit.png', bytes: await raw(rgb, W, H, 3).greyscale().toColourspace('grey16').png().toBuffer(), expect: 'ok', grey: true },
    ...(await orientedJpegs(rgb, W, H, 'baseline.jpg', '')),
    ...(await alphaPair(W, H, '')),
  ];

  // Short side below 512: the upscaling path.
  const w = 90;
  const h = 60;
  const small = sceneRgb(w, h, 2);
  items.push(
    { name: 'small.png', bytes: await raw(small, w, h, 3).png().toBuffer(), expect: 'ok' },
    { name: 'small.jpg', bytes: await raw(small, w, h, 3).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer(), expect: 'ok', like: { name: 'small.png', meanDelta: 0.05 } },
    ...(await orientedJpegs(small, w, h, 'small.jpg', 'small-')),
    ...(await alphaPair(w, h, 'small-')),
    // Colour quantisation is slow, so the palette formats use the small scene.
    { name: 'palette.png', bytes: await raw(small, w, h, 3).png({ palette: true, colours: 256, dither: 0 }).toBuffer(), expect: 'ok', like: { name: 'small.png', meanDelta: 0.1 } },
    ...(await animatedGif(w, h)),
    { name: 'tiny-1x1.png', bytes: await raw(Buffer.from([200, 100, 50]), 1, 1, 3).png().toBuffer(), expect: 'ok' },
    { name: 'panorama-1200x60.png', bytes: await raw(sceneRgb(1200, 60, 3), 1200, 60, 3).png().toBuffer(), expect: 'ok' },
  );

  items.push(
    { name: 'empty.jpg', bytes: Buffer.alloc(0), expect: 'IMAGE_EMPTY' },
    { name: 'random-bytes.jpg', bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 24) & 0xff)), expect: 'IMAGE_DECODE_FAILED' },
    { name: 'error-page.jpg', bytes: Buffer.from('<html><body><h1>404 Not Found</h1></body></html>\n'), expect: 'IMAGE_DECODE_FAILED' },
    { name: 'truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), expect: 'IMAGE_DECODE_FAILED' },
    { name: 'truncated.png', bytes: png.subarray(0, Math.floor(png.length * 0.6)), expect: 'IMAGE_DECODE_FAILED' },
    { name: 'corrupt-scan.jpg', bytes: corruptScan(jpeg), expect: 'IMAGE_DECODE_FAILED' },
    { name: 'bomb-100mp.png', bytes: oneBitPng(10_000, 10_000), expect: 'IMAGE_TOO_LARGE' },
    // Header claims 900 MP, the data is junk: TOO_LARGE (not DECODE_FAILED) shows the header decides first.
    { name: 'bomb-header-only.png', bytes: pngFile(30_000, 30_000, 8, 2, Buffer.from('not a zlib stream')), expect: 'IMAGE_TOO_LARGE' },
    { name: 'over-byte-limit.png', bytes: Buffer.concat([png, Buffer.alloc(CORPUS_LIMITS.maxBytes + 1 - png.length)]), expect: 'IMAGE_TOO_LARGE' },
    { name: 'external-file.svg', bytes: Buffer.from(SVG_EXTERNAL), expect: 'IMAGE_FORMAT_REFUSED' },
    { name: 'prolog.svg', bytes: Buffer.from(`\ufeff<?xml version="1.0"?>\n<!-- logo -->\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>`), expect: 'IMAGE_FORMAT_REFUSED' },
  );
  return items;
}

const SVG_EXTERNAL = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">
  <image xlink:href="file:///etc/passwd" width="64" height="64"/>
  <image href="http://169.254.169.254/latest/meta-data/" width="64" height="64"/>
</svg>`;

/** Every EXIF orientation 2–8: pixels stored so that applying the tag gives the upright scene. */
async function orientedJpegs(rgb: Buffer, w: number, h: number, upright: string, prefix: string): Promise<CorpusImage[]> {
  // Steps run one sharp call each, in order (within one call sharp fixes its own order).
  const stored: Array<[number, Array<(s: Sharp) => Sharp>]> = [
    [2, [(s) => s.flop()]],
    [3, [(s) => s.rotate(180)]],
    [4, [(s) => s.flip()]],
    [5, [(s) => s.rotate(90), (s) => s.flop()]], // transpose
    [6, [(s) => s.rotate(270)]],
    [7, [(s) => s.rotate(270), (s) => s.flop()]], // transverse
    [8, [(s) => s.rotate(90)]],
  ];
  const out: CorpusImage[] = [];
  for (const [orientation, steps] of stored) {
    let pixels = { data: rgb, info: { width: w, height: h } };
    for (const step of steps) pixels = await step(raw(pixels.data, pixels.info.width, pixels.info.height, 3)).raw().toBuffer({ resolveWithObject: true });
    const bytes = await raw(pixels.data, pixels.info.width, pixels.info.height, 3)
      .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation })
      .toBuffer();
    out.push({ name: `${prefix}exif-orientation-${orientation}.jpg`, bytes, expect: 'ok', like: { name: upright, meanDelta: 0.05 } });
  }
  return out;
}

/**
 * A cut-out whose transparent half hides white pixels, and the same scene composited onto black:
 * after PIL's premultiplied resize, fully transparent pixels come out black.
 */
async function alphaPair(w: number, h: number, prefix: string): Promise<CorpusImage[]> {
  const rgb = sceneRgb(w, h, 4);
  const rgba = Buffer.alloc(w * h * 4);
  const onBlack = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const opaque = i % w >= w / 2;
    for (let c = 0; c < 3; c++) {
      rgba[i * 4 + c] = opaque ? rgb[i * 3 + c]! : 255;
      onBlack[i * 3 + c] = opaque ? rgb[i * 3 + c]! : 0;
    }
    rgba[i * 4 + 3] = opaque ? 255 : 0;
  }
  return [
    { name: `${prefix}on-black.png`, bytes: await raw(onBlack, w, h, 3).png().toBuffer(), expect: 'ok' },
    // Only the columns next to the alpha edge may differ (unpremultiplied there); compositing onto
    // white instead would put the mean |Δ| near 1.
    { name: `${prefix}alpha.png`, bytes: await raw(rgba, w, h, 4).png().toBuffer(), expect: 'ok', like: { name: `${prefix}on-black.png`, meanDelta: 0.05 } },
  ];
}

/** Two frames, red-ish scene then its negative; only the first may be used. */
async function animatedGif(w: number, h: number): Promise<CorpusImage[]> {
  const first = sceneRgb(w, h, 5);
  const second = Buffer.from(first.map((v) => 255 - v));
  const frames = Buffer.concat([first, second]);
  const gif = await sharp(frames, { raw: { width: w, height: h * 2, channels: 3, pageHeight: h } }).gif({ delay: [100, 100] }).toBuffer();
  const still = await raw(first, w, h, 3).gif().toBuffer();
  return [
    { name: 'first-frame.gif', bytes: still, expect: 'ok' },
    { name: 'animated.gif', bytes: gif, expect: 'ok', like: { name: 'first-frame.gif', meanDelta: 0.02 } },
  ];
}

/**
 * Drops a fifth of the entropy-coded data (a transfer resumed at the wrong offset), header intact.
 * libjpeg notices that; junk that happens to contain no 0xFF byte can decode silently.
 */
function corruptScan(jpeg: Buffer): Buffer {
  return Buffer.concat([jpeg.subarray(0, Math.floor(jpeg.length * 0.4)), jpeg.subarray(Math.floor(jpeg.length * 0.6))]);
}

/** A valid 1-bit greyscale PNG of zeros: 100 MP in ~12 KB. */
function oneBitPng(width: number, height: number): Buffer {
  const row = Buffer.alloc(1 + Math.ceil(width / 8));
  const all = Buffer.alloc(row.length * height);
  return pngFile(width, height, 1, 0, deflateSync(all, { level: 9 }));
}

function pngFile(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
