/**
 * Image preprocessing: parity with the model's own processor, formats, orientation, errors.
 *
 * The reference tensors in test/fixtures/preprocess/ were made with
 *   scripts/make-preprocess-fixtures.sh
 * which generates the images and runs `/usr/bin/python3 /work/shared/reference/preprocess_reference.py`
 * (PIL 9.4 + torchvision 0.14, Debian packages) on them, storing gzipped float16 CHW.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { JinaCLIPImageProcessor, RawImage } from '@huggingface/transformers';
import { ClipstreamError } from '../../shared/errors.ts';
import type { ImageProcessorSettings } from '../../shared/encoder/types.ts';
import {
  checkImage,
  pixelValuesLength,
  prepareImage,
  prepareImageInto,
  probeImage,
  resizedGeometry,
} from '../../shared/encoder/preprocess.ts';
import { CORPUS_LIMITS, imageCorpus } from '../support/image-corpus.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/preprocess');
const MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const SETTINGS: ImageProcessorSettings = { size: 512, mean: MEAN, std: STD };
const LIMITS = { maxPixels: 40_000_000, maxBytes: 50 * 1024 * 1024, allowSvg: false };

function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function loadReference(name: string): Float32Array {
  const raw = gunzipSync(readFileSync(path.join(FIXTURES, `${name}.f16.gz`)));
  const out = new Float32Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = float16(raw.readUInt16LE(i * 2));
  return out;
}

function delta(a: Float32Array, b: Float32Array): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

const fmt = (d: { mean: number; max: number }) => `mean |Δ| ${d.mean.toFixed(4)}, max ${d.max.toFixed(3)}`;

/** transformers.js's own processor for this model, built offline from preprocessor_config.json's fields. */
const transformersProcessor = new JinaCLIPImageProcessor({
  image_processor_type: 'JinaCLIPImageProcessor',
  size: 512,
  resize_mode: 'shortest',
  interpolation: 'bicubic',
  fill_color: 0,
  image_mean: MEAN,
  image_std: STD,
});

async function viaTransformersJs(bytes: Buffer): Promise<Float32Array> {
  const image = await RawImage.fromBlob(new Blob([new Uint8Array(bytes)]));
  const { pixel_values } = await transformersProcessor(image);
  return pixel_values.data as Float32Array;
}

/** What a plain sharp resize gives: `fit: 'cover'` with the cubic kernel, sharp's own size and crop. */
async function viaPlainSharp(bytes: Buffer): Promise<Float32Array> {
  const { data } = await sharp(bytes).autoOrient().resize(512, 512, { fit: 'cover', kernel: 'cubic' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(pixelValuesLength(512));
  for (let c = 0; c < 3; c++) for (let i = 0; i < 512 * 512; i++) out[c * 512 * 512 + i] = (data[i * 3 + c]! / 255 - MEAN[c]!) / STD[c]!;
  return out;
}

describe('parity with the model processor (PIL + torchvision)', () => {
  for (const name of ['photo-1600x1200.jpg', 'portrait-exif6-1200x1600.jpg', 'large-3072x2048.jpg', 'grey-1024x1024.jpg', 'alpha-480x320.png', 'alpha-800x600.png']) {
    it(`${name}: mean |Δ| ≤ 0.04 and closer than transformers.js`, async (t) => {
      const bytes = readFileSync(path.join(FIXTURES, name));
      const reference = loadReference(name);
      const ours = delta(await prepareImage(bytes, SETTINGS, LIMITS, name), reference);
      const tjs = delta(await viaTransformersJs(bytes), reference);
      const plain = delta(await viaPlainSharp(bytes), reference);
      t.diagnostic(`${name}: clipstream ${fmt(ours)} | transformers.js ${fmt(tjs)} | plain sharp cubic ${fmt(plain)}`);
      assert.ok(ours.mean <= 0.04, `mean |Δ| ${ours.mean}`);
      assert.ok(ours.mean < tjs.mean, `clipstream ${ours.mean} vs transformers.js ${tjs.mean}`);
    });
  }
});

describe('resizedGeometry (torchvision Resize + CenterCrop arithmetic)', () => {
  it('truncates the long side and centres the crop', () => {
    assert.deepEqual(resizedGeometry(1600, 1200, 512), { width: 682, height: 512, left: 85, top: 0 });
    assert.deepEqual(resizedGeometry(1200, 1600, 512), { width: 512, height: 682, left: 0, top: 85 });
    assert.deepEqual(resizedGeometry(1000, 333, 512), { width: 1537, height: 512, left: 512, top: 0 });
    assert.deepEqual(resizedGeometry(700, 700, 512), { width: 512, height: 512, left: 0, top: 0 });
  });
  it("rounds odd margins half-to-even like Python's round()", () => {
    assert.equal(resizedGeometry(513, 512, 512).left, 0); // 0.5 → 0
    assert.equal(resizedGeometry(515, 512, 512).left, 2); // 1.5 → 2
    assert.equal(resizedGeometry(517, 512, 512).left, 2); // 2.5 → 2
  });
});

describe('shapes and batch slots', () => {
  it('fills one slot of a batch tensor and leaves the others alone', async () => {
    const bytes = readFileSync(path.join(FIXTURES, 'grey-1024x1024.jpg'));
    const per = pixelValuesLength(512);
    const batch = new Float32Array(per * 3).fill(NaN);
    await prepareImageInto(batch, per, bytes, SETTINGS, LIMITS, 'grey');
    const alone = await prepareImage(bytes, SETTINGS, LIMITS, 'grey');
    assert.equal(alone.length, 3 * 512 * 512);
    assert.deepEqual(batch.subarray(per, 2 * per), alone);
    assert.ok(batch.subarray(0, per).every(Number.isNaN));
    assert.ok(batch.subarray(2 * per).every(Number.isNaN));
    await assert.rejects(prepareImageInto(batch, 2 * per + 1, bytes, SETTINGS, LIMITS), RangeError);
  });
  it('honours another size from the settings', async () => {
    const bytes = readFileSync(path.join(FIXTURES, 'photo-1600x1200.jpg'));
    const small = await prepareImage(bytes, { ...SETTINGS, size: 224 }, LIMITS);
    assert.equal(small.length, 3 * 224 * 224);
    assert.ok(small.every(Number.isFinite));
  });
});

describe('probeImage and checkImage', () => {
  it('reports EXIF-oriented size, orientation and frames', async () => {
    const portrait = await probeImage(readFileSync(path.join(FIXTURES, 'portrait-exif6-1200x1600.jpg')));
    assert.deepEqual(portrait, { format: 'jpeg', width: 1200, height: 1600, pages: 1, orientation: 6, hasAlpha: false });
    const corpus = await imageCorpus();
    const gif = await probeImage(corpus.find((c) => c.name === 'animated.gif')!.bytes);
    assert.equal(gif.pages, 2);
    assert.equal(gif.height, 60);
    assert.equal((await probeImage(corpus.find((c) => c.name === 'image.avif')!.bytes)).format, 'avif');
  });
  it('accepts exactly maxPixels and refuses one pixel more', async () => {
    const png = (await imageCorpus()).find((c) => c.name === 'rgb.png')!.bytes;
    await checkImage(png, { ...CORPUS_LIMITS, maxPixels: 600 * 540 });
    await assert.rejects(checkImage(png, { ...CORPUS_LIMITS, maxPixels: 600 * 540 - 1 }, 'rgb.png'), { code: 'IMAGE_TOO_LARGE' });
  });
});

describe('image corpus: every awkward-but-valid format works, every bad input names itself', async () => {
  const corpus = await imageCorpus();
  // Each test prepares what it compares against itself (memoised), so none relies on another having run.
  const memo = new Map<string, Promise<Float32Array>>();
  const prepared = (name: string): Promise<Float32Array> => {
    let p = memo.get(name);
    if (!p) {
      const image = corpus.find((c) => c.name === name);
      assert.ok(image, `${name} is in the corpus`);
      p = prepareImage(image.bytes, SETTINGS, CORPUS_LIMITS, name);
      memo.set(name, p);
    }
    return p;
  };
  for (const image of corpus) {
    it(`${image.name} → ${image.expect}`, async () => {
      if (image.expect !== 'ok') {
        await assert.rejects(prepareImage(image.bytes, SETTINGS, CORPUS_LIMITS, `s3://bucket/${image.name}`), (err: unknown) => {
          assert.ok(err instanceof ClipstreamError, `not a ClipstreamError: ${String(err)}`);
          assert.equal(err.code, image.expect);
          assert.equal(err.item, `s3://bucket/${image.name}`);
          assert.ok(err.message.startsWith(`s3://bucket/${image.name}: `), err.message);
          return true;
        });
        return;
      }
      const x = await prepared(image.name);
      assert.equal(x.length, 3 * 512 * 512);
      assert.ok(x.every(Number.isFinite));
      if (image.like) {
        const other = await prepared(image.like.name);
        const d = delta(x, other);
        assert.ok(d.mean <= image.like.meanDelta, `${image.name} vs ${image.like.name}: ${fmt(d)} > ${image.like.meanDelta}`);
      }
      if (image.grey) {
        const plane = 512 * 512;
        for (let i = 0; i < plane; i += 97) {
          const v = [0, 1, 2].map((c) => (x[c * plane + i]! * STD[c]! + MEAN[c]!) * 255);
          assert.ok(Math.abs(v[0]! - v[1]!) < 0.01 && Math.abs(v[1]! - v[2]!) < 0.01, `pixel ${i}: ${v.join(', ')}`);
        }
      }
    });
  }
  it('a fully transparent area comes out black, as after PIL premultiplied resize', async () => {
    const x = await prepared('alpha.png');
    const black = (0 - MEAN[0]) / STD[0];
    assert.ok(Math.abs(x[100 * 512 + 10]! - black) < 1e-6, `red at (10, 100) is ${x[100 * 512 + 10]}`);
  });
  it('an animated GIF gives its first frame, not the second', async () => {
    const d = delta(await prepared('animated.gif'), await prepared('first-frame.gif'));
    assert.ok(d.mean < 0.02, fmt(d));
  });
  it('SVG is rendered when allowed', async () => {
    const svg = corpus.find((c) => c.name === 'prolog.svg')!.bytes;
    const x = await prepareImage(svg, SETTINGS, { ...CORPUS_LIMITS, allowSvg: true }, 'prolog.svg');
    const plane = 512 * 512;
    const rgb = [0, 1, 2].map((c) => Math.round((x[c * plane + plane / 2 + 256]! * STD[c]! + MEAN[c]!) * 255) + 0);
    assert.deepEqual(rgb, [255, 0, 0]);
  });
});
