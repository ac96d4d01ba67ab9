/**
 * Binary encoding of point operations for the log. Vectors travel as raw little-endian float32
 * (4-byte aligned inside the frame, so replay reads them through zero-copy views); payload-only
 * operations are small JSON documents. Filters are resolved to ids before logging, so replay is
 * deterministic whatever the payload state was.
 */
import os from 'node:os';
import type { PointId } from './ids.ts';
import { uuidFromBytes, uuidToBytes } from './ids.ts';
import type { Payload } from './payload.ts';
import { isSparseValue, type VectorValue } from './vector-storage.ts';

if (os.endianness() !== 'LE') throw new Error('the embedded store writes little-endian float32 and needs a little-endian CPU');

export interface PointWrite {
  id: PointId;
  version: number;
  payload: Payload | null;
  vectors: Array<[name: string, value: VectorValue]>;
}

export type PointOp =
  | { kind: 'upsert'; points: PointWrite[] }
  | { kind: 'update_vectors'; points: PointWrite[] }
  | { kind: 'delete'; ids: PointId[] }
  | { kind: 'set_payload'; ids: PointId[]; payload: Payload; key: string | null }
  | { kind: 'overwrite_payload'; ids: PointId[]; payload: Payload }
  | { kind: 'delete_payload'; ids: PointId[]; keys: string[] }
  | { kind: 'clear_payload'; ids: PointId[] }
  | { kind: 'delete_vectors'; ids: PointId[]; names: string[] };

const KIND_CODES: Record<PointOp['kind'], number> = {
  upsert: 1,
  update_vectors: 2,
  delete: 3,
  set_payload: 4,
  overwrite_payload: 5,
  delete_payload: 6,
  clear_payload: 7,
  delete_vectors: 8,
};
const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k])) as Record<number, PointOp['kind']>;
const NULL_PAYLOAD = 0xffffffff;
/**
 * A vector's length word: a dense vector's dimension (≤ 65536), or this flag plus the count of
 * a sparse vector's entries (then u32 indices, then float32 values). Logs written before sparse
 * vectors never set it.
 */
const SPARSE_FLAG = 0x80000000;

/** The op kind a body's first byte stands for (repair reports name what a damaged frame held). */
export function opKindName(code: number): PointOp['kind'] | undefined {
  return KINDS[code];
}

/** The operation id an encoded op carries. */
export function opIdOf(body: Buffer): number {
  return body.readDoubleLE(4);
}

const pad4 = (n: number) => (n + 3) & ~3;

/**
 * Frames are written synchronously right after encoding, so one growing buffer serves every
 * encode: no per-request allocation of (often megabyte-sized) records.
 */
let scratch = Buffer.alloc(64 * 1024);
/** The shared buffer with room for `size` bytes; not zeroed (encoders zero their padding). */
function scratchOf(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.alloc(Math.max(size, scratch.length * 2));
  return scratch;
}

/**
 * Encodes an op into memory from `alloc` (called once with an upper bound of the size); by
 * default a shared buffer valid only until the next encodeOp call (write it at once).
 */
export function encodeOp(op: PointOp, opId: number, alloc: (bytes: number) => Buffer = scratchOf): Buffer {
  if (op.kind === 'upsert' || op.kind === 'update_vectors') return encodePoints(KIND_CODES[op.kind], opId, op.points, alloc);
  const { kind, ...rest } = op;
  const json = Buffer.from(JSON.stringify(rest), 'utf8');
  const size = pad4(16 + json.length);
  const buf = alloc(size);
  buf.fill(0, 0, size);
  buf.writeUInt8(KIND_CODES[kind], 0);
  buf.writeDoubleLE(opId, 4);
  buf.writeUInt32LE(json.length, 12);
  json.copy(buf, 16);
  return buf.subarray(0, size);
}

/**
 * Payload JSON is written straight into the frame (no Buffer per point): the frame is sized
 * with 3 bytes per UTF-16 unit, UTF-8's worst case, and cut to what was written.
 */
function encodePoints(code: number, opId: number, points: PointWrite[], alloc: (bytes: number) => Buffer): Buffer {
  const payloads: (string | null)[] = new Array(points.length);
  let bound = 16;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const json = p.payload === null ? null : JSON.stringify(p.payload);
    payloads[i] = json;
    bound += 4 + 16 + 8 + 4 + (json === null ? 0 : json.length * 3 + 3) + 4;
    for (const [name, value] of p.vectors) bound += 4 + name.length * 3 + 3 + 4 + (isSparseValue(value) ? value.indices.length * 8 : value.length * 4);
  }
  const buf = alloc(bound);
  buf.fill(0, 0, 16);
  buf.writeUInt8(code, 0);
  buf.writeDoubleLE(opId, 4);
  buf.writeUInt32LE(points.length, 12);
  let off = 16;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (typeof p.id === 'number') {
      buf.writeUInt32LE(0, off);
      buf.writeDoubleLE(p.id, off + 4);
      buf.fill(0, off + 12, off + 20);
    } else {
      buf.writeUInt32LE(1, off);
      uuidToBytes(p.id, buf, off + 4);
    }
    off += 20;
    buf.writeDoubleLE(p.version, off);
    off += 8;
    const json = payloads[i]!;
    if (json === null) {
      buf.writeUInt32LE(NULL_PAYLOAD, off);
      off += 4;
    } else {
      const len = buf.write(json, off + 4, 'utf8');
      buf.writeUInt32LE(len, off);
      off = zeroPad(buf, off + 4 + len);
    }
    buf.writeUInt32LE(p.vectors.length, off);
    off += 4;
    for (const [name, value] of p.vectors) {
      const nameLen = buf.write(name, off + 4, 'utf8');
      buf.writeUInt32LE(nameLen, off);
      off = zeroPad(buf, off + 4 + nameLen);
      if (isSparseValue(value)) {
        const n = value.indices.length;
        buf.writeUInt32LE((SPARSE_FLAG | n) >>> 0, off);
        off += 4;
        buf.set(new Uint8Array(value.indices.buffer, value.indices.byteOffset, n * 4), off);
        off += n * 4;
        buf.set(new Uint8Array(value.values.buffer, value.values.byteOffset, n * 4), off);
        off += n * 4;
        continue;
      }
      buf.writeUInt32LE(value.length, off);
      off += 4;
      buf.set(new Uint8Array(value.buffer, value.byteOffset, value.length * 4), off);
      off += value.length * 4;
    }
  }
  return buf.subarray(0, off);
}

/** `n` float32s at `off` of `body`: a view when aligned (bodies are), else a copy. */
function floatView(body: Buffer, off: number, n: number): Float32Array {
  const start = body.byteOffset + off;
  return start % 4 === 0 ? new Float32Array(body.buffer, start, n) : new Float32Array(new Uint8Array(body.subarray(off, off + n * 4)).buffer);
}

/** Zeroes the bytes from `end` to the next multiple of 4 and returns that offset. */
function zeroPad(buf: Buffer, end: number): number {
  const padded = pad4(end);
  for (let k = end; k < padded; k++) buf[k] = 0;
  return padded;
}

/**
 * Decodes a frame body. Vectors of upserts are views into `body` (valid only while the caller
 * holds the frame); the caller copies them into storage before reading the next frame.
 */
export function decodeOp(body: Buffer): { op: PointOp; opId: number } {
  const code = body.readUInt8(0);
  const kind = KINDS[code];
  if (!kind) throw new Error(`unknown log record kind ${code}`);
  const opId = body.readDoubleLE(4);
  if (kind !== 'upsert' && kind !== 'update_vectors') {
    const len = body.readUInt32LE(12);
    const rest = JSON.parse(body.toString('utf8', 16, 16 + len)) as object;
    return { op: { kind, ...rest } as PointOp, opId };
  }
  const count = body.readUInt32LE(12);
  const points: PointWrite[] = new Array(count);
  let off = 16;
  for (let i = 0; i < count; i++) {
    const tag = body.readUInt32LE(off);
    const id: PointId = tag === 0 ? body.readDoubleLE(off + 4) : uuidFromBytes(body, off + 4);
    off += 20;
    const version = body.readDoubleLE(off);
    off += 8;
    const plen = body.readUInt32LE(off);
    off += 4;
    let payload: Payload | null = null;
    if (plen !== NULL_PAYLOAD) {
      payload = JSON.parse(body.toString('utf8', off, off + plen)) as Payload;
      off += pad4(plen);
    }
    const nvec = body.readUInt32LE(off);
    off += 4;
    const vectors: Array<[string, VectorValue]> = new Array(nvec);
    for (let v = 0; v < nvec; v++) {
      const nameLen = body.readUInt32LE(off);
      const name = body.toString('utf8', off + 4, off + 4 + nameLen);
      off += 4 + pad4(nameLen);
      const word = body.readUInt32LE(off);
      off += 4;
      if (word & SPARSE_FLAG) {
        const n = word & ~SPARSE_FLAG;
        const raw = floatView(body, off, n);
        const indices = new Uint32Array(raw.buffer, raw.byteOffset, n);
        const values = floatView(body, off + n * 4, n);
        off += n * 8;
        vectors[v] = [name, { indices, values }];
        continue;
      }
      vectors[v] = [name, floatView(body, off, word)];
      off += word * 4;
    }
    points[i] = { id, version, payload, vectors };
  }
  return { op: { kind, points }, opId };
}
