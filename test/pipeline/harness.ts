/**
 * What the ingestion tests share: a small multilingual catalogue in an s3rver bucket, the
 * configuration pointing at the test services, reading back every stored point, comparing
 * stored vectors with a direct encode, and a TCP proxy that can make the store unreachable.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { loadConfig, type Config } from '../../shared/config/index.ts';
import type { ClipEncoder } from '../../shared/encoder/index.ts';
import { vectorName, type MatryoshkaVectors } from '../../shared/encoder/types.ts';
import { pointId } from '../../shared/store/ids.ts';
import type { PointPayload } from '../../shared/store/points.ts';
import type { S3rver } from '../support/s3rver.ts';

export const MODEL_DIR = path.resolve('models/test-tiny');
export const BUCKET = 'shop';

// s3rver accepts any credentials that match its own pair; the SDK's default chain reads these.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';

export function testConfig(env: Record<string, string | undefined>): Config {
  return loadConfig({
    MODEL_DIR,
    DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-ingest-')),
    S3_FORCE_PATH_STYLE: 'true',
    S3_CONCURRENCY: '4',
    // The image corpus expects a 4 MiB byte limit; small text limit so "oversized" stays small.
    IMAGE_MAX_BYTES: String(4 * 1024 * 1024),
    TEXT_MAX_BYTES: '2048',
    BATCH_MAX_WAIT_MS: '5',
    UPSERT_BATCH_SIZE: '16',
    WORKER_CONCURRENCY: '16',
    ...env,
  });
}

const COLOURS: Array<[string, [number, number, number]]> = [
  ['red', [220, 30, 30]],
  ['green', [30, 180, 60]],
  ['blue', [30, 60, 220]],
  ['yellow', [240, 220, 40]],
  ['black', [15, 15, 15]],
  ['white', [245, 245, 245]],
  ['orange', [250, 140, 20]],
  ['purple', [130, 40, 160]],
];

const TITLES: Record<string, (colour: string, n: number) => string> = {
  en: (c, n) => `${c} sneaker model ${n}`,
  de: (c, n) => `Turnschuh ${n} in ${c}`,
  fr: (c, n) => `basket ${c} numéro ${n}`,
  ja: (c, n) => `${c}のスニーカー ${n}`,
};

export interface ExpectedImage {
  kind: 'image';
  uri: string;
  key: string;
  bytes: Buffer;
  productId: string;
}
export interface ExpectedText {
  kind: 'text';
  uri: string;
  recordId: string;
  text: string;
  lang: string;
  productId: string;
  fields: Record<string, unknown>;
}
export type ExpectedItem = ExpectedImage | ExpectedText;

export async function productImage(rgb: [number, number, number], n: number, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const stripe = Buffer.from(`<svg width="96" height="96"><rect x="${8 + (n % 5) * 12}" y="10" width="14" height="76" fill="rgb(${255 - rgb[0]},${255 - rgb[1]},${255 - rgb[2]})"/></svg>`);
  const img = sharp({ create: { width: 96, height: 96, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).composite([{ input: stripe }]);
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}

/**
 * `products` products, each with one image (`catalogue/products/P<n>/front.jpg`) and a record
 * per language in `catalogue/records.jsonl`: images + 4 × products texts in all.
 */
export async function putCatalogue(s3: S3rver, products = 6): Promise<ExpectedItem[]> {
  const expected: ExpectedItem[] = [];
  const lines: string[] = [];
  for (let n = 0; n < products; n++) {
    const [colour, rgb] = COLOURS[n % COLOURS.length]!;
    const productId = `P${String(n).padStart(2, '0')}`;
    const key = `catalogue/products/${productId}/front.jpg`;
    const bytes = await productImage(rgb, n);
    await s3.put(BUCKET, key, bytes, 'image/jpeg');
    expected.push({ kind: 'image', uri: `s3://${BUCKET}/${key}`, key, bytes, productId });
    for (const [lang, title] of Object.entries(TITLES)) {
      const recordId = `${productId}-${lang}`;
      const text = title(colour, n);
      const fields = { colour, price: 10 + n };
      lines.push(JSON.stringify({ id: recordId, text, lang, product_id: productId, ...fields }));
      expected.push({ kind: 'text', uri: `record:records/${recordId}`, recordId, text, lang, productId, fields });
    }
  }
  await s3.put(BUCKET, 'catalogue/records.jsonl', lines.join('\n') + '\n', 'application/x-ndjson');
  return expected;
}

export interface StoredPoint {
  id: string;
  payload: PointPayload;
  vector: Record<string, number[]>;
}

/** Every point of the collection behind `alias`, with payload and vectors. */
export async function allPoints(client: QdrantClient, alias: string): Promise<StoredPoint[]> {
  const out: StoredPoint[] = [];
  let offset: string | number | undefined | null = undefined;
  do {
    const page: Awaited<ReturnType<QdrantClient['scroll']>> = await client.scroll(alias, { limit: 256, with_payload: true, with_vector: true, ...(offset !== undefined && offset !== null ? { offset } : {}) });
    for (const p of page.points) out.push({ id: String(p.id), payload: p.payload as unknown as PointPayload, vector: p.vector as Record<string, number[]> });
    offset = page.next_page_offset as string | number | null | undefined;
  } while (offset !== null && offset !== undefined);
  return out;
}

/**
 * Each expected item is stored once under its id, with the payload it should have, and vectors
 * equal to encoding it directly (to float32 rounding: batch composition may change the last bits).
 */
export async function assertStored(points: StoredPoint[], expected: readonly ExpectedItem[], encoder: ClipEncoder): Promise<void> {
  const byId = new Map(points.map((p) => [p.id, p]));
  assert.equal(byId.size, points.length, 'no duplicate ids');
  for (const item of expected) {
    const point = byId.get(pointId(item.uri));
    assert.ok(point, `${item.uri} is stored`);
    assert.equal(point.payload.source, item.uri);
    assert.equal(point.payload.modality, item.kind);
    assert.equal(point.payload.product_id, item.productId);
    assert.equal(point.payload.model, encoder.model.modelId);
    assert.match(point.payload.indexed_at, /^\d{4}-\d\d-\d\dT/);
    let direct: MatryoshkaVectors;
    if (item.kind === 'image') {
      assert.equal(point.payload.etag, point.payload.content_hash);
      assert.equal(point.payload.content_hash, createHash('md5').update(item.bytes).digest('hex'), 'content_hash is the S3 ETag');
      direct = await encoder.encodeImage({ bytes: item.bytes });
    } else {
      assert.equal(point.payload.text, item.text);
      assert.equal(point.payload.lang, item.lang);
      assert.deepEqual(point.payload.fields, item.fields);
      direct = await encoder.encodeText({ text: item.text });
    }
    for (const dim of encoder.dims) {
      const stored: number[] = point.vector[vectorName(dim)]!;
      const want: Float32Array = direct[dim]!;
      assert.equal(stored.length, dim);
      let maxDiff = 0;
      for (let i = 0; i < dim; i++) maxDiff = Math.max(maxDiff, Math.abs(stored[i]! - want[i]!));
      assert.ok(maxDiff < 1e-5, `${item.uri} ${vectorName(dim)} equals a direct encode (max |Δ| ${maxDiff})`);
    }
  }
}

/** A TCP proxy in front of `target` that can be taken down (connections reset) and back up. */
export async function startOutageProxy(target: string): Promise<{ url: string; down(): void; up(): void; close(): Promise<void>; refused: number }> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let isDown = false;
  const state = { refused: 0 };
  const server = net.createServer((client) => {
    if (isDown) {
      state.refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(t.port), t.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    get refused() {
      return state.refused;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
