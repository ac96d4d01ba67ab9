/** In-memory stand-ins for the encoder and the store, for unit tests of the orchestration. */
import { createHash } from 'node:crypto';
import type { ImageObject, TextRecord } from '../../shared/catalogue/types.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import type { MatryoshkaVectors } from '../../shared/encoder/types.ts';
import type { PipelineEncoder } from '../../shared/pipeline/index.ts';
import type { CataloguePoint } from '../../shared/store/points.ts';

export const DIMS = [64, 256, 1024];

function vectorsOf(seed: string): MatryoshkaVectors {
  const h = createHash('sha256').update(seed).digest();
  const out: Record<number, Float32Array> = {};
  for (const d of DIMS) {
    const v = new Float32Array(d).map((_, i) => (h[i % h.length]! - 127.5) / 128 + 0.001);
    const n = Math.hypot(...v);
    out[d] = v.map((x) => x / n);
  }
  return out;
}

export class FakeEncoder implements PipelineEncoder {
  readonly model = { modelId: 'fake/clip@test' };
  readonly dims = DIMS;
  texts: string[] = [];
  images: number = 0;
  async encodeText({ text, item }: { text: string; item?: string }): Promise<MatryoshkaVectors> {
    if (text.trim() === '') throw new ClipstreamError('TEXT_EMPTY', 'text is empty', { item });
    this.texts.push(text);
    return vectorsOf(`t:${text}`);
  }
  async encodeImage({ bytes, item }: { bytes: Uint8Array; item?: string }): Promise<MatryoshkaVectors> {
    if (bytes.length === 0) throw new ClipstreamError('IMAGE_EMPTY', 'zero bytes', { item });
    if (bytes[0] === 0xff && bytes[1] === 0xff) throw new ClipstreamError('IMAGE_DECODE_FAILED', 'not an image', { item });
    this.images++;
    return vectorsOf(`i:${Buffer.from(bytes).toString('hex')}`);
  }
}

export class FakeSink {
  points = new Map<string, CataloguePoint>();
  writes = 0;
  failWith: Error | undefined;
  async add(point: CataloguePoint): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failWith) throw this.failWith;
    this.writes++;
    this.points.set(point.id, point);
  }
  versions = async (ids: string[]) => {
    const out = new Map<string, { contentHash: string; model: string }>();
    for (const id of ids) {
      const p = this.points.get(id);
      if (p) out.set(id, { contentHash: p.payload.content_hash, model: p.payload.model });
    }
    return out;
  };
}

export function textRecord(id: string, text: string, extra: Partial<TextRecord> = {}): TextRecord {
  return {
    kind: 'text',
    sourceUri: `record:test/${id}`,
    version: createHash('sha256').update(text).digest('hex'),
    recordId: id,
    text,
    fields: {},
    ...extra,
  };
}

export function imageObject(key: string, bytes: Uint8Array, extra: Partial<ImageObject> = {}): ImageObject {
  return {
    kind: 'image',
    sourceUri: `s3://bucket/${key}`,
    version: createHash('md5').update(bytes).digest('hex'),
    bytes: bytes.length,
    ...extra,
  };
}
