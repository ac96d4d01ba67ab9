/**
 * Dynamic micro-batching. Encode requests arrive one at a time from many callers (queue jobs,
 * HTTP requests); the model is far more efficient on batches. Requests are gathered until
 * `maxBatchSize` items are waiting or the oldest has waited `maxWaitMs`, then run together.
 * While a batch runs, new requests accumulate, so under load batches fill up by themselves.
 *
 * Backpressure: at most `maxInFlight` items may be queued or running; further `submit` calls
 * wait for room instead of growing memory without bound.
 *
 * Failure isolation: `run` returns one result per item (a value or an Error). If `run` itself
 * throws, each item of the batch is retried alone, so one poisonous item fails by itself.
 */
import { ClipstreamError } from '../errors.ts';

export interface MicroBatcherOptions<I, O> {
  name: string;
  maxBatchSize: number;
  maxWaitMs: number;
  maxInFlight: number;
  /** How many batches may run at once (1 for a single CPU/GPU session). */
  concurrency?: number;
  run: (items: I[]) => Promise<Array<O | Error>>;
}

export interface BatcherStats {
  name: string;
  items: number;
  failures: number;
  batches: number;
  /** batch size → number of batches of that size */
  batchSizes: Record<number, number>;
  /** Milliseconds spent inside `run` (the encoder busy time). */
  busyMs: number;
  inFlight: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: Error) => void;
}

export class MicroBatcher<I, O> {
  private readonly pending: Pending<I, O>[] = [];
  private readonly roomWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private inFlight = 0;
  private closed = false;
  private readonly stats_: BatcherStats;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    if (options.maxBatchSize < 1 || options.maxInFlight < 1) throw new RangeError('maxBatchSize and maxInFlight must be ≥ 1');
    this.stats_ = { name: options.name, items: 0, failures: 0, batches: 0, batchSizes: {}, busyMs: 0, inFlight: 0 };
  }

  /** Encodes one item; resolves with its result or rejects with its own error. */
  async submit(item: I): Promise<O> {
    if (this.closed) throw new ClipstreamError('ENCODER_CLOSED', `${this.options.name} batcher is closed`);
    while (this.inFlight >= this.options.maxInFlight) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.closed) throw new ClipstreamError('ENCODER_CLOSED', `${this.options.name} batcher is closed`);
    }
    this.inFlight++;
    try {
      return await new Promise<O>((resolve, reject) => {
        this.pending.push({ item, resolve, reject });
        this.schedule();
      });
    } finally {
      this.inFlight--;
      this.roomWaiters.shift()?.();
    }
  }

  stats(): BatcherStats {
    return { ...this.stats_, batchSizes: { ...this.stats_.batchSizes }, inFlight: this.inFlight };
  }

  /** Runs what is queued, then refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.length > 0 || this.running > 0) {
      this.dispatch();
      await new Promise((r) => setTimeout(r, 1));
    }
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private schedule(): void {
    const concurrency = this.options.concurrency ?? 1;
    if (this.running >= concurrency) return; // the batch in progress will pick these up when it ends
    if (this.pending.length >= this.options.maxBatchSize || this.options.maxWaitMs === 0) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.options.maxWaitMs);
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const concurrency = this.options.concurrency ?? 1;
    while (this.pending.length > 0 && this.running < concurrency) {
      const batch = this.pending.splice(0, this.options.maxBatchSize);
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        // Requests that arrived while this batch ran have already waited at least one batch time.
        if (this.pending.length > 0) this.dispatch();
      });
    }
  }

  private async runBatch(batch: Pending<I, O>[]): Promise<void> {
    const started = performance.now();
    let results: Array<O | Error>;
    try {
      results = await this.options.run(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`batch runner returned ${results.length} results for ${batch.length} items`);
      }
    } catch (err) {
      if (batch.length === 1) {
        results = [err instanceof Error ? err : new Error(String(err))];
      } else {
        // Isolate the culprit: each item alone.
        results = [];
        for (const p of batch) {
          try {
            const [r] = await this.options.run([p.item]);
            results.push(r as O | Error);
          } catch (single) {
            results.push(single instanceof Error ? single : new Error(String(single)));
          }
        }
      }
    }
    this.stats_.busyMs += performance.now() - started;
    this.stats_.batches++;
    this.stats_.items += batch.length;
    this.stats_.batchSizes[batch.length] = (this.stats_.batchSizes[batch.length] ?? 0) + 1;
    batch.forEach((p, i) => {
      const r = results[i];
      if (r instanceof Error) {
        this.stats_.failures++;
        p.reject(r);
      } else {
        p.resolve(r as O);
      }
    });
  }
}
