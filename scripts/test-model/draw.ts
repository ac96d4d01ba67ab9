/**
 * Product images the test model understands: a single-colour silhouette of a category on a plain
 * background. The test model finds the foreground against the border colour, matches its colour
 * with the colour prototypes and its shape with the category silhouettes, so an image drawn here
 * embeds near "red shoe", "rote Schuhe", "赤い靴"… The seed varies background shade and tint,
 * product size, position and shading, as photos of one catalogue would.
 */
import sharp from 'sharp';
import { categoryById, colourById } from './concepts.ts';
import { accumulateLineCoverage, type Placement } from './raster.ts';
import { Rng } from './prng.ts';

/** Layout ranges; the model's category templates cover the same ranges. */
export const LAYOUT = {
  /** Side of the product box as a fraction of the image's short side. */
  boxFraction: 0.72,
  scaleRange: [0.93, 1.06] as const,
  /** Maximum offset of the box centre, as a fraction of the short side. */
  maxOffset: 0.025,
};

export interface ProductImageSpec {
  /** Colour id from concepts.ts (`red`, `blue`, …). */
  colour: string;
  /** Category id from concepts.ts (`shoe`, `bag`, …). */
  category: string;
  width?: number;
  height?: number;
  seed?: number;
  format?: 'png' | 'jpeg';
  /** JPEG quality (1–100). */
  quality?: number;
}

export interface RawImage {
  /** RGB, 3 bytes per pixel, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

const clampByte = (x: number) => (x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x));

/** The product's placement for a seed, in pixels of a width×height image. */
export function productPlacement(rng: Rng, width: number, height: number): Placement {
  const short = Math.min(width, height);
  const scale = rng.range(LAYOUT.scaleRange[0], LAYOUT.scaleRange[1]);
  return {
    size: LAYOUT.boxFraction * short * scale,
    cx: width / 2 + rng.range(-LAYOUT.maxOffset, LAYOUT.maxOffset) * short,
    cy: height / 2 + rng.range(-LAYOUT.maxOffset, LAYOUT.maxOffset) * short,
  };
}

/** Draws the pixels (synchronous, deterministic for a spec). */
export function renderProductImage(spec: ProductImageSpec): RawImage {
  const width = spec.width ?? 512;
  const height = spec.height ?? 512;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width * height > 40_000_000) {
    throw new RangeError(`image size ${width}x${height} is out of range (16..; at most 40 Mpx)`);
  }
  const colour = colourById(spec.colour);
  const silhouette = categoryById(spec.category).silhouette;
  const rng = new Rng(`image:${spec.colour}:${spec.category}:${spec.seed ?? 0}`);
  const at = productPlacement(rng, width, height);

  // A light product needs a dark background, or its outline would vanish against it.
  const [pr, pg, pb] = colour.rgb;
  const luminance = (0.2126 * pr + 0.7152 * pg + 0.0722 * pb) / 255;
  const level = luminance > 0.8 ? rng.range(55, 95) : rng.range(218, 246);
  const tint = [rng.range(-5, 5), rng.range(-5, 5), rng.range(-5, 5)];
  const bgGradient = rng.range(0, 6);
  const brightness = rng.range(0.94, 1.04);
  const shading = rng.range(0, 0.05);

  const data = new Uint8Array(width * height * 3);
  const top = at.cy - at.size / 2;
  const rowCoverage = new Float64Array(width);
  const SUBROWS = 3;
  for (let y = 0; y < height; y++) {
    const g = bgGradient * (1 - (2 * y) / height);
    const bg = [level + tint[0]! + g, level + tint[1]! + g, level + tint[2]! + g];
    // Light from above: the product darkens slightly towards its bottom.
    const shade = brightness * (1 + shading * (1 - (2 * (y - top)) / at.size));
    rowCoverage.fill(0);
    if (y + 1 >= top && y <= top + at.size) {
      for (let s = 0; s < SUBROWS; s++) accumulateLineCoverage(silhouette, at, y + (s + 0.5) / SUBROWS, 1 / SUBROWS, rowCoverage);
    }
    for (let x = 0; x < width; x++) {
      const cov = Math.min(1, rowCoverage[x]!);
      const o = (y * width + x) * 3;
      data[o] = clampByte(cov * pr * shade + (1 - cov) * bg[0]!);
      data[o + 1] = clampByte(cov * pg * shade + (1 - cov) * bg[1]!);
      data[o + 2] = clampByte(cov * pb * shade + (1 - cov) * bg[2]!);
    }
  }
  return { data, width, height };
}

/** Encodes a product image as PNG (default) or JPEG. */
export async function drawProductImage(spec: ProductImageSpec): Promise<Buffer> {
  const { data, width, height } = renderProductImage(spec);
  const img = sharp(data, { raw: { width, height, channels: 3 } });
  return spec.format === 'jpeg'
    ? img.jpeg({ quality: spec.quality ?? 90 }).toBuffer()
    : img.png({ compressionLevel: 9 }).toBuffer();
}
