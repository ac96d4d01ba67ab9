/**
 * The append-only operation log behind one collection (frame layout: frame.ts). Frames are
 * written in the background in append order, one write at a time (frames appended meanwhile go
 * out together in the next writev), so the file is always an intact prefix plus at most one
 * partly written stretch at its end: a crash can only leave a torn tail, and damage followed by
 * intact frames is corruption (log-scan.ts tells them apart when the log is opened).
 *
 * A frame survives a crash of the process once it is written (`handedOver`), and a crash of the
 * machine once an fdatasync covering it has completed (`sync`); concurrent `wait=true` writers
 * share one fdatasync (group commit). A write the disk refuses (ENOSPC) is cut off the file
 * again, every frame queued behind it is refused too, and the next append simply tries again:
 * freeing space is enough to resume. Compaction rewrites the live state into the next generation
 * file, which becomes current only through an atomic rename.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isOutOfSpace, StoreCorruptionError, StoreError } from './errors.ts';
import { FRAME_HEADER, frameHeader, writeFrameHeader } from './frame.ts';
import { fsyncDir, LOG_NAME, logName, writeAllSync, writevAll } from './log-files.ts';
import { scanLog, type LogFormat } from './log-scan.ts';

/** Frame buffers kept for reuse; a frame is a header and one encoded op (often a megabyte or more). */
const FRAME_POOL = 4;
const FRAME_MIN = 1024 * 1024;
/** Frames coalesced into one writev (well under IOV_MAX). */
const GROUP_FRAMES = 256;

/** One appended frame, from its append to the end of its write. */
export interface LogTicket {
  readonly generation: number;
  /** File offset just past the frame. */
  readonly end: number;
  readonly state: 'queued' | 'written' | 'failed';
}

interface QueuedFrame {
  /** Both change when a compaction carries a queued frame into the next generation. */
  generation: number;
  end: number;
  state: 'queued' | 'written' | 'failed';
  error?: unknown;
  frame: Buffer;
  length: number;
  seq: number;
  onWritten: (() => void) | undefined;
  waiters: Array<{ resolve(): void; reject(err: unknown): void }>;
}

interface SyncWaiter {
  upTo: number;
  resolve(): void;
  reject(err: unknown): void;
}

export interface OpenOptions {
  /** A new collection: the log may not exist yet. Otherwise a missing log is damage. */
  create?: boolean | undefined;
  /** For messages: the collection the log belongs to. */
  collection?: string | undefined;
}

export class PointLog {
  readonly dir: string;
  /** The format the file was in when opened: 1 means it wants migrating (a compaction does it). */
  readonly openedFormat: LogFormat;
  private fd: number;
  private generation: number;
  /** Bytes appended to the current file (written, in flight or queued). */
  size: number;
  /** End of the prefix the OS has taken: every frame up to it is written. */
  private written: number;
  private synced: number;
  private nextSeq: number;
  private queue: QueuedFrame[] = [];
  private inFlight = false;
  private syncing = false;
  private syncWaiters: SyncWaiter[] = [];
  private idleWaiters: Array<() => void> = [];
  /** Writes and fdatasyncs in flight per file descriptor: a retired one is closed when they end. */
  private busy = new Map<number, number>();
  private retired = new Set<number>();
  private frames: Buffer[] = [];
  private reserved: Buffer | null = null;
  /** The latest write the disk refused; cleared by the next one that succeeds. */
  private lastFailure: unknown = null;
  /** A failure that leaves the file in doubt (fdatasync or truncation failed): no writes until restart. */
  private broken: StoreError | null = null;
  private flushWanted = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * Called after each write, before the next one starts: the one moment a compaction can run
   * (every written frame applied, none in flight; queued ones are carried over).
   */
  betweenWrites: (() => void) | undefined;

  private constructor(dir: string, fd: number, generation: number, size: number, nextSeq: number, format: LogFormat) {
    this.dir = dir;
    this.fd = fd;
    this.generation = generation;
    this.size = size;
    this.written = size;
    this.synced = size;
    this.nextSeq = nextSeq;
    this.openedFormat = format;
  }

  get file(): string {
    return path.join(this.dir, logName(this.generation));
  }

  /** No frame queued or being written. */
  get idle(): boolean {
    return !this.inFlight && this.queue.length === 0;
  }

  /** A write is in progress (a compaction has to wait for it). */
  get writing(): boolean {
    return this.inFlight;
  }

  /** Why writes are failing, if they are (for the collection's status). */
  get problem(): string | null {
    if (this.broken) return this.broken.message;
    if (this.lastFailure) return `the last write to ${this.file} failed (${describe(this.lastFailure)}); the next write retries${this.freeSpaceNote()}`;
    return null;
  }

  /** How much room the volume has now, so whoever reads the status can tell whether a retry can work. */
  private freeSpaceNote(): string {
    if (!isOutOfSpace(this.lastFailure)) return '';
    try {
      const st = fs.statfsSync(this.dir);
      return ` (${Math.floor((st.bavail * st.bsize) / 1024)} KiB free on the volume now)`;
    } catch {
      return '';
    }
  }

  /**
   * Opens the newest log in `dir`, passing each intact frame body to `replay` (the body is only
   * valid during the call). A torn tail is cut off; damage with intact frames after it is refused
   * with the file left exactly as it was. Leftovers (older generations, unfinished compactions)
   * are removed only once the current file has been read.
   */
  static open(dir: string, replay: (body: Buffer) => void, opts: OpenOptions = {}): PointLog {
    const names = fs.readdirSync(dir);
    let generation = 0;
    for (const n of names) {
      const m = LOG_NAME.exec(n);
      if (m) generation = Math.max(generation, Number(m[1]));
    }
    const label = opts.collection === undefined ? dir : `collection \`${opts.collection}\``;
    if (generation === 0) {
      if (!opts.create) {
        throw new StoreCorruptionError(dir, `${label}: its log file (points-NNNNNNNN.log in ${dir}) is missing, so its points are lost; refusing to open. Restore the file, or run \`clipstream store repair --data ${dataDirOf(dir)}\` to reopen the collection empty`);
      }
      generation = 1;
    }
    const file = path.join(dir, logName(generation));
    const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
    let scan;
    try {
      scan = scanLog(fd, replay);
      if (scan.damage && scan.damage.framesAfter > 0) {
        const d = scan.damage;
        throw new StoreCorruptionError(
          file,
          `corrupted log refused: ${label}'s log is damaged at byte ${d.offset} of ${scan.size} (${d.reason}) and ${d.framesAfter} intact frame(s) (${d.bytesAfter} bytes, the first at byte ${d.firstFrameAfter}) follow the damage, so it is not a torn tail from a crash. ` +
            `The file is left untouched: ${file}. Run \`clipstream store repair --data ${dataDirOf(dir)}\` to salvage what follows the damage (the damaged file is kept aside)`,
        );
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    for (const n of names) {
      const m = LOG_NAME.exec(n);
      if ((m && Number(m[1]) !== generation) || (n.startsWith('points-') && n.endsWith('.tmp'))) fs.rmSync(path.join(dir, n), { force: true });
    }
    if (scan.damage) {
      // Nothing intact after it: the write in flight at a crash, never acknowledged.
      process.stderr.write(`store: ${label}: dropped a torn tail of ${scan.size - scan.prefixEnd} bytes at byte ${scan.prefixEnd} of ${file} (${scan.damage.reason})\n`);
      fs.ftruncateSync(fd, scan.prefixEnd);
      fs.fdatasyncSync(fd);
    }
    fsyncDir(dir);
    return new PointLog(dir, fd, generation, scan.prefixEnd, scan.lastSeq + 1, scan.format);
  }

  /**
   * Room for a frame body of `bytes` bytes, to encode an op into and pass to `append` (which
   * then writes it without a copy). Valid until the next `reserve`.
   */
  reserve(bytes: number): Buffer {
    const frame = this.frame(FRAME_HEADER + bytes);
    this.reserved = frame;
    return frame.subarray(FRAME_HEADER, FRAME_HEADER + bytes);
  }

  /**
   * Appends one frame, written in the background after every frame before it. `onWritten` runs
   * once the OS has it (in append order, before any waiter hears of it); never if it fails.
   */
  append(body: Uint8Array, onWritten?: () => void): LogTicket {
    if (this.closed) throw new Error(`store log ${this.file} is closed`);
    if (this.broken) throw this.broken;
    let frame = this.reserved;
    this.reserved = null;
    if (!frame || body.buffer !== frame.buffer || body.byteOffset !== frame.byteOffset + FRAME_HEADER) {
      frame = this.frame(FRAME_HEADER + body.length);
      frame.set(body, FRAME_HEADER);
    }
    const seq = this.nextSeq++;
    writeFrameHeader(frame, body.length, seq);
    const length = FRAME_HEADER + body.length;
    this.size += length;
    const queued: QueuedFrame = { generation: this.generation, end: this.size, state: 'queued', frame, length, seq, onWritten, waiters: [] };
    this.queue.push(queued);
    if (!this.inFlight) this.issue();
    this.scheduleFlush();
    return queued as LogTicket;
  }

  /**
   * Resolves once the frame is in the OS's hands: it survives a crash of this process (not of
   * the machine), which is what a `wait=false` acknowledgement promises.
   */
  handedOver(ticket: LogTicket): Promise<void> {
    const q = ticket as unknown as QueuedFrame;
    if (q.state === 'written') return Promise.resolve();
    if (q.state === 'failed') return Promise.reject(q.error);
    return new Promise((resolve, reject) => q.waiters.push({ resolve, reject }));
  }

  /** Resolves once the frame (by default: everything written so far) is on stable storage. */
  sync(ticket?: LogTicket): Promise<void> {
    if (ticket) {
      const q = ticket as unknown as QueuedFrame;
      if (q.state === 'failed') return Promise.reject(q.error);
      // Written before a compaction, which made it durable in the new file.
      if (q.generation !== this.generation) return Promise.resolve();
    }
    if (this.broken) return Promise.reject(this.broken);
    const upTo = ticket ? ticket.end : this.written;
    if (upTo <= this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ upTo, resolve, reject });
      this.kick();
    });
  }

  /**
   * The written prefix of the current file, for a snapshot: a read-only descriptor of its own
   * (still valid after a compaction replaces the file by rename) and the offset up to which
   * every frame is written and applied. Frames appended later lie beyond it.
   */
  openWrittenPrefix(): { fd: number; end: number; file: string } {
    if (this.closed) throw new Error(`store log ${this.file} is closed`);
    return { fd: fs.openSync(this.file, 'r'), end: this.written, file: this.file };
  }

  /** Resolves when no frame is queued or being written. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Replaces the log with a compact one holding what `writeLive` emits (the live state, which
   * holds every written frame's op), made durable before it becomes current; frames still queued
   * follow it in the new file. Synchronous, and never with a write in flight.
   */
  rewrite(writeLive: (emit: (body: Uint8Array) => void) => void): void {
    if (this.inFlight) throw new Error(`store log ${this.file}: compaction waits for the write in flight`);
    if (this.broken) throw this.broken;
    const next = this.generation + 1;
    const tmp = path.join(this.dir, `${logName(next)}.tmp`);
    const fd = fs.openSync(tmp, 'w+');
    let size = 0;
    let seq = this.nextSeq;
    try {
      writeLive((body) => {
        writeAllSync(fd, frameHeader(body, seq++), size);
        writeAllSync(fd, body, size + FRAME_HEADER);
        size += FRAME_HEADER + body.length;
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
    // Queued frames (not applied yet, so not in the live state) go after it, renumbered.
    let end = size;
    for (const f of this.queue) {
      writeFrameHeader(f.frame, f.length - FRAME_HEADER, seq++);
      end += f.length;
      f.generation = next;
      f.end = end;
    }
    this.nextSeq = seq;
    this.size = end;
    this.written = size;
    this.synced = size;
    // Everything acknowledged before is in the new, already durable file.
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * Waits for frames being written, syncs what was written (a frame the disk refused has been
   * answered already) and closes the file, also when that sync fails.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.whenIdle();
      await this.sync();
    } finally {
      this.closed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.retire(this.fd);
    }
  }

  /** Stops without flushing (the collection is being deleted). */
  abandon(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const f of this.queue.splice(0)) {
      f.state = 'written';
      for (const w of f.waiters) w.resolve();
    }
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.resolve();
    this.retire(this.fd);
  }

  /** Writes the next group of queued frames with one writev. */
  private issue(): void {
    const group = this.queue.splice(0, GROUP_FRAMES);
    this.inFlight = true;
    const start = this.written;
    const fd = this.fd;
    this.hold(fd);
    writevAll(
      fd,
      group.map((f) => f.frame.subarray(0, f.length)),
      start,
      (err) => {
        this.release(fd);
        this.inFlight = false;
        if (err) this.writeFailed(group, start, err);
        else {
          this.groupWritten(group);
          this.runBetweenWrites();
        }
        if (this.queue.length > 0) this.issue();
        else this.drained();
      },
    );
  }

  private groupWritten(group: QueuedFrame[]): void {
    this.written = group[group.length - 1]!.end;
    this.lastFailure = null;
    for (const f of group) {
      f.state = 'written';
      this.recycle(f.frame);
      f.frame = EMPTY;
      f.onWritten?.();
      for (const w of f.waiters) w.resolve();
      f.waiters = [];
    }
    if (this.syncWaiters.length > 0 || this.flushWanted) this.kick();
  }

  /**
   * The disk refused a write: what reached the file of it is cut off again, and it and every
   * frame queued behind it fail (nothing after a hole may stand). The next append retries.
   */
  private writeFailed(group: QueuedFrame[], start: number, err: unknown): void {
    const failed = [...group, ...this.queue.splice(0)];
    try {
      fs.ftruncateSync(this.fd, start);
    } catch (cut) {
      this.broken = new StoreError(503, `Service unavailable: a write to ${this.file} failed (${describe(err)}) and cutting it off failed too (${describe(cut)}); no writes until the store restarts`);
    }
    this.size = start;
    this.nextSeq = group[0]!.seq;
    this.lastFailure = err;
    for (const f of failed) {
      f.state = 'failed';
      f.error = err;
      this.recycle(f.frame);
      f.frame = EMPTY;
      for (const w of f.waiters) w.reject(err);
      f.waiters = [];
    }
    const still: SyncWaiter[] = [];
    for (const w of this.syncWaiters) {
      if (w.upTo > start) w.reject(err);
      else still.push(w);
    }
    this.syncWaiters = still;
  }

  private runBetweenWrites(): void {
    if (!this.betweenWrites || this.closed) return;
    try {
      this.betweenWrites();
    } catch (err) {
      process.stderr.write(`store: ${this.file}: ${describe(err)}\n`);
    }
  }

  private drained(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** A pooled frame buffer of at least `bytes` bytes. */
  private frame(bytes: number): Buffer {
    const i = this.frames.findIndex((f) => f.length >= bytes);
    if (i >= 0) return this.frames.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.max(bytes, FRAME_MIN));
  }

  private recycle(frame: Buffer): void {
    if (frame.length > 0 && this.frames.length < FRAME_POOL) this.frames.push(frame);
  }

  private kick(): void {
    if (this.syncing || this.closed || this.broken) return;
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
      if (err) {
        // After a failed fdatasync the kernel may have dropped the dirty pages: only a replay
        // from the file can tell what is really there.
        this.broken = new StoreError(503, `Service unavailable: fdatasync of ${this.file} failed (${describe(err)}); no writes until the store restarts`);
        const waiters = this.syncWaiters;
        this.syncWaiters = [];
        for (const w of waiters) w.reject(this.broken);
        return;
      }
      this.synced = Math.max(this.synced, target);
      const still: SyncWaiter[] = [];
      for (const w of this.syncWaiters) {
        if (w.upTo <= this.synced) w.resolve();
        else still.push(w);
      }
      this.syncWaiters = still;
      if (this.synced >= this.written) this.flushWanted = false;
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

const EMPTY = Buffer.alloc(0);

function dataDirOf(collectionDir: string): string {
  return path.dirname(path.dirname(collectionDir));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
