/**
 * PIL's resampling (Resample.c, 8 bits per channel) in JS, for the upscaling path of
 * preprocess.ts: libvips upsamples with other pixel centres and edge handling, so images whose
 * short side is below the model's size are resized here, bit for bit as PIL does.
 */

/** Size the image is resized to and where the centre crop starts, as torchvision computes them. */
export interface ResizeGeometry {
  width: number;
  height: number;
  left: number;
  top: number;
}

const PRECISION_BITS = 22; // PIL: 32 − 8 − 2
const HALF = 1 << (PRECISION_BITS - 1);

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Taps {
  /** Per output sample: first input index and tap count. */
  bounds: Int32Array;
  weights: Int32Array;
  ksize: number;
}

/** Fixed-point taps for outputs first…first+count−1 of an inSize → outSize resize. */
function pilTaps(inSize: number, outSize: number, first: number, count: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale); // antialiasing: the kernel widens when shrinking
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const ss = 1 / filterScale;
  const w = new Float64Array(ksize);
  for (let j = 0; j < count; j++) {
    const center = (first + j + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = bicubic((x + xmin - center + 0.5) * ss);
      total += w[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const k = total !== 0 ? w[x]! / total : w[x]!;
      weights[j * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[j * 2] = xmin;
    bounds[j * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resize w×h×channels (3 or 4, interleaved) to geometry.width×height like PIL's BICUBIC, computing
 * only the size×size crop window; returns packed RGB. With alpha, resamples premultiplied and
 * drops alpha afterwards, as PIL's RGBA → RGBa → resize → RGBA → RGB does.
 */
export function resampleLikePil(src: Uint8Array, w: number, h: number, channels: number, g: ResizeGeometry, size: number): Uint8Array {
  if (channels !== 3 && channels !== 4) throw new Error(`unexpected ${channels}-channel image`);
  const C = channels;
  if (C === 4) src = premultiply(src);
  const vTaps = g.height !== h ? pilTaps(h, g.height, g.top, size) : null;
  // Source rows the vertical pass reads (PIL runs the horizontal pass first, on those rows only).
  const y0 = vTaps ? vTaps.bounds[0]! : g.top;
  const y1 = vTaps ? vTaps.bounds[(size - 1) * 2]! + vTaps.bounds[(size - 1) * 2 + 1]! : g.top + size;
  const rowLen = size * C;
  const mid = g.width !== w ? horizontalPass(src, w, C, y0, y1, pilTaps(w, g.width, g.left, size)) : cropColumns(src, w, C, y0, y1, g.left, size);
  const res = vTaps ? verticalPass(mid, rowLen, y0, vTaps, size) : mid.subarray((g.top - y0) * rowLen, (g.top - y0 + size) * rowLen);
  if (C === 3) return res;
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0, p = 0, q = 0; i < size * size; i++, p += 4, q += 3) {
    const a = res[p + 3]!;
    if (a === 255 || a === 0) {
      rgb[q] = res[p]!;
      rgb[q + 1] = res[p + 1]!;
      rgb[q + 2] = res[p + 2]!;
    } else {
      rgb[q] = Math.min(255, Math.trunc((255 * res[p]!) / a));
      rgb[q + 1] = Math.min(255, Math.trunc((255 * res[p + 1]!) / a));
      rgb[q + 2] = Math.min(255, Math.trunc((255 * res[p + 2]!) / a));
    }
  }
  return rgb;
}

function cropColumns(src: Uint8Array, w: number, C: number, y0: number, y1: number, left: number, size: number): Uint8Array {
  const rowLen = size * C;
  const out = new Uint8Array((y1 - y0) * rowLen);
  for (let y = y0; y < y1; y++) out.set(src.subarray((y * w + left) * C, (y * w + left + size) * C), (y - y0) * rowLen);
  return out;
}

function horizontalPass(src: Uint8Array, w: number, C: number, y0: number, y1: number, taps: Taps): Uint8Array {
  const { bounds, weights, ksize } = taps;
  const size = bounds.length / 2;
  const out = new Uint8Array((y1 - y0) * size * C);
  for (let y = y0, d = 0; y < y1; y++) {
    const row = y * w * C;
    for (let x = 0; x < size; x++, d += C) {
      const n = bounds[x * 2 + 1]!;
      let p = row + bounds[x * 2]! * C;
      let k = x * ksize;
      const end = k + n;
      let s0 = HALF, s1 = HALF, s2 = HALF, s3 = HALF;
      if (C === 3) {
        for (; k < end; k++, p += 3) {
          const wk = weights[k]!;
          s0 += src[p]! * wk;
          s1 += src[p + 1]! * wk;
          s2 += src[p + 2]! * wk;
        }
      } else {
        for (; k < end; k++, p += 4) {
          const wk = weights[k]!;
          s0 += src[p]! * wk;
          s1 += src[p + 1]! * wk;
          s2 += src[p + 2]! * wk;
          s3 += src[p + 3]! * wk;
        }
        out[d + 3] = clip8(s3);
      }
      out[d] = clip8(s0);
      out[d + 1] = clip8(s1);
      out[d + 2] = clip8(s2);
    }
  }
  return out;
}

function verticalPass(mid: Uint8Array, rowLen: number, y0: number, taps: Taps, size: number): Uint8Array {
  const { bounds, weights, ksize } = taps;
  const out = new Uint8Array(size * rowLen);
  for (let y = 0; y < size; y++) {
    const n = bounds[y * 2 + 1]!;
    const k0 = y * ksize;
    const first = (bounds[y * 2]! - y0) * rowLen;
    const d = y * rowLen;
    if (n <= 5) {
      // Upscaling always lands here (≤ 5 taps): unrolled, weights in registers.
      const w0 = weights[k0]!, w1 = n > 1 ? weights[k0 + 1]! : 0, w2 = n > 2 ? weights[k0 + 2]! : 0;
      const w3 = n > 3 ? weights[k0 + 3]! : 0, w4 = n > 4 ? weights[k0 + 4]! : 0;
      const r0 = first, r1 = n > 1 ? r0 + rowLen : r0, r2 = n > 2 ? r1 + rowLen : r0;
      const r3 = n > 3 ? r2 + rowLen : r0, r4 = n > 4 ? r3 + rowLen : r0;
      for (let i = 0; i < rowLen; i++) {
        out[d + i] = clip8(HALF + mid[r0 + i]! * w0 + mid[r1 + i]! * w1 + mid[r2 + i]! * w2 + mid[r3 + i]! * w3 + mid[r4 + i]! * w4);
      }
    } else {
      for (let i = 0; i < rowLen; i++) {
        let sum = HALF;
        for (let k = 0, p = first + i; k < n; k++, p += rowLen) sum += mid[p]! * weights[k0 + k]!;
        out[d + i] = clip8(sum);
      }
    }
  }
  return out;
}

/** PIL's RGBA → RGBa: colour × alpha / 255 with its rounding. */
function premultiply(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let p = 0; p < src.length; p += 4) {
    const a = src[p + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = src[p + c]! * a + 128;
      out[p + c] = ((t >> 8) + t) >> 8;
    }
    out[p + 3] = a;
  }
  return out;
}
