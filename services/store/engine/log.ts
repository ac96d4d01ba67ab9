/**
 * The append-only operation log behind one collection: frames of [u32 length][u32 crc32][body].
 * A write is durable once an fdatasync covering it has completed; concurrent `wait=true` writers
 * share one fdatasync (group commit). Reopening replays frames until the first torn or corrupt
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

export class PointLog {
  readonly dir: string;
  private fd: number;
  private generation: number;
  /** Bytes appended to the current file. */
  size: number;
  private synced: number;
  private syncing = false;
  private waiters: Waiter[] = [];
  private retired: number[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(dir: string, fd: number, generation: number, size: number) {
    this.dir = dir;
    this.fd = fd;
    this.generation = generation;
    this.size = size;
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

  /** Appends one frame (to the OS, not yet durable); returns the offset that makes it durable. */
  append(body: Uint8Array): number {
    if (this.closed) throw new Error(`store log ${this.dir} is closed`);
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(body.length, 0);
    header.writeUInt32LE(crc32(body), 4);
    writeAll(this.fd, header, this.size);
    writeAll(this.fd, body, this.size + HEADER);
    this.size += HEADER + body.length;
    this.scheduleFlush();
    return this.size;
  }

  /** Resolves once every frame appended so far is on stable storage. */
  sync(): Promise<void> {
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
        writeAll(fd, header, size);
        writeAll(fd, body, size + HEADER);
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
    this.synced = size;
    // Everything acknowledged before is in the new, already durable file.
    const waiters = this.waiters;
    this.waiters = [];
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
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    this.retire(this.fd);
  }

  private kick(): void {
    if (this.syncing || this.closed) return;
    const target = this.size;
    if (target <= this.synced) return;
    this.syncing = true;
    const fd = this.fd;
    fs.fdatasync(fd, (err) => {
      this.syncing = false;
      for (const r of this.retired.splice(0)) fs.close(r, () => {});
      if (fd !== this.fd) {
        // Compaction replaced the file meanwhile and already settled the waiters.
        this.kick();
        return;
      }
      if (err) {
        const failed = this.waiters;
        this.waiters = [];
        for (const w of failed) w.reject(err);
        return;
      }
      this.synced = Math.max(this.synced, target);
      const still: Waiter[] = [];
      for (const w of this.waiters) (w.upTo <= this.synced ? w.resolve() : still.push(w));
      this.waiters = still;
      if (still.length > 0) this.kick();
    });
  }

  /** `wait=false` writes reach the disk within ~200 ms without anyone waiting for them. */
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.kick();
    }, 200);
    this.flushTimer.unref();
  }

  private retire(fd: number): void {
    if (this.syncing) this.retired.push(fd);
    else fs.closeSync(fd);
  }
}

function logName(generation: number): string {
  return `points-${String(generation).padStart(8, '0')}.log`;
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
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
