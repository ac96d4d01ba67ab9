/**
 * Reading a log file as a sequence of intact frames and damaged stretches ("gaps"). After a gap
 * the walk resynchronises on the next frame that checks out (format 2: marker, header checksum,
 * body checksum; format 1: every offset tried), so a caller learns what follows the damage:
 * opening tells a torn tail (nothing intact after it) from corruption, repair salvages the rest.
 */
import fs from 'node:fs';
import {
  bodyMatches,
  checkHeader,
  checkLegacyFrame,
  describeBodyStart,
  FRAME_HEADER,
  FRAME_MAGIC,
  LEGACY_FRAME_HEADER,
  MAX_FRAME_BODY,
  startsWithMarker,
} from './frame.ts';

const READ_CHUNK = 32 * 1024 * 1024;
const SEARCH_CHUNK = 1024 * 1024;

export type LogFormat = 1 | 2;

export interface FrameEvent {
  type: 'frame';
  offset: number;
  /** Header and body. */
  bytes: number;
  /** null in format 1. */
  seq: number | null;
  /** Valid only during the visit. */
  body: Buffer;
}

export interface GapEvent {
  type: 'gap';
  offset: number;
  /** Up to the next intact frame or the end of the file; 0 for a break in the sequence. */
  bytes: number;
  reason: string;
  /** What an intact header at the gap's start said about the damaged frame. */
  damagedFrame?: { seq: number; bodyLength: number; claims: ReturnType<typeof describeBodyStart> };
}

export type LogEvent = FrameEvent | GapEvent;

/** A window over the file, refilled as the walk moves on; views are valid until the next call. */
class FileWindow {
  private buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(FRAME_HEADER, size)));
  }

  /** Up to `want` bytes from `pos` (fewer at the end of the file). */
  view(pos: number, want: number): Buffer {
    const need = Math.min(want, this.size - pos);
    if (need <= 0) return this.buf.subarray(0, 0);
    if (pos < this.start || pos + need > this.start + this.len) {
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
      this.start = pos;
      this.len = 0;
      const fill = Math.min(this.buf.length, this.size - pos);
      while (this.len < fill) {
        const n = fs.readSync(this.fd, this.buf, this.len, fill - this.len, pos + this.len);
        if (n === 0) break;
        this.len += n;
      }
    }
    const at = pos - this.start;
    return this.buf.subarray(at, at + Math.min(need, this.len - at));
  }
}

/** Which format a file is in: format 2 starts with a marker; a damaged start still has markers later. */
export function detectFormat(fd: number, size: number): LogFormat {
  if (size === 0) return 2;
  const win = new FileWindow(fd, size);
  if (startsWithMarker(win.view(0, 4), 0)) return 2;
  return nextFrame(win, 2, 0) !== null ? 2 : 1;
}

/**
 * Walks the whole file in order, passing each intact frame and each damaged stretch to `visit`.
 * In format 2 a frame whose sequence number does not follow its predecessor's is preceded by a
 * zero-byte gap saying so (frames are missing or out of place).
 */
export function walkLog(fd: number, size: number, visit: (event: LogEvent) => void): LogFormat {
  const format = detectFormat(fd, size);
  const win = new FileWindow(fd, size);
  let pos = 0;
  let lastSeq: number | null = null;
  let afterGap = false;
  while (pos < size) {
    const frame = frameAt(win, format, pos);
    if (frame.ok) {
      if (format === 2 && lastSeq !== null && frame.seq !== lastSeq + 1 && !afterGap) {
        visit({ type: 'gap', offset: pos, bytes: 0, reason: `frame sequence jumps from ${lastSeq} to ${frame.seq}` });
      }
      const headerBytes = format === 2 ? FRAME_HEADER : LEGACY_FRAME_HEADER;
      const body = win.view(pos + headerBytes, frame.bodyLength);
      visit({ type: 'frame', offset: pos, bytes: headerBytes + frame.bodyLength, seq: format === 2 ? frame.seq : null, body });
      lastSeq = format === 2 ? frame.seq : null;
      afterGap = false;
      pos += headerBytes + frame.bodyLength;
      continue;
    }
    const next = nextFrame(win, format, pos + 1);
    const end = next ?? size;
    const gap: GapEvent = { type: 'gap', offset: pos, bytes: end - pos, reason: frame.reason };
    if (frame.damagedFrame) gap.damagedFrame = frame.damagedFrame;
    visit(gap);
    afterGap = true;
    pos = end;
  }
  return format;
}

type FrameCheck =
  | { ok: true; bodyLength: number; seq: number }
  | { ok: false; reason: string; damagedFrame?: GapEvent['damagedFrame'] };

function frameAt(win: FileWindow, format: LogFormat, pos: number): FrameCheck {
  const room = win.size - pos;
  if (format === 1) {
    const head = win.view(pos, LEGACY_FRAME_HEADER);
    const len = head.length === LEGACY_FRAME_HEADER ? head.readUInt32LE(0) : 0;
    // A length running past the end is refused before anything that long is read.
    const whole = len > 0 && LEGACY_FRAME_HEADER + len <= room ? win.view(pos, LEGACY_FRAME_HEADER + len) : head;
    const check = checkLegacyFrame(whole, 0, room, false);
    return check.ok ? { ok: true, bodyLength: check.bodyLength, seq: 0 } : check;
  }
  const header = checkHeader(win.view(pos, FRAME_HEADER), 0, room);
  if (!header.ok) return header;
  const body = win.view(pos + FRAME_HEADER, header.bodyLength);
  if (!bodyMatches(body, header.bodyCrc)) {
    return {
      ok: false,
      reason: 'frame body checksum mismatch',
      damagedFrame: { seq: header.seq, bodyLength: header.bodyLength, claims: describeBodyStart(body) },
    };
  }
  return { ok: true, bodyLength: header.bodyLength, seq: header.seq };
}

/** The offset of the next intact frame at or after `from`, or null. */
function nextFrame(win: FileWindow, format: LogFormat, from: number): number | null {
  return format === 2 ? nextMarkedFrame(win, from) : nextLegacyFrame(win, from);
}

function nextMarkedFrame(win: FileWindow, from: number): number | null {
  let p = from;
  while (p + FRAME_HEADER <= win.size) {
    const chunk = win.view(p, SEARCH_CHUNK);
    const i = chunk.indexOf(FRAME_MAGIC);
    if (i < 0) {
      if (chunk.length < FRAME_MAGIC.length) return null;
      p += chunk.length - (FRAME_MAGIC.length - 1);
      continue;
    }
    const candidate = p + i;
    if (frameAt(win, 2, candidate).ok) return candidate;
    p = candidate + 1;
  }
  return null;
}

function nextLegacyFrame(win: FileWindow, from: number): number | null {
  let p = from;
  while (p + LEGACY_FRAME_HEADER + 16 <= win.size) {
    const chunk = win.view(p, SEARCH_CHUNK);
    // Only offsets whose body would start like an op (kind code, three zero bytes) are checked.
    const last = chunk.length - (LEGACY_FRAME_HEADER + 4);
    let found = -1;
    for (let i = 0; i <= last; i++) {
      const k = chunk[i + 8]!;
      if (k !== 0 && k <= 8 && chunk[i + 9] === 0 && chunk[i + 10] === 0 && chunk[i + 11] === 0) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      if (last < 0) return null;
      p += last + 1;
      continue;
    }
    const candidate = p + found;
    const room = win.size - candidate;
    const len = win.view(candidate, 4).readUInt32LE(0);
    if (len >= 16 && len % 4 === 0 && len <= MAX_FRAME_BODY && LEGACY_FRAME_HEADER + len <= room) {
      const whole = win.view(candidate, LEGACY_FRAME_HEADER + len);
      if (checkLegacyFrame(whole, 0, room, true).ok) return candidate;
    }
    p = candidate + 1;
  }
  return null;
}

/** How a log reads at open: its intact prefix (replayed) and, when damaged, what follows. */
export interface LogScan {
  format: LogFormat;
  size: number;
  /** Offset just past the intact prefix. */
  prefixEnd: number;
  prefixFrames: number;
  /** Sequence number of the prefix's last frame (0 when none, or format 1). */
  lastSeq: number;
  damage: {
    offset: number;
    reason: string;
    /** Intact frames anywhere after the damage; 0 means a torn tail. */
    framesAfter: number;
    bytesAfter: number;
    firstFrameAfter: number | null;
  } | null;
}

/** Passes each frame of the intact prefix to `replay`, then surveys the rest without replaying it. */
export function scanLog(fd: number, replay: (body: Buffer) => void): LogScan {
  const size = fs.fstatSync(fd).size;
  let prefixEnd = 0;
  let prefixFrames = 0;
  let lastSeq = 0;
  let damage: LogScan['damage'] = null;
  const format = walkLog(fd, size, (e) => {
    if (damage) {
      if (e.type === 'frame') {
        damage.framesAfter++;
        damage.bytesAfter += e.bytes;
        damage.firstFrameAfter ??= e.offset;
      }
      return;
    }
    if (e.type === 'gap') {
      damage = { offset: e.offset, reason: e.reason, framesAfter: 0, bytesAfter: 0, firstFrameAfter: null };
      return;
    }
    replay(e.body);
    prefixEnd = e.offset + e.bytes;
    prefixFrames++;
    lastSeq = e.seq ?? 0;
  });
  return { format, size, prefixEnd, prefixFrames, lastSeq, damage };
}
