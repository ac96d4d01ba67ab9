/**
 * Point-in-silhouette tests shared by the image drawer and the model generator: the category
 * templates inside the graph are rasterised by the same code that draws product images, so the
 * two cannot drift apart. Pure arithmetic (no sharp, no fonts), hence byte-for-byte reproducible.
 */
import type { Primitive } from './concepts.ts';

/** Where a product's unit box lands in an image, in pixels. */
export interface Placement {
  /** Centre of the box. */
  cx: number;
  cy: number;
  /** Side of the (square) box. */
  size: number;
}

/** Intervals [u0, u1] of the unit box's row v that lie inside the silhouette, merged and sorted. */
export function rowSpans(silhouette: readonly Primitive[], v: number): [number, number][] {
  const spans: [number, number][] = [];
  const ellipseSpan = (cx: number, cy: number, rx: number, ry: number): [number, number] | undefined => {
    const dy = (v - cy) / ry;
    if (dy * dy > 1) return undefined;
    const half = rx * Math.sqrt(1 - dy * dy);
    return [cx - half, cx + half];
  };
  for (const p of silhouette) {
    switch (p.kind) {
      case 'rect':
        if (v >= p.y0 && v <= p.y1) spans.push([p.x0, p.x1]);
        break;
      case 'ellipse': {
        const s = ellipseSpan(p.cx, p.cy, p.rx, p.ry);
        if (s) spans.push(s);
        break;
      }
      case 'ring': {
        const outer = ellipseSpan(p.cx, p.cy, p.rx, p.ry);
        if (!outer) break;
        const inner = ellipseSpan(p.cx, p.cy, p.rx - p.thickness, p.ry - p.thickness);
        if (!inner) spans.push(outer);
        else spans.push([outer[0], inner[0]], [inner[1], outer[1]]);
        break;
      }
      case 'polygon': {
        const xs: number[] = [];
        const pts = p.points;
        for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
          const [xi, yi] = pts[i]!;
          const [xj, yj] = pts[j]!;
          if (yi > v !== yj > v) xs.push(((xj - xi) * (v - yi)) / (yj - yi) + xi);
        }
        xs.sort((a, b) => a - b);
        for (let i = 0; i + 1 < xs.length; i += 2) spans.push([xs[i]!, xs[i + 1]!]);
        break;
      }
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  return merged;
}

/**
 * Adds to `out[x]` (x in [0, out.length)) the fraction of pixel [x, x+1) covered along one
 * horizontal line at pixel height y, times `weight`. Exact along x.
 */
export function accumulateLineCoverage(
  silhouette: readonly Primitive[],
  at: Placement,
  y: number,
  weight: number,
  out: Float64Array | Float32Array,
  x0 = 0,
  pixelWidth = 1,
): void {
  const left = at.cx - at.size / 2;
  const top = at.cy - at.size / 2;
  for (const [u0, u1] of rowSpans(silhouette, (y - top) / at.size)) {
    const a = (left + u0 * at.size - x0) / pixelWidth;
    const b = (left + u1 * at.size - x0) / pixelWidth;
    const first = Math.max(0, Math.floor(a));
    const last = Math.min(out.length - 1, Math.ceil(b) - 1);
    for (let x = first; x <= last; x++) {
      const overlap = Math.min(b, x + 1) - Math.max(a, x);
      if (overlap > 0) out[x] = (out[x] ?? 0) + overlap * weight;
    }
  }
}

/**
 * Fraction of the pixel-space rectangle [x0,x1)×[y0,y1) covered by the placed silhouette
 * (`samples` horizontal lines, exact along each line).
 */
export function coverage(
  silhouette: readonly Primitive[],
  at: Placement,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  samples: number,
): number {
  const acc = new Float64Array(1);
  for (let s = 0; s < samples; s++) {
    accumulateLineCoverage(silhouette, at, y0 + ((s + 0.5) * (y1 - y0)) / samples, 1 / samples, acc, x0, x1 - x0);
  }
  return acc[0]!;
}
