/**
 * The encoder on its own thread. onnxruntime-node runs inference synchronously on the calling
 * thread, so an encoder on the main thread stops everything else while a batch runs: listing,
 * fetching, store writes and queue traffic only advance between batches, items reach the
 * micro-batcher a few at a time, and batches stay small (measured: mean image batch ~2 instead
 * of 16–32). On its own thread the encoder's event loop is the only one it blocks; the pipeline
 * keeps feeding it, and it batches everything that arrived while the previous batch ran.
 *
 * Same surface as the parts of ClipEncoder the pipeline uses; errors come back as
 * ClipstreamErrors with their code and item. If the thread dies, pending and later calls fail
 * with ENCODER_CLOSED (infrastructure, not the item's fault).
 */
import { Worker } from 'node:worker_threads';
// Loaded on this thread too, so the native libraries stay mapped until the process ends: on
// glibc, a worker thread unloading them when it exits can crash the process (lovell/sharp#2263).
import 'sharp';
import 'onnxruntime-node';
import type { Config } from '../config/index.ts';
import type { EncoderStats } from './encoder.ts';
import type { MatryoshkaVectors, ResolvedModel } from './types.ts';
import { ClipstreamError, type ErrorCode } from '../errors.ts';

export interface WireError {
  code: ErrorCode;
  message: string;
  item?: string | undefined;
}

export type EncoderThreadRequest =
  | { type: 'text'; id: number; text: string; query?: boolean | undefined; item?: string | undefined }
  | { type: 'image'; id: number; bytes: Uint8Array; item?: string | undefined }
  | { type: 'close' };

export type EncoderThreadReply =
  | { type: 'ready'; model: ResolvedModel; dims: number[]; stats: EncoderStats }
  | { type: 'notice'; line: string }
  | { type: 'result'; id: number; vectors: Record<number, Float32Array>; stats: EncoderStats }
  | { type: 'error'; id: number; error: WireError; stats: EncoderStats }
  | { type: 'fatal'; error: WireError }
  | { type: 'closed'; stats: EncoderStats; error?: WireError };

export interface EncoderThreadOptions {
  allowTestModel?: boolean | undefined;
  onNotice?: ((line: string) => void) | undefined;
}

interface Pending {
  resolve: (v: MatryoshkaVectors) => void;
  reject: (e: unknown) => void;
}

const fromWire = (e: WireError) => new ClipstreamError(e.code, e.message, { item: e.item });

export class EncoderThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private latestStats: EncoderStats;
  private dead: ClipstreamError | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly model: ResolvedModel,
    readonly dims: number[],
    stats: EncoderStats,
  ) {
    this.latestStats = stats;
    worker.on('message', (m: EncoderThreadReply) => {
      if (m.type === 'result' || m.type === 'error') {
        this.latestStats = m.stats;
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'result') p?.resolve(m.vectors);
        else p?.reject(fromWire(m.error));
      }
    });
    worker.on('error', (err) => this.fail(`the encoder thread failed: ${err.message}`));
    worker.on('exit', (code) => this.fail(`the encoder thread exited (code ${code})`));
  }

  /** Starts the thread and loads the model there (resolving, downloading, test-model fallback as `openEncoder`). */
  static open(config: Config, options: EncoderThreadOptions = {}): Promise<EncoderThread> {
    const worker = new Worker(new URL('./thread-entry.mjs', import.meta.url), {
      workerData: { config, allowTestModel: options.allowTestModel },
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: EncoderThreadReply) => {
        if (m.type === 'notice') options.onNotice?.(m.line);
        else if (m.type === 'ready') {
          cleanup();
          const thread = new EncoderThread(worker, m.model, m.dims, m.stats);
          worker.on('message', (n: EncoderThreadReply) => n.type === 'notice' && options.onNotice?.(n.line));
          resolve(thread);
        } else if (m.type === 'fatal') {
          cleanup();
          void worker.terminate();
          reject(fromWire(m.error));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new ClipstreamError('ENCODER_FAILED', `the encoder thread could not start: ${err.message}`, { cause: err }));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  encodeText(input: { text: string; query?: boolean; item?: string }): Promise<MatryoshkaVectors> {
    return this.request({ type: 'text', id: 0, text: input.text, query: input.query, item: input.item });
  }

  encodeImage(input: { bytes: Uint8Array; item?: string }): Promise<MatryoshkaVectors> {
    return this.request({ type: 'image', id: 0, bytes: input.bytes, item: input.item });
  }

  /** The encoder's batch statistics as of its latest answer. */
  stats(): EncoderStats {
    return this.latestStats;
  }

  /** Lets the requests in flight finish, then stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead) return;
      const closed = new Promise<void>((resolve) => {
        this.worker.on('message', (m: EncoderThreadReply) => {
          if (m.type === 'closed') {
            this.latestStats = m.stats;
            resolve();
          }
        });
        this.worker.once('exit', () => resolve());
      });
      this.worker.postMessage({ type: 'close' } satisfies EncoderThreadRequest);
      await closed;
      this.dead ??= new ClipstreamError('ENCODER_CLOSED', 'the encoder is closed');
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private request(message: Exclude<EncoderThreadRequest, { type: 'close' }>): Promise<MatryoshkaVectors> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new ClipstreamError('ENCODER_CLOSED', 'the encoder is closing', { item: message.item }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private fail(reason: string): void {
    this.dead ??= new ClipstreamError('ENCODER_CLOSED', reason);
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}
