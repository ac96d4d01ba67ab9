/**
 * The test model's weights. Both towers first produce a small feature vector of F = C + R numbers
 * (C concept weights, R "everything else" coordinates) and share one projection to 1024 dims, so a
 * concept means the same direction whichever tower saw it.
 *
 * The projection's rows have variance decaying with the dimension index and are orthonormal
 * within the first 64 dims: most of the energy sits up front, as in a Matryoshka-trained model,
 * so 64-d truncation still separates every concept while 1024-d keeps a little more detail.
 */
import { CATEGORIES, COLOURS } from './concepts.ts';
import { LAYOUT } from './draw.ts';
import { coverage } from './raster.ts';
import { Rng } from './prng.ts';
import { PAD_ID, type Vocabulary } from './vocabulary.ts';

export const EMBEDDING_DIM = 1024;
/** Dims in which the feature directions are made exactly orthogonal. */
export const HEAD_DIMS = 64;
export const NOISE_DIMS = 16;
export const CONCEPTS = COLOURS.length + CATEGORIES.length;
export const FEATURES = CONCEPTS + NOISE_DIMS;
/** Grid the image tower pools the 512×512 input to, and the coarser grid shapes are matched on. */
export const COLOUR_GRID = 32;
export const SHAPE_GRID = 16;
export const IMAGE_SIZE = 512;

/** Template variants per category: the drawer's size and position jitter, sampled on a grid. */
const TEMPLATE_SCALES = [LAYOUT.scaleRange[0], (LAYOUT.scaleRange[0] + LAYOUT.scaleRange[1]) / 2, LAYOUT.scaleRange[1]];
const TEMPLATE_OFFSETS = [-LAYOUT.maxOffset, 0, LAYOUT.maxOffset];
export const TEMPLATE_VARIANTS = TEMPLATE_SCALES.length * TEMPLATE_OFFSETS.length * TEMPLATE_OFFSETS.length;

export interface TestModelWeights {
  /** [FEATURES, EMBEDDING_DIM] */
  projection: Float32Array;
  /** [vocab, FEATURES] */
  tokenFeatures: Float32Array;
  /** [3 * SHAPE_GRID², NOISE_DIMS]: image-specific detail from the coarse pixels. */
  imageNoise: Float32Array;
  /** [3, colours]: colour prototypes in [0, 1]. */
  colourPrototypes: Float32Array;
  /** [1, colours]: squared norms of the prototypes. */
  colourPrototypeNorms: Float32Array;
  /** [SHAPE_GRID², categories * TEMPLATE_VARIANTS], unit columns. */
  categoryTemplates: Float32Array;
}

function decayingRow(rng: Rng): Float32Array {
  const row = new Float32Array(EMBEDDING_DIM);
  for (let d = 0; d < EMBEDDING_DIM; d++) row[d] = rng.normal() / (1 + d / 16);
  return row;
}

/** Rows orthonormalised (Gram-Schmidt) over their first HEAD_DIMS entries, then unit length. */
function projectionRows(rng: Rng): Float32Array {
  const rows = Array.from({ length: FEATURES }, () => decayingRow(rng));
  let headNorm = 0;
  for (const r of rows) for (let d = 0; d < HEAD_DIMS; d++) headNorm += r[d]! * r[d]!;
  headNorm = Math.sqrt(headNorm / rows.length);
  const head = rows.map((r) => Float64Array.from(r.subarray(0, HEAD_DIMS)));
  for (let i = 0; i < head.length; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let d = 0; d < HEAD_DIMS; d++) dot += head[i]![d]! * head[j]![d]!;
      for (let d = 0; d < HEAD_DIMS; d++) head[i]![d]! -= dot * head[j]![d]!;
    }
    let n = 0;
    for (let d = 0; d < HEAD_DIMS; d++) n += head[i]![d]! ** 2;
    n = Math.sqrt(n);
    for (let d = 0; d < HEAD_DIMS; d++) head[i]![d]! /= n;
  }
  const out = new Float32Array(FEATURES * EMBEDDING_DIM);
  rows.forEach((r, i) => {
    const full = Float64Array.from(r);
    for (let d = 0; d < HEAD_DIMS; d++) full[d] = head[i]![d]! * headNorm;
    let n = 0;
    for (const x of full) n += x * x;
    n = Math.sqrt(n);
    for (let d = 0; d < EMBEDDING_DIM; d++) out[i * EMBEDDING_DIM + d] = full[d]! / n;
  });
  return out;
}

/**
 * Token feature rows: a concept piece is its concept's axis plus a little word-specific detail;
 * other pieces only have small "everything else" coordinates, so they dilute but do not steer.
 */
function tokenFeatures(vocab: Vocabulary): Float32Array {
  const out = new Float32Array(vocab.pieces.length * FEATURES);
  vocab.pieces.forEach((p, id) => {
    if (id === PAD_ID) return;
    const rng = new Rng(`token:${p.piece}`);
    const row = out.subarray(id * FEATURES, (id + 1) * FEATURES);
    const spread = p.concept !== undefined ? 0.05 : id < 4 ? 0.03 : 0.12;
    for (let k = CONCEPTS; k < FEATURES; k++) row[k] = spread * rng.normal();
    if (p.concept !== undefined) row[p.concept] = 1;
  });
  return out;
}

function categoryTemplates(): Float32Array {
  const cells = SHAPE_GRID * SHAPE_GRID;
  const columns = CATEGORIES.length * TEMPLATE_VARIANTS;
  const out = new Float32Array(cells * columns);
  const cell = IMAGE_SIZE / SHAPE_GRID;
  CATEGORIES.forEach((category, k) => {
    let v = 0;
    for (const scale of TEMPLATE_SCALES) {
      for (const oy of TEMPLATE_OFFSETS) {
        for (const ox of TEMPLATE_OFFSETS) {
          const at = {
            size: LAYOUT.boxFraction * IMAGE_SIZE * scale,
            cx: IMAGE_SIZE / 2 + ox * IMAGE_SIZE,
            cy: IMAGE_SIZE / 2 + oy * IMAGE_SIZE,
          };
          const col = k * TEMPLATE_VARIANTS + v++;
          const values = new Float64Array(cells);
          let norm = 0;
          for (let gy = 0; gy < SHAPE_GRID; gy++) {
            for (let gx = 0; gx < SHAPE_GRID; gx++) {
              const c = coverage(category.silhouette, at, gx * cell, gy * cell, (gx + 1) * cell, (gy + 1) * cell, 8);
              values[gy * SHAPE_GRID + gx] = c;
              norm += c * c;
            }
          }
          norm = Math.sqrt(norm);
          for (let i = 0; i < cells; i++) out[i * columns + col] = values[i]! / norm;
        }
      }
    }
  });
  return out;
}

export function buildWeights(vocab: Vocabulary): TestModelWeights {
  const projection = projectionRows(new Rng('projection'));
  const noiseRng = new Rng('image-noise');
  const noiseInputs = 3 * SHAPE_GRID * SHAPE_GRID;
  const imageNoise = new Float32Array(noiseInputs * NOISE_DIMS);
  // Scaled so a typical image's detail vector has a norm around 0.15 of a concept's.
  for (let i = 0; i < imageNoise.length; i++) imageNoise[i] = (0.15 / Math.sqrt(noiseInputs * 0.1)) * noiseRng.normal();
  const colourPrototypes = new Float32Array(3 * COLOURS.length);
  const colourPrototypeNorms = new Float32Array(COLOURS.length);
  COLOURS.forEach((c, j) => {
    let n = 0;
    for (let ch = 0; ch < 3; ch++) {
      const v = c.rgb[ch]! / 255;
      colourPrototypes[ch * COLOURS.length + j] = v;
      n += v * v;
    }
    colourPrototypeNorms[j] = n;
  });
  return {
    projection,
    tokenFeatures: tokenFeatures(vocab),
    imageNoise,
    colourPrototypes,
    colourPrototypeNorms,
    categoryTemplates: categoryTemplates(),
  };
}
