/**
 * The test model's ONNX graph, with jina-clip-v2's exact signature:
 *   inputs  input_ids int64 [text_batch, sequence], pixel_values float32 [image_batch, 3, 512, 512]
 *   outputs text_embeddings [text_batch, 1024], image_embeddings [image_batch, 1024],
 *           l2norm_text_embeddings, l2norm_image_embeddings
 * The two batch dims have different names so either may be 0 (text-only and image-only calls).
 *
 * Text tower: mean of the token feature rows over non-pad ids (pad = 1, no attention_mask), then
 * the shared projection. Image tower: pool to a 32×32 grid, undo the CLIP normalisation, take
 * the border colour as background, softly segment the foreground, softmax its colour against the
 * colour prototypes and its 16×16 mask against the category templates, add a little image detail
 * (fixed norm, in coordinates no text reaches), then the shared projection. So a text→image score
 * depends on colour and category agreement, not on the backdrop or on filler words.
 *
 * `heavy` adds N residual tanh blocks over 1024 image patches (and over the text tokens) whose
 * result enters the embeddings scaled by 1e-6: compute without meaning, for benchmarks.
 */
import { CATEGORIES, COLOURS } from './concepts.ts';
import { GraphBuilder } from './onnx-builder.ts';
import { Rng } from './prng.ts';
import {
  COLOUR_GRID,
  CONCEPTS,
  EMBEDDING_DIM,
  FEATURES,
  IMAGE_DETAIL_DIMS,
  IMAGE_DETAIL_NORM,
  IMAGE_DETAIL_OFFSET,
  IMAGE_SIZE,
  SHAPE_GRID,
  TEMPLATE_VARIANTS,
  type TestModelWeights,
} from './weights.ts';

/** CLIP normalisation used by jina-clip-v2's preprocessor. */
export const IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const IMAGE_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Foreground = colour distance from the background above ~THRESHOLD (RGB in [0, 1]). */
const FG_THRESHOLD = 0.1;
const FG_SHARPNESS = 40;
/** Softmax temperatures: small, so the nearest colour / best-matching silhouette dominates. */
const COLOUR_TEMPERATURE = 0.01;
const SHAPE_TEMPERATURE = 0.02;
/** Width of the heavy blocks and the weight of their (meaningless) contribution. */
const HEAVY_WIDTH = 256;
const HEAVY_EPSILON = 1e-6;
const PATCH = 16;
export const OPSET = 17;

export interface GraphOptions {
  vocabSize: number;
  heavy: number;
}

export function buildGraph(w: TestModelWeights, opts: GraphOptions): Uint8Array {
  const g = new GraphBuilder();
  const ids = g.input('input_ids', 'int64', ['text_batch', 'sequence']);
  const pixels = g.input('pixel_values', 'float', ['image_batch', 3, IMAGE_SIZE, IMAGE_SIZE]);

  const projection = g.floats('projection', [FEATURES, EMBEDDING_DIM], w.projection);
  const axes = (name: string, values: number[]) => g.int64s(name, [values.length], values);
  const ax1 = axes('axes_1', [1]);
  const one = g.scalar('one', 1);
  const tiny = g.scalar('tiny', 1e-12);
  /** Rows of a [batch, n] tensor scaled to unit length. */
  const unitRows = (x: string, out?: string) =>
    g.op('Div', [x, g.op('Max', [g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [x, x]), ax1], { keepdims: { i: 1 } })]), tiny])], {}, out);

  // ---- Text tower -------------------------------------------------------------------------
  const table = g.floats('token_features', [opts.vocabSize, FEATURES], w.tokenFeatures);
  const tokens = g.op('Gather', [table, ids], { axis: { i: 0 } }, 'token_rows');
  const isPad = g.op('Equal', [ids, g.int64s('pad_id', [], [1])]);
  const keep = g.op('Cast', [g.op('Not', [isPad])], { to: { i: 1 } }, 'token_mask');
  const keep3 = g.op('Unsqueeze', [keep, axes('axes_2', [2])]);
  const summed = g.op('ReduceSum', [g.op('Mul', [tokens, keep3]), ax1], { keepdims: { i: 0 } });
  const count = g.op('ReduceSum', [keep, ax1], { keepdims: { i: 1 } });
  const textFeatures = g.op('Div', [summed, g.op('Max', [count, one])], {}, 'text_features');
  let textEmbedding = g.op('MatMul', [textFeatures, projection]);

  // ---- Image tower ------------------------------------------------------------------------
  const pool = IMAGE_SIZE / COLOUR_GRID;
  const grid = g.op('AveragePool', [pixels], { kernel_shape: { ints: [pool, pool] }, strides: { ints: [pool, pool] } });
  const rgb = g.op(
    'Add',
    [g.op('Mul', [grid, g.floats('image_std', [1, 3, 1, 1], [...IMAGE_STD])]), g.floats('image_mean', [1, 3, 1, 1], [...IMAGE_MEAN])],
    {},
    'grid_rgb',
  );
  const border = new Float32Array(COLOUR_GRID * COLOUR_GRID);
  let borderCells = 0;
  for (let y = 0; y < COLOUR_GRID; y++) {
    for (let x = 0; x < COLOUR_GRID; x++) {
      if (x === 0 || y === 0 || x === COLOUR_GRID - 1 || y === COLOUR_GRID - 1) {
        border[y * COLOUR_GRID + x] = 1 / (4 * COLOUR_GRID - 4);
        borderCells++;
      }
    }
  }
  if (borderCells !== 4 * COLOUR_GRID - 4) throw new Error('border mask');
  const ax23 = axes('axes_23', [2, 3]);
  const background = g.op('ReduceSum', [g.op('Mul', [rgb, g.floats('border', [1, 1, COLOUR_GRID, COLOUR_GRID], border)]), ax23], {
    keepdims: { i: 1 },
  });
  const diff = g.op('Sub', [rgb, background]);
  const dist2 = g.op('ReduceSum', [g.op('Mul', [diff, diff]), ax1], { keepdims: { i: 1 } }, 'background_distance2');
  const dist = g.op('Sqrt', [dist2]);
  const mask = g.op(
    'Sigmoid',
    [g.op('Mul', [g.op('Sub', [dist, g.scalar('fg_threshold', FG_THRESHOLD)]), g.scalar('fg_sharpness', FG_SHARPNESS)])],
    {},
    'foreground_mask',
  );

  // Colour: mean foreground colour, cells far from the background weighing most (edge cells mix
  // in the background), then a softmax over negative squared distances to the prototypes.
  const colourWeight = g.op('Mul', [mask, dist2]);
  const weightSum = g.op('ReduceSum', [colourWeight, ax23], { keepdims: { i: 1 } });
  const fgSum = g.op('ReduceSum', [g.op('Mul', [rgb, colourWeight]), ax23], { keepdims: { i: 1 } });
  const fg = g.op('Flatten', [g.op('Div', [fgSum, g.op('Max', [weightSum, tiny])])], { axis: { i: 1 } }, 'foreground_rgb');
  const fgNorm2 = g.op('ReduceSum', [g.op('Mul', [fg, fg]), ax1], { keepdims: { i: 1 } });
  const fgDotProto = g.op('MatMul', [fg, g.floats('colour_prototypes', [3, COLOURS.length], w.colourPrototypes)]);
  const colourDist2 = g.op('Add', [
    g.op('Sub', [fgNorm2, g.op('Mul', [fgDotProto, g.scalar('two', 2)])]),
    g.floats('colour_prototype_norms', [1, COLOURS.length], w.colourPrototypeNorms),
  ]);
  const colourSoftmax = g.op(
    'Softmax',
    [g.op('Mul', [colourDist2, g.scalar('neg_inv_colour_temperature', -1 / COLOUR_TEMPERATURE)])],
    { axis: { i: 1 } },
  );
  // Unit length rather than unit sum: an image whose colour sits between two prototypes still
  // carries as much colour evidence as any other, split between the two (same for categories).
  const colourWeights = unitRows(colourSoftmax, 'colour_weights');

  // Category: cosine of the coarse mask with each silhouette template, best variant per category.
  const shapePool = COLOUR_GRID / SHAPE_GRID;
  const coarse = g.op('Flatten', [g.op('AveragePool', [mask], { kernel_shape: { ints: [shapePool, shapePool] }, strides: { ints: [shapePool, shapePool] } })], {
    axis: { i: 1 },
  });
  const coarseNorm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [coarse, coarse]), ax1], { keepdims: { i: 1 } })]);
  const unitMask = g.op('Div', [coarse, g.op('Max', [coarseNorm, g.scalar('mask_eps', 1e-6)])]);
  const templates = g.floats('category_templates', [SHAPE_GRID * SHAPE_GRID, CATEGORIES.length * TEMPLATE_VARIANTS], w.categoryTemplates);
  const cosines = g.op('Reshape', [
    g.op('MatMul', [unitMask, templates]),
    // 0 copies the batch dim, which keeps an empty image batch reshapeable.
    g.int64s('template_shape', [3], [0, CATEGORIES.length, TEMPLATE_VARIANTS]),
  ]);
  const best = g.op('ReduceMax', [cosines], { axes: { ints: [2] }, keepdims: { i: 0 } });
  const categoryWeights = unitRows(g.op('Softmax', [g.op('Mul', [best, g.scalar('inv_shape_temperature', 1 / SHAPE_TEMPERATURE)])], { axis: { i: 1 } }), 'category_weights');

  // Image detail: a fixed random projection of the coarse colours relative to the background, so
  // two images of one concept are close but not identical. Relative, so a dark studio backdrop
  // does not move an image further than its product does; into image-only coordinates (padded
  // past the text tower's), so no query word can prefer one backdrop to another.
  const coarseRgb = g.op('AveragePool', [rgb], { kernel_shape: { ints: [shapePool, shapePool] }, strides: { ints: [shapePool, shapePool] } });
  const relative = g.op('Flatten', [g.op('Sub', [coarseRgb, background])], { axis: { i: 1 } });
  const rawDetail = g.op('MatMul', [relative, g.floats('image_detail', [3 * SHAPE_GRID * SHAPE_GRID, IMAGE_DETAIL_DIMS], w.imageDetail)]);
  const detail = g.op('Mul', [unitRows(rawDetail), g.scalar('image_detail_norm', IMAGE_DETAIL_NORM)]);
  const detailPadded = g.op('Pad', [detail, g.int64s('image_detail_pads', [4], [0, IMAGE_DETAIL_OFFSET - CONCEPTS, 0, 0])]);
  const imageFeatures = g.op('Concat', [colourWeights, categoryWeights, detailPadded], { axis: { i: 1 } }, 'image_features');
  let imageEmbedding = g.op('MatMul', [imageFeatures, projection]);
  if (CONCEPTS !== COLOURS.length + CATEGORIES.length || IMAGE_DETAIL_OFFSET + IMAGE_DETAIL_DIMS !== FEATURES) throw new Error('feature layout');

  // ---- Optional heavy compute -------------------------------------------------------------
  if (opts.heavy > 0) {
    const rng = new Rng('heavy');
    const gaussian = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
    const blocks = Array.from({ length: opts.heavy }, (_, i) =>
      g.floats(`heavy_block_${i}`, [HEAVY_WIDTH, HEAVY_WIDTH], gaussian(HEAVY_WIDTH * HEAVY_WIDTH, 1 / Math.sqrt(HEAVY_WIDTH))),
    );
    const alpha = g.scalar('heavy_alpha', 0.5);
    const epsilon = g.scalar('heavy_epsilon', HEAVY_EPSILON);
    const run = (x: string) => {
      for (const b of blocks) x = g.op('Add', [x, g.op('Mul', [g.op('Tanh', [g.op('MatMul', [x, b])]), alpha])]);
      // [batch, n, width] → [batch, 1]
      return g.op('Mul', [g.op('ReduceMean', [x], { axes: { ints: [1, 2] }, keepdims: { i: 0 } }), epsilon]);
    };
    const n = IMAGE_SIZE / PATCH;
    // Patchify with reshapes (not Conv) so a zero-image batch stays valid.
    const patches = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [pixels, g.int64s('patch_split', [6], [0, 3, n, PATCH, n, PATCH])])], { perm: { ints: [0, 2, 4, 1, 3, 5] } }),
      g.int64s('patch_merge', [3], [0, n * n, 3 * PATCH * PATCH]),
    ]);
    const patchEmbed = g.floats('heavy_patch_embed', [3 * PATCH * PATCH, HEAVY_WIDTH], gaussian(3 * PATCH * PATCH * HEAVY_WIDTH, 1 / Math.sqrt(3 * PATCH * PATCH)));
    const imageExtra = g.op('Unsqueeze', [run(g.op('MatMul', [patches, patchEmbed])), ax1]);
    imageEmbedding = g.op('Add', [imageEmbedding, imageExtra]);
    const tokenEmbed = g.floats('heavy_token_embed', [FEATURES, HEAVY_WIDTH], gaussian(FEATURES * HEAVY_WIDTH, 1));
    const textExtra = g.op('Unsqueeze', [run(g.op('MatMul', [tokens, tokenEmbed])), ax1]);
    textEmbedding = g.op('Add', [textEmbedding, textExtra]);
  }

  // ---- Outputs ----------------------------------------------------------------------------
  g.op('Identity', [textEmbedding], {}, 'text_embeddings');
  g.op('Identity', [imageEmbedding], {}, 'image_embeddings');
  unitRows('text_embeddings', 'l2norm_text_embeddings');
  unitRows('image_embeddings', 'l2norm_image_embeddings');
  g.output('text_embeddings', 'float', ['text_batch', EMBEDDING_DIM]);
  g.output('image_embeddings', 'float', ['image_batch', EMBEDDING_DIM]);
  g.output('l2norm_text_embeddings', 'float', ['text_batch', EMBEDDING_DIM]);
  g.output('l2norm_image_embeddings', 'float', ['image_batch', EMBEDDING_DIM]);

  return g.build({
    graphName: 'clipstream_test_tiny',
    producer: 'clipstream scripts/make-test-model.ts',
    docString:
      'Tiny deterministic stand-in for jinaai/jina-clip-v2 with the same inputs and outputs. ' +
      'Knows colours and product categories in 11 languages; not a real model.',
    opset: OPSET,
    metadata: { clipstream_test_model: 'true', heavy: String(opts.heavy) },
  });
}
