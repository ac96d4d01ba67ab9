/**
 * Point ids as Qdrant defines them: an unsigned integer or a UUID. Integers stay JS numbers and
 * UUIDs become hyphenated lower-case strings, so the two kinds can share one Map without colliding
 * and every accepted spelling of a UUID (simple, braced, urn:uuid:, upper case) names one point.
 */
import { formatError } from './errors.ts';

export type PointId = number | string;

// 2^64 - 1 rounds to 2^64 as a double; the comparison below means "fits an unsigned 64-bit id".
const MAX_U64 = 2 ** 64 - 1;
const HEX32 = /^[0-9a-f]{32}$/;

export function parsePointId(raw: unknown, where = 'id'): PointId {
  if (typeof raw === 'number') {
    if (Number.isInteger(raw) && raw >= 0 && raw <= MAX_U64) return raw;
    throw formatError(`${where}: invalid value: ${raw}, expected an unsigned integer or a UUID`);
  }
  if (typeof raw === 'string') {
    const uuid = normaliseUuid(raw);
    if (uuid !== undefined) return uuid;
    throw formatError(`${where}: Unable to parse UUID: ${raw}`);
  }
  throw formatError(`${where}: expected an unsigned integer or a UUID, got ${raw === null ? 'null' : typeof raw}`);
}

export function normaliseUuid(raw: string): string | undefined {
  let s = raw.trim().toLowerCase();
  if (s.startsWith('urn:uuid:')) s = s.slice(9);
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  let hex: string;
  if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
    hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  } else if (s.length === 32) {
    hex = s;
  } else {
    return undefined;
  }
  if (!HEX32.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Qdrant's order: every integer id before every UUID; UUIDs by their 128-bit value. */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'number') {
    if (typeof b === 'number') return a - b;
    return -1;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Writes a UUID string (normalised) as 16 bytes. */
export function uuidToBytes(uuid: string, out: Uint8Array, offset: number): void {
  let k = 0;
  for (let i = 0; i < 16; i++) {
    if (uuid.charCodeAt(k) === 0x2d) k++;
    out[offset + i] = (hexValue(uuid.charCodeAt(k)) << 4) | hexValue(uuid.charCodeAt(k + 1));
    k += 2;
  }
}

/** 0–15 for a lower-case hex digit's char code (ids are normalised before they get here). */
function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export function uuidFromBytes(buf: Uint8Array, offset: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[buf[offset + i]!];
  }
  return s;
}
