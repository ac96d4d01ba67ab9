/**
 * Geo polygons for `geo_polygon` conditions: an exterior ring and optional interior rings
 * (holes), each a closed line of at least 4 points, checked as Qdrant checks them. A point
 * matches when it lies inside the exterior and inside no interior, in plain lon/lat coordinates
 * (as Qdrant's polygon test does; no great-circle edges).
 */
import { validationError } from './errors.ts';

export interface GeoPoint {
  lat: number;
  lon: number;
}

interface GeoLineString {
  points: GeoPoint[];
}

export interface GeoPolygonJson {
  exterior: GeoLineString;
  interiors?: GeoLineString[] | null;
}

/** A compiled polygon test; throws Qdrant's validation error for an open or too short ring. */
export function compileGeoPolygon(raw: GeoPolygonJson, where: string): (p: GeoPoint) => boolean {
  const exterior = ring(raw.exterior, `${where}.exterior`);
  const holes = (raw.interiors ?? []).map((line, i) => ring(line, `${where}.interiors[${i}]`));
  return (p) => {
    if (!insideRing(exterior, p)) return false;
    for (const hole of holes) if (insideRing(hole, p)) return false;
    return true;
  };
}

function ring(line: GeoLineString, where: string): GeoPoint[] {
  const pts = line?.points;
  if (!Array.isArray(pts) || pts.length <= 3) throw validationError(where, `polygon invalid, the size must be at least 4, got ${Array.isArray(pts) ? pts.length : 0}`);
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  if (Math.abs(first.lat - last.lat) > Number.EPSILON || Math.abs(first.lon - last.lon) > Number.EPSILON) {
    throw validationError(where, 'polygon invalid, the first and the last points should be the same to form a closed line');
  }
  return pts;
}

/** Even-odd ray casting along the longitude axis; the ring is closed (last point = first). */
function insideRing(pts: GeoPoint[], p: GeoPoint): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 2; i < pts.length - 1; j = i++) {
    const a = pts[i]!;
    const b = pts[j]!;
    if (a.lat > p.lat !== b.lat > p.lat && p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) inside = !inside;
  }
  return inside;
}
