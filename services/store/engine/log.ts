/**
 * The append-only operation log behind one collection: frames of [u32 length][u32 crc32][body].
 * Frames are written in the background (libuv threads copy them into the page cache while the
 * main thread goes on) at offsets fixed when appended. A frame survives a crash of the process
 * once it and every frame before it have been written (`handedOver`), and a crash of the
 * machine once an fdatasync covering them has completed (`sync`); concurrent `wait=true`
 * writers share one fdatasync (group commit). Reopening replays frames until the first torn or corrupt
 * one (a crash mid-append) and truncates there. Compaction rewrites the live state into the next
 * generation file, which becomes current only through an atomic rename.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER = 8;
const READ_CHUNK = 32 * 1024 * 1024;
const LOG_NAME = /^points-(\d{8})\.log$/;

interface Waiter {
  upTo: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface PendingWrite {
  generation: number;
  end: number;
  done: boolean;
}

/** Frame buffers kept for reuse; a frame is a header and one encoded op (often a megabyte or more). */
const FRAME_POOL = 4;
const FRAME_MIN = 1024 * 1024;

export class PointLog {
  readonly dir: string;
  private fd: number;
  private generation: number;
  /** Bytes appended to the current file (handed to the OS or on their way). */
  size: number;
  /** End of the longest prefix of appended bytes the OS has taken (every write up to it completed). */
  private written: number;
  private synced: number;
  private syncing = false;
  private waiters: Waiter[] = [];
  /** Waiting for bytes to reach the OS (not the disk): `wait=false` replies. */
  private writeWaiters: Waiter[] = [];
  private writes: PendingWrite[] = [];
  /** Writes and fdatasyncs in flight per file descriptor: a retired one is closed when they end. */
  private busy = new Map<number, number>();
  private retired = new Set<number>();
  private frames: Buffer[] = [];
  private reserved: Buffer | null = null;
  private failure: unknown = null;
  private flushWanted = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(dir: string, fd: number, generation: number, size: number) {
    this.dir = dir;
    this.fd = fd;
    this.generation = generation;
    this.size = size;
    this.written = size;
    this.synced = size;
  }

  /**
   * Opens (or creates) the newest log in `dir`, passing each intact frame body to `replay`
   * (the body is only valid during the call). Older generations and leftovers are removed.
   */
  static open(dir: string, replay: (body: Buffer) => void): PointLog {
    const names = fs.readdirSync(dir);
    let generation = 0;
    for (const n of names) {
      const m = LOG_NAME.exec(n);
      if (m) generation = Math.max(generation, Number(m[1]));
    }
    for (const n of names) {
      const m = LOG_NAME.exec(n);
      if ((m && Number(m[1]) !== generation) || n.endsWith('.tmp')) fs.rmSync(path.join(dir, n), { force: true });
    }
    if (generation === 0) generation = 1;
    const file = path.join(dir, logName(generation));
    const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
    const end = readFrames(fd, replay);
    if (end < fs.fstatSync(fd).size) {
      // A torn tail is the write in flight at a crash: never acknowledged, safe to drop.
      fs.ftruncateSync(fd, end);
      fs.fdatasyncSync(fd);
    }
    fsyncDir(dir);
    return new PointLog(dir, fd, generation, end);
  }

  /**
   * Room for a frame body of `bytes` bytes, to encode an op into and pass to `append` (which
   * then writes it without a copy). Valid until the next `reserve`.
   */
  reserve(bytes: number): Buffer {
    const frame = this.frame(HEADER + bytes);
    this.reserved = frame;
    return frame.subarray(HEADER, HEADER + bytes);
  }

  /**
   * Appends one frame and hands it to the OS in the background (the main thread does not wait
   * for the copy into the page cache); returns the offset that, once synced, makes it durable.
   */
  append(body: Uint8Array): number {
    if (this.closed) throw new Error(`store log ${this.dir} is closed`);
    let frame = this.reserved;
    this.reserved = null;
    if (!frame || body.buffer !== frame.buffer || body.byteOffset !== frame.byteOffset + HEADER) {
      frame = this.frame(HEADER + body.length);
      frame.set(body, HEADER);
    }
    const length = HEADER + body.length;
    frame.writeUInt32LE(body.length, 0);
    frame.writeUInt32LE(crc32(frame.subarray(HEADER, length)), 4);
    const position = this.size;
    this.size += length;
    const pending: PendingWrite = { generation: this.generation, end: this.size, done: false };
    this.writes.push(pending);
    const fd = this.fd;
    this.hold(fd);
    writeAll(fd, frame, length, position, (err) => {
      this.release(fd);
      if (this.frames.length < FRAME_POOL) this.frames.push(frame);
      // After a compaction the frame's op is in the new file already; this write is moot.
      if (pending.generation !== this.generation) return;
      if (err) return this.fail(err);
      pending.done = true;
      while (this.writes.length > 0 && this.writes[0]!.done) this.written = this.writes.shift()!.end;
      if (this.writeWaiters.length > 0) this.writeWaiters = settle(this.writeWaiters, this.written);
      if (this.waiters.length > 0 || this.flushWanted) this.kick();
    });
    this.scheduleFlush();
    return this.size;
  }

  /**
   * Resolves once every frame appended so far is in the OS's hands: it survives a crash of this
   * process (not of the machine), which is what a `wait=false` acknowledgement promises.
   */
  handedOver(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.size;
    if (upTo <= this.written) return Promise.resolve();
    return new Promise((resolve, reject) => this.writeWaiters.push({ upTo, resolve, reject }));
  }

  /** Resolves once every frame appended so far is on stable storage. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.size;
    if (upTo <= this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.kick();
    });
  }

  /**
   * Replaces the log with a compact one holding what `writeLive` emits (the live state), made
   * durable before it becomes current. Synchronous: the state cannot change meanwhile.
   */
  rewrite(writeLive: (emit: (body: Uint8Array) => void) => void): void {
    const next = this.generation + 1;
    const tmp = path.join(this.dir, `${logName(next)}.tmp`);
    const fd = fs.openSync(tmp, 'w+');
    let size = 0;
    try {
      writeLive((body) => {
        const header = Buffer.allocUnsafe(HEADER);
        header.writeUInt32LE(body.length, 0);
        header.writeUInt32LE(crc32(body), 4);
        writeAllSync(fd, header, size);
        writeAllSync(fd, body, size + HEADER);
        size += HEADER + body.length;
      });
      fs.fdatasyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.renameSync(tmp, path.join(this.dir, logName(next)));
    fsyncDir(this.dir);
    const old = this.generation;
    this.retire(this.fd);
    fs.rmSync(path.join(this.dir, logName(old)), { force: true });
    this.fd = fd;
    this.generation = next;
    this.size = size;
    this.written = size;
    this.synced = size;
    this.writes = [];
    // Everything acknowledged before is in the new, already durable file.
    const waiters = [...this.waiters, ...this.writeWaiters];
    this.waiters = [];
    this.writeWaiters = [];
    for (const w of waiters) w.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.retire(this.fd);
  }

  /** Stops without flushing (the collection is being deleted). */
  abandon(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    const waiters = [...this.waiters, ...this.writeWaiters];
    this.waiters = [];
    this.writeWaiters = [];
    for (const w of waiters) w.resolve();
    this.retire(this.fd);
  }

  /** A pooled frame buffer of at least `bytes` bytes. */
  private frame(bytes: number): Buffer {
    const i = this.frames.findIndex((f) => f.length >= bytes);
    if (i >= 0) return this.frames.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.max(bytes, FRAME_MIN));
  }

  /** A lost write leaves a hole: nothing appended after it may be acknowledged as durable. */
  private fail(err: unknown): void {
    this.failure ??= err;
    const failed = [...this.waiters, ...this.writeWaiters];
    this.waiters = [];
    this.writeWaiters = [];
    for (const w of failed) w.reject(err);
  }

  private kick(): void {
    if (this.syncing || this.closed || this.failure) return;
    const target = this.written;
    if (target <= this.synced) return;
    this.syncing = true;
    const fd = this.fd;
    const generation = this.generation;
    this.hold(fd);
    fs.fdatasync(fd, (err) => {
      this.syncing = false;
      this.release(fd);
      if (generation !== this.generation) {
        // Compaction replaced the file meanwhile and already settled the waiters.
        this.kick();
        return;
      }
      if (err) return this.fail(err);
      this.synced = Math.max(this.synced, target);
      const still = settle(this.waiters, this.synced);
      this.waiters = still;
      if (this.synced >= this.size) this.flushWanted = false;
      // More was written meanwhile: sync it for whoever waits; unwritten bytes kick when written.
      if (still.length > 0 || this.flushWanted) this.kick();
    });
  }

  /** `wait=false` writes reach the disk within ~200 ms without anyone waiting for them. */
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flushWanted = true;
      this.kick();
    }, 200);
    this.flushTimer.unref();
  }

  private hold(fd: number): void {
    this.busy.set(fd, (this.busy.get(fd) ?? 0) + 1);
  }

  private release(fd: number): void {
    const n = (this.busy.get(fd) ?? 1) - 1;
    if (n > 0) {
      this.busy.set(fd, n);
      return;
    }
    this.busy.delete(fd);
    if (this.retired.delete(fd)) fs.close(fd, () => {});
  }

  /** Closes `fd` once nothing is in flight on it. */
  private retire(fd: number): void {
    if (this.busy.has(fd)) this.retired.add(fd);
    else fs.closeSync(fd);
  }
}

/** Resolves the waiters covered by `upTo`; returns the others. */
function settle(waiters: Waiter[], upTo: number): Waiter[] {
  const still: Waiter[] = [];
  for (const w of waiters) (w.upTo <= upTo ? w.resolve() : still.push(w));
  return still;
}

function logName(generation: number): string {
  return `points-${String(generation).padStart(8, '0')}.log`;
}

function writeAllSync(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
}

/** Writes `length` bytes of `buf` at `position` on a libuv thread, short writes resumed. */
function writeAll(fd: number, buf: Buffer, length: number, position: number, done: (err: Error | null) => void): void {
  let off = 0;
  const step = () =>
    fs.write(fd, buf, off, length - off, position + off, (err, n) => {
      if (err) return done(err);
      off += n;
      if (off < length) step();
      else done(null);
    });
  step();
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Calls `replay` for each intact frame; returns the offset just past the last one. */
function readFrames(fd: number, replay: (body: Buffer) => void): number {
  const fileSize = fs.fstatSync(fd).size;
  let buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(HEADER, fileSize)));
  let bufStart = 0;
  let bufLen = 0;
  let pos = 0;
  const ensure = (need: number): boolean => {
    if (pos + need > fileSize) return false;
    if (pos >= bufStart && pos + need <= bufStart + bufLen) return true;
    if (need > buf.length) buf = Buffer.allocUnsafe(need);
    bufStart = pos;
    bufLen = 0;
    const want = Math.min(buf.length, fileSize - pos);
    while (bufLen < want) {
      const n = fs.readSync(fd, buf, bufLen, want - bufLen, pos + bufLen);
      if (n === 0) break;
      bufLen += n;
    }
    return bufLen >= need;
  };
  while (pos < fileSize) {
    if (!ensure(HEADER)) break;
    const len = buf.readUInt32LE(pos - bufStart);
    const sum = buf.readUInt32LE(pos - bufStart + 4);
    if (len === 0 || !ensure(HEADER + len)) break;
    const body = buf.subarray(pos - bufStart + HEADER, pos - bufStart + HEADER + len);
    if (crc32(body) !== sum) break;
    replay(body);
    pos += HEADER + len;
  }
  return pos;
}
