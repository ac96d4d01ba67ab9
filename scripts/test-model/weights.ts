/**
 * The test model's weights. Both towers first produce a small feature vector of F = C + T + I
 * numbers (C concept weights, T text-only and I image-only "everything else" coordinates) and share
 * one projection to 1024 dims, so a concept means the same direction whichever tower saw it.
 *
 * Text and image detail get disjoint coordinates: a query's filler words (the retrieval prefix,
 * articles…) must not line up with whatever distinguishes one photo from another (background
 * brightness above all), or text→image ranking would follow the background instead of the
 * product. Within one modality the detail still keeps near-duplicates close but not identical.
 *
 * The projection's rows have variance decaying with the dimension index and are orthonormal
 * within the first 64 dims and within the rest: most of the energy sits up front, as in a
 * Matryoshka-trained model, so 64-d truncation still separates every concept while 1024-d keeps
 * a little more detail.
 */
import { CATEGORIES, COLOURS } from './concepts.ts';
import { LAYOUT } from './draw.ts';
import { coverage } from './raster.ts';
import { Rng } from './prng.ts';
import { PAD_ID, type Vocabulary } from './vocabulary.ts';

export const EMBEDDING_DIM = 1024;
/** The feature directions are orthogonal within these first dims, and within the rest. */
export const HEAD_DIMS = 64;
/** "Everything else" coordinates of the text tower (filler words) and of the image tower. */
export const TEXT_DETAIL_DIMS = 16;
export const IMAGE_DETAIL_DIMS = 16;
export const CONCEPTS = COLOURS.length + CATEGORIES.length;
/** Offset of the image tower's detail coordinates in the feature vector. */
export const IMAGE_DETAIL_OFFSET = CONCEPTS + TEXT_DETAIL_DIMS;
export const FEATURES = IMAGE_DETAIL_OFFSET + IMAGE_DETAIL_DIMS;
/** Grid the image tower pools the 512×512 input to, and the coarser grid shapes are matched on. */
export const COLOUR_GRID = 32;
export const SHAPE_GRID = 16;
export const IMAGE_SIZE = 512;
/**
 * Norm of every image's detail vector, against 1 for each recognised concept: fixed, so a
 * product's colour and category weigh the same in every image's embedding.
 */
export const IMAGE_DETAIL_NORM = 0.25;

/** Template variants per category: the drawer's size and position jitter, sampled on a grid. */
const TEMPLATE_SCALES = [LAYOUT.scaleRange[0], (LAYOUT.scaleRange[0] + LAYOUT.scaleRange[1]) / 2, LAYOUT.scaleRange[1]];
const TEMPLATE_OFFSETS = [-LAYOUT.maxOffset, 0, LAYOUT.maxOffset];
export const TEMPLATE_VARIANTS = TEMPLATE_SCALES.length * TEMPLATE_OFFSETS.length * TEMPLATE_OFFSETS.length;

export interface TestModelWeights {
  /** [FEATURES, EMBEDDING_DIM] */
  projection: Float32Array;
  /** [vocab, FEATURES] */
  tokenFeatures: Float32Array;
  /** [3 * SHAPE_GRID², IMAGE_DETAIL_DIMS]: image-specific detail from the coarse pixels. */
  imageDetail: Float32Array;
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

/** Gram-Schmidt over dims [from, to) of every row; returns the unit-length pieces. */
function orthonormalBlock(rows: readonly Float32Array[], from: number, to: number): Float64Array[] {
  const block = rows.map((r) => Float64Array.from(r.subarray(from, to)));
  for (let i = 0; i < block.length; i++) {
    const v = block[i]!;
    for (let j = 0; j < i; j++) {
      const u = block[j]!;
      let dot = 0;
      for (let d = 0; d < v.length; d++) dot += v[d]! * u[d]!;
      for (let d = 0; d < v.length; d++) v[d]! -= dot * u[d]!;
    }
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n);
    for (let d = 0; d < v.length; d++) v[d]! /= n;
  }
  return block;
}

/**
 * Rows orthonormalised (Gram-Schmidt) separately over their first HEAD_DIMS entries and over the
 * rest, each part keeping the rows' average energy there: orthogonal at 64 dims and at 1024, so
 * no concept leaks into another's score at either truncation.
 */
function projectionRows(rng: Rng): Float32Array {
  if (FEATURES > HEAD_DIMS) throw new Error(`${FEATURES} features cannot be orthogonal in ${HEAD_DIMS} dims`);
  const rows = Array.from({ length: FEATURES }, () => decayingRow(rng));
  const rms = (from: number, to: number) => {
    let sum = 0;
    for (const r of rows) for (let d = from; d < to; d++) sum += r[d]! * r[d]!;
    return Math.sqrt(sum / rows.length);
  };
  const [headNorm, tailNorm] = [rms(0, HEAD_DIMS), rms(HEAD_DIMS, EMBEDDING_DIM)];
  const total = Math.hypot(headNorm, tailNorm);
  const head = orthonormalBlock(rows, 0, HEAD_DIMS);
  const tail = orthonormalBlock(rows, HEAD_DIMS, EMBEDDING_DIM);
  const out = new Float32Array(FEATURES * EMBEDDING_DIM);
  for (let i = 0; i < FEATURES; i++) {
    const row = out.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM);
    for (let d = 0; d < HEAD_DIMS; d++) row[d] = (head[i]![d]! * headNorm) / total;
    for (let d = HEAD_DIMS; d < EMBEDDING_DIM; d++) row[d] = (tail[i]![d - HEAD_DIMS]! * tailNorm) / total;
  }
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
    for (let k = CONCEPTS; k < IMAGE_DETAIL_OFFSET; k++) row[k] = spread * rng.normal();
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
  const detailRng = new Rng('image-noise');
  const detailInputs = 3 * SHAPE_GRID * SHAPE_GRID;
  const imageDetail = new Float32Array(detailInputs * IMAGE_DETAIL_DIMS);
  // Only the direction matters: the graph rescales each image's detail to IMAGE_DETAIL_NORM.
  for (let i = 0; i < imageDetail.length; i++) imageDetail[i] = detailRng.normal() / Math.sqrt(detailInputs);
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
    imageDetail,
    colourPrototypes,
    colourPrototypeNorms,
    categoryTemplates: categoryTemplates(),
  };
}
