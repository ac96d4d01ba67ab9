/**
 * Parse threads for large write bodies. Reading the numbers of an upsert batch is most of the
 * CPU an upsert costs (~14 KB of JSON per point with three named vectors); on the main thread
 * it serialises with applying the batch, answering, and receiving the next body. Handed to a
 * thread, parsing overlaps with all of that. Bytes go to the thread and come back transferred
 * (no copy), and so do the float32 blocks holding the parsed vectors; only the rest (ids,
 * payloads) is structured-cloned.
 */
import { Worker } from 'node:worker_threads';
import { StoreError } from '../engine/errors.ts';
import type { ParseReply, ParseRequest } from './parse-thread.ts';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  giveBack(bytes: Buffer): void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class ParsePool {
  private readonly threads: (Thread | undefined)[];
  private nextId = 1;
  private closed = false;

  constructor(size: number) {
    this.threads = new Array<Thread | undefined>(Math.max(1, size)).fill(undefined);
  }

  /**
   * Parses `bytes`, which must be a view from offset 0 of an ArrayBuffer of its own (it is
   * transferred away, leaving `bytes` empty); `giveBack` receives a Buffer over the same memory
   * once the thread is done with it, whatever the outcome.
   */
  parse(bytes: Buffer, giveBack: (bytes: Buffer) => void): Promise<unknown> {
    if (this.closed) return Promise.reject(new StoreError(503, 'Service unavailable: the store is shutting down'));
    const thread = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject, giveBack });
      const ab = bytes.buffer as ArrayBuffer;
      const req: ParseRequest = { id, bytes: ab, length: bytes.length };
      thread.worker.postMessage(req, [ab]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.threads.filter((t): t is Thread => t !== undefined);
    this.threads.fill(undefined);
    await Promise.all(running.map((t) => t.worker.terminate()));
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

  private start(slot: number): Thread {
    const worker = new Worker(new URL('./parse-thread-entry.mjs', import.meta.url));
    // Idle threads must not keep the process alive; in-flight requests keep the server alive.
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (reply: ParseReply) => {
      const p = thread.pending.get(reply.id);
      if (!p) return;
      thread.pending.delete(reply.id);
      p.giveBack(Buffer.from(reply.bytes));
      if ('error' in reply) p.reject(new StoreError(reply.error.status, reply.error.message));
      else p.resolve(reply.value);
    });
    const fail = (err: unknown) => {
      if (this.threads[slot] === thread) this.threads[slot] = undefined;
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
