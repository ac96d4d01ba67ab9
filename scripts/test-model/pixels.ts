/**
 * A plain jina-clip-v2 preprocessing (short side to 512 bicubic, centre crop, /255, CLIP mean/std,
 * CHW float32) for the test model's own tests and for checking drawn images. The encoder has its
 * own, tested implementation; this one only has to be faithful enough for the test model.
 */
import sharp from 'sharp';
import { IMAGE_MEAN, IMAGE_STD } from './graph.ts';
import { IMAGE_SIZE } from './weights.ts';

export async function imageToPixelValues(image: Buffer | Uint8Array): Promise<Float32Array> {
  const { data } = await sharp(image)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'cover', position: 'centre', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[i * 3 + c]! / 255 - IMAGE_MEAN[c]!) / IMAGE_STD[c]!;
  }
  return out;
}
