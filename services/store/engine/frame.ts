/**
 * The frame codec of the operation log. Format 2 (written since log frames became findable
 * after damage):
 *
 *   [u32 magic][u32 body length][u32 seq low][u32 seq high][u32 crc32(body)][u32 crc32(header 0..20)][body]
 *
 * The magic is a sync marker a scan can look for after a damaged stretch; the header checksum
 * lets it trust a candidate's length before reading the body; the sequence number (consecutive
 * within a file, continued across compactions) shows frames missing or out of place. Bodies keep
 * 4-byte alignment (the header is 24 bytes) so vectors replay through zero-copy views.
 *
 * Format 1 (`[u32 length][u32 crc32(body)][body]`, no marker, no sequence) is still read, so logs
 * written before format 2 open and are migrated.
 */
import { crc32 } from 'node:zlib';

export const FRAME_HEADER = 24;
export const LEGACY_FRAME_HEADER = 8;
/** Bytes F3 9C 5A D1: not valid UTF-8 (never inside payload JSON) and a float32 no stored vector holds. */
export const FRAME_MAGIC = Buffer.from([0xf3, 0x9c, 0x5a, 0xd1]);
const MAGIC_U32 = FRAME_MAGIC.readUInt32LE(0);
/** Far above any op a 32 MB request can encode to: a larger length is damage, not data. */
export const MAX_FRAME_BODY = 256 * 1024 * 1024;
/** Op kind codes records.ts writes in a body's first byte (format 1 resync looks for them). */
const MAX_KIND_CODE = 8;

/** Fills the header in front of `frame`'s body (which is `bodyLength` bytes from FRAME_HEADER). */
export function writeFrameHeader(frame: Buffer, bodyLength: number, seq: number): void {
  frame.writeUInt32LE(MAGIC_U32, 0);
  frame.writeUInt32LE(bodyLength, 4);
  frame.writeUInt32LE(seq % 0x1_0000_0000, 8);
  frame.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER, FRAME_HEADER + bodyLength)), 16);
  frame.writeUInt32LE(crc32(frame.subarray(0, 20)), 20);
}

/** A header on its own (for bodies written separately, as compaction does). */
export function frameHeader(body: Uint8Array, seq: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  header.writeUInt32LE(MAGIC_U32, 0);
  header.writeUInt32LE(body.length, 4);
  header.writeUInt32LE(seq % 0x1_0000_0000, 8);
  header.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  header.writeUInt32LE(crc32(body), 16);
  header.writeUInt32LE(crc32(header.subarray(0, 20)), 20);
  return header;
}

export type HeaderCheck =
  | { ok: true; bodyLength: number; seq: number; bodyCrc: number }
  | { ok: false; reason: string };

/** Checks the 24 header bytes at `at` in `buf`; `room` is how many file bytes follow `at`. */
export function checkHeader(buf: Buffer, at: number, room: number): HeaderCheck {
  if (room < FRAME_HEADER) return { ok: false, reason: `incomplete frame header (${room} of ${FRAME_HEADER} bytes)` };
  if (buf.readUInt32LE(at) !== MAGIC_U32) return { ok: false, reason: 'no frame marker' };
  if (crc32(buf.subarray(at, at + 20)) !== buf.readUInt32LE(at + 20)) return { ok: false, reason: 'frame header checksum mismatch' };
  const bodyLength = buf.readUInt32LE(at + 4);
  if (bodyLength === 0 || bodyLength > MAX_FRAME_BODY) return { ok: false, reason: `implausible frame length ${bodyLength}` };
  if (FRAME_HEADER + bodyLength > room) return { ok: false, reason: `incomplete frame (${room - FRAME_HEADER} of ${bodyLength} body bytes)` };
  const seq = buf.readUInt32LE(at + 8) + buf.readUInt32LE(at + 12) * 0x1_0000_0000;
  return { ok: true, bodyLength, seq, bodyCrc: buf.readUInt32LE(at + 16) };
}

export function bodyMatches(body: Uint8Array, bodyCrc: number): boolean {
  return crc32(body) === bodyCrc;
}

/** Whether `buf` at `at` starts with the frame marker (how a format 2 file begins). */
export function startsWithMarker(buf: Buffer, at: number): boolean {
  return buf.length - at >= 4 && buf.readUInt32LE(at) === MAGIC_U32;
}

/**
 * A format 1 frame at `at`, or why not. Without a marker, a resync has to try every offset; the
 * shape of an op body (its kind code, then three zero bytes) keeps that to a few checksums.
 */
export function checkLegacyFrame(buf: Buffer, at: number, room: number, resync: boolean): { ok: true; bodyLength: number } | { ok: false; reason: string } {
  if (room < LEGACY_FRAME_HEADER) return { ok: false, reason: `incomplete frame header (${room} of ${LEGACY_FRAME_HEADER} bytes)` };
  const bodyLength = buf.readUInt32LE(at);
  if (bodyLength === 0) return { ok: false, reason: 'zero frame length' };
  if (LEGACY_FRAME_HEADER + bodyLength > room) return { ok: false, reason: `incomplete frame (${room - LEGACY_FRAME_HEADER} of ${bodyLength} body bytes)` };
  if (resync) {
    const b = at + LEGACY_FRAME_HEADER;
    if (bodyLength < 16 || bodyLength % 4 !== 0) return { ok: false, reason: 'not an op body' };
    const kind = buf[b]!;
    if (kind === 0 || kind > MAX_KIND_CODE || buf[b + 1] !== 0 || buf[b + 2] !== 0 || buf[b + 3] !== 0) return { ok: false, reason: 'not an op body' };
  }
  const body = buf.subarray(at + LEGACY_FRAME_HEADER, at + LEGACY_FRAME_HEADER + bodyLength);
  if (crc32(body) !== buf.readUInt32LE(at + 4)) return { ok: false, reason: 'frame checksum mismatch' };
  return { ok: true, bodyLength };
}

/**
 * What a damaged body's first bytes claim (kind, operation id, point count), for a repair report
 * when the header was intact: a hint about what was lost, not trusted data.
 */
export function describeBodyStart(body: Buffer): { kind: number; opId: number; count: number } | null {
  if (body.length < 16) return null;
  const kind = body[0]!;
  const opId = body.readDoubleLE(4);
  if (kind === 0 || kind > MAX_KIND_CODE || !Number.isInteger(opId) || opId < 0) return null;
  return { kind, opId, count: body.readUInt32LE(12) };
}
