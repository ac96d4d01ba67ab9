/**
 * Geo filtering as Qdrant documents it, through @qdrant/js-client-rest: geo_radius (metres,
 * haversine), geo_bounding_box, geo_polygon with and without interiors (holes), values_count,
 * a `geo` payload index (reported in payload_schema), and the polygon validation errors. The
 * expected sets are worked out by hand from the coordinates below. Runs against a real Qdrant
 * too with QDRANT_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { startTestStore, type TestStore } from '../support/store.ts';

let ts: TestStore;
let client: QdrantClient;
let name: string;

// A 10°×10° square around (5, 5) with a 2°×2° hole at (4..6, 4..6); points inside, in the hole, outside.
const PLACES: Array<{ id: number; at: { lat: number; lon: number } | Array<{ lat: number; lon: number }> }> = [
  { id: 1, at: { lat: 1, lon: 1 } }, // inside the square, outside the hole
  { id: 2, at: { lat: 5, lon: 5 } }, // in the hole
  { id: 3, at: { lat: 9, lon: 2 } }, // inside the square
  { id: 4, at: { lat: 11, lon: 5 } }, // north of the square
  { id: 5, at: { lat: 5, lon: -1 } }, // west of the square
  { id: 6, at: [{ lat: 20, lon: 20 }, { lat: 5.5, lon: 4.5 }] }, // two locations: one in the hole only
  { id: 7, at: [{ lat: 20, lon: 20 }, { lat: 3, lon: 8 }] }, // two locations: one inside
];

const square = { points: [{ lat: 0, lon: 0 }, { lat: 0, lon: 10 }, { lat: 10, lon: 10 }, { lat: 10, lon: 0 }, { lat: 0, lon: 0 }] };
const hole = { points: [{ lat: 4, lon: 4 }, { lat: 4, lon: 6 }, { lat: 6, lon: 6 }, { lat: 6, lon: 4 }, { lat: 4, lon: 4 }] };

before(async () => {
  ts = await startTestStore();
  client = ts.client;
  name = ts.name('geo');
  await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
  await client.createPayloadIndex(name, { field_name: 'at', field_schema: 'geo', wait: true });
  await client.upsert(name, { wait: true, points: PLACES.map((p) => ({ id: p.id, vector: [1, 0], payload: { at: p.at } })) });
});
after(async () => {
  await ts.close();
});

async function ids(filter: Record<string, unknown>): Promise<number[]> {
  const { points } = await client.scroll(name, { filter, limit: 100, with_payload: false });
  return points.map((p) => Number(p.id)).sort((a, b) => a - b);
}

describe('geo conditions', () => {
  it('a geo index is created and reported', async () => {
    const info = await client.getCollection(name);
    assert.equal(info.payload_schema.at?.data_type, 'geo');
  });

  it('geo_polygon: inside the exterior, outside every interior; any location of a point counts', async () => {
    assert.deepEqual(await ids({ must: [{ key: 'at', geo_polygon: { exterior: square } }] }), [1, 2, 3, 6, 7]);
    assert.deepEqual(await ids({ must: [{ key: 'at', geo_polygon: { exterior: square, interiors: [hole] } }] }), [1, 3, 7]);
    assert.deepEqual(await ids({ must_not: [{ key: 'at', geo_polygon: { exterior: square, interiors: [hole] } }] }), [2, 4, 5, 6]);
    const count = await client.count(name, { filter: { must: [{ key: 'at', geo_polygon: { exterior: hole } }] }, exact: true });
    assert.equal(count.count, 2);
  });

  it('geo_radius in metres and geo_bounding_box', async () => {
    // (0, 0) to (1, 1) is ~157.2 km on the sphere (haversine, R = 6371 km): outside 150 km, inside 160 km.
    assert.deepEqual(await ids({ must: [{ key: 'at', geo_radius: { center: { lat: 0, lon: 0 }, radius: 150_000 } }] }), []);
    assert.deepEqual(await ids({ must: [{ key: 'at', geo_radius: { center: { lat: 0, lon: 0 }, radius: 160_000 } }] }), [1]);
    assert.deepEqual(await ids({ must: [{ key: 'at', geo_bounding_box: { top_left: { lat: 10, lon: 0 }, bottom_right: { lat: 0, lon: 10 } } }] }), [1, 2, 3, 6, 7]);
  });

  it('values_count counts the values of a field', async () => {
    assert.deepEqual(await ids({ must: [{ key: 'at', values_count: { gte: 2 } }] }), [6, 7]);
    assert.deepEqual(await ids({ must: [{ key: 'at', values_count: { lt: 2 } }] }), [1, 2, 3, 4, 5]);
  });

  it('refuses open or too short rings, naming the reason', async () => {
    const open = { points: [{ lat: 0, lon: 0 }, { lat: 0, lon: 10 }, { lat: 10, lon: 10 }, { lat: 10, lon: 0 }] };
    const short = { points: [{ lat: 0, lon: 0 }, { lat: 0, lon: 10 }, { lat: 0, lon: 0 }] };
    for (const [exterior, reason] of [[open, /first and the last points should be the same/], [short, /size must be at least 4, got 3/]] as const) {
      await assert.rejects(
        client.count(name, { filter: { must: [{ key: 'at', geo_polygon: { exterior } }] } }),
        (err: { status?: number; data?: { status?: { error?: string } } }) => {
          assert.ok(err.status === 400 || err.status === 422, `status ${err.status}`);
          assert.match(err.data?.status?.error ?? '', reason);
          return true;
        },
      );
    }
  });
});
