/**
 * Parse threads for large write bodies. Reading the numbers of an upsert batch is most of the
 * CPU an upsert costs (~14 KB of JSON per point with three named vectors); on the main thread
 * it serialises with applying the batch, answering, and receiving the next body. Handed to a
 * thread, parsing overlaps with all of that.
 *
 * A large body is read straight into a body slot: shared memory (SharedArrayBuffer) for the
 * bytes and for the float32 values parsed out of them, allocated once and reused. Nothing is
 * copied or transferred between the threads but ids and payloads (structured-cloned); the
 * parsed vectors are views into the slot. Shared memory also keeps megabytes of fresh
 * ArrayBuffers per request out of the main heap's accounting, where each 32 MB of them forces
 * a young-generation GC that promotes in-flight requests into the old generation.
 */
import { Worker } from 'node:worker_threads';
import { StoreError } from '../engine/errors.ts';
import type { ParseReply, ParseRequest } from './parse-thread.ts';

/** A body's bytes and the room for its vectors; held from reading the body until its request is answered. */
export interface BodySlot {
  /** Shared memory the body is read into (the slot's capacity; the body is a prefix). */
  readonly bytes: Buffer;
}

interface Slot extends BodySlot {
  body: SharedArrayBuffer;
  floats: SharedArrayBuffer;
  bytes: Buffer;
  busy: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

const MIB = 1024 * 1024;
/**
 * After this long without a large body, slots and threads are let go: an ingest burst's working
 * memory (~10 MB per slot, ~13 MB per thread) is not held by a store that is only serving
 * queries. The next large body starts them again (a thread in ~0.1 s).
 */
const IDLE_MS = 10_000;

export class ParsePool {
  private readonly threads: (Thread | undefined)[];
  private readonly slots: Slot[] = [];
  private readonly slotWaiters: (() => void)[] = [];
  private nextId = 1;
  private closed = false;
  private lastUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  /** `maxSlots` bounds the bodies being read, parsed or applied at once (more wait for a slot). */
  constructor(
    threads: number,
    private readonly maxSlots = 8,
    private readonly idleMs = IDLE_MS,
  ) {
    this.threads = new Array<Thread | undefined>(Math.max(1, threads)).fill(undefined);
  }

  /** A free slot with room for `size` bytes; waits while all are in use. */
  async acquire(size: number): Promise<BodySlot> {
    for (;;) {
      if (this.closed) throw new StoreError(503, 'Service unavailable: the store is shutting down');
      let slot = this.slots.find((s) => !s.busy && s.bytes.length >= size) ?? this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.maxSlots) {
        slot = { body: new SharedArrayBuffer(0), floats: new SharedArrayBuffer(0), bytes: Buffer.alloc(0), busy: false };
        this.slots.push(slot);
      }
      if (slot) {
        slot.busy = true;
        this.lastUse = Date.now();
        this.idleTimer ??= setInterval(() => this.trimIfIdle(), this.idleMs / 2).unref();
        if (slot.bytes.length < size) {
          const capacity = Math.ceil(size / MIB) * MIB;
          slot.body = new SharedArrayBuffer(capacity);
          slot.bytes = Buffer.from(slot.body);
          // A number takes at least two bytes of JSON ("0,"), so a body never holds more
          // than capacity/2 of them.
          slot.floats = new SharedArrayBuffer(Math.ceil(capacity / 2) * 4);
        }
        return slot;
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  /** Frees a slot: its bytes and the vectors parsed into it may be overwritten from now on. */
  release(slot: BodySlot): void {
    (slot as Slot).busy = false;
    this.lastUse = Date.now();
    this.slotWaiters.shift()?.();
  }

  /** Parses the first `length` bytes of `slot` on a parse thread; vectors land in the slot. */
  parse(slot: BodySlot, length: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new StoreError(503, 'Service unavailable: the store is shutting down'));
    const s = slot as Slot;
    const thread = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      const req: ParseRequest = { id, body: s.body, length, floats: s.floats };
      thread.worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    for (const w of this.slotWaiters.splice(0)) w();
    const running = this.threads.filter((t): t is Thread => t !== undefined);
    this.threads.fill(undefined);
    await Promise.all(running.map((t) => t.worker.terminate()));
  }

  /** Threads and slots currently held (for tests and diagnostics). */
  get held(): { threads: number; slots: number } {
    return { threads: this.threads.filter(Boolean).length, slots: this.slots.length };
  }

  private trimIfIdle(): void {
    if (Date.now() - this.lastUse < this.idleMs || this.slots.some((s) => s.busy)) return;
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    // No slot is busy, so no parse is in flight: the threads have nothing to finish.
    this.slots.length = 0;
    const running = this.threads.filter((t): t is Thread => t !== undefined);
    this.threads.fill(undefined);
    for (const t of running) void t.worker.terminate();
  }

  /** The thread with the fewest bodies queued, started on first use. */
  private pick(): Thread {
    let best = -1;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i];
      if (!t) {
        best = i;
        break;
      }
      if (best < 0 || t.pending.size < this.threads[best]!.pending.size) best = i;
    }
    return (this.threads[best] ??= this.start(best));
  }

  private start(index: number): Thread {
    const worker = new Worker(new URL('./parse-thread-entry.mjs', import.meta.url));
    // Idle threads must not keep the process alive; in-flight requests keep the server alive.
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (reply: ParseReply) => {
      const p = thread.pending.get(reply.id);
      if (!p) return;
      thread.pending.delete(reply.id);
      if ('error' in reply) p.reject(new StoreError(reply.error.status, reply.error.message));
      else p.resolve(reply.value);
    });
    const fail = (err: unknown) => {
      if (this.threads[index] === thread) this.threads[index] = undefined;
      const pending = [...thread.pending.values()];
      thread.pending.clear();
      for (const p of pending) p.reject(new StoreError(500, `Service internal error: a parse thread failed: ${err instanceof Error ? err.message : String(err)}`));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`exited with code ${code}`));
    });
    return thread;
  }
}
