/**
 * The background optimiser: one thread for the whole process (bounded CPU: folds run one at a
 * time, each with the vector's `max_indexing_threads`), fed a queue of folds. A fold hands the
 * thread the points of an appendable part (keys and a copy of their vectors, transferred, not
 * shared: the main thread goes on writing its columns) and the keys to remove, and gets back the
 * next index file. The thread stops after a while without work, freeing the indexes it held; the
 * next fold starts it again and it reloads the index from the current file.
 */
import { Worker } from 'node:worker_threads';

export interface UsearchConfig {
  dimensions: number;
  metric: string;
  quantization: string;
  connectivity: number;
  expansion_add: number;
  expansion_search: number;
}

export interface FoldRequest {
  type: 'fold';
  seq: number;
  /** The index this fold extends (its thread-side copy is kept between folds). */
  id: string;
  config: UsearchConfig;
  /** The current index file to load when the thread does not hold the index; null: start empty. */
  base: string | null;
  remove: BigUint64Array;
  keys: BigUint64Array;
  vectors: Float32Array;
  threads: number;
  out: string;
}

export type FoldReply = { seq: number; ok: true; bytes: number; sha256: string; size: number } | { seq: number; ok: false; error: string };
export type FoldResult = Extract<FoldReply, { ok: true }>;

const IDLE_MS = 30_000;
const ENTRY = new URL('./optimizer-thread-entry.mjs', import.meta.url);

class Optimizer {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve(r: FoldResult): void; reject(e: Error): void }>();
  /** Index ids the running thread holds (a fresh thread holds none). */
  private readonly held = new Set<string>();
  private idleTimer: NodeJS.Timeout | null = null;

  /** Runs a fold; `base` is used only when the thread does not hold the index already. */
  fold(req: Omit<FoldRequest, 'type' | 'seq'>): Promise<FoldResult> {
    const worker = this.start();
    const seq = ++this.seq;
    const send: FoldRequest = { ...req, type: 'fold', seq };
    this.held.add(req.id);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return new Promise<FoldResult>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      worker.postMessage(send, [send.keys.buffer as ArrayBuffer, send.vectors.buffer as ArrayBuffer, send.remove.buffer as ArrayBuffer]);
    });
  }

  /** Forgets the thread's copy of an index (its vector was dropped, or its collection closed). */
  drop(id: string): void {
    if (!this.held.delete(id)) return;
    this.worker?.postMessage({ type: 'drop', id });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY);
    worker.unref();
    worker.on('message', (reply: FoldReply) => {
      const w = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      if (!w) return;
      if (reply.ok) w.resolve(reply);
      else w.reject(new Error(reply.error));
      if (this.waiting.size === 0) this.idleTimer = setTimeout(() => this.stop(), IDLE_MS).unref();
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.held.clear();
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the ANN optimiser thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private stop(): void {
    if (this.waiting.size > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = null;
    this.held.clear();
    void w.terminate();
  }
}

/** The process's optimiser. */
export const optimizer = new Optimizer();
