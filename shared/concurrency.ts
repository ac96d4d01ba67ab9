/**
 * Small concurrency primitives for I/O fan-out (S3 GETs/HEADs, file hashing) without a
 * dependency: a counting semaphore, an order-preserving bounded map over async iterables,
 * and an abortable sleep (the retry loop around it is `retry.ts`).
 */

/** A counting semaphore: at most `limit` holders at a time, FIFO wake-up. */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  async acquire(): Promise<() => void> {
    if (this.#active < this.limit) {
      this.#active++;
    } else {
      // The releaser hands its slot over directly, so #active never dips and a late arrival cannot jump the queue.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#active--;
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * Maps `fn` over `source` with at most `limit` calls in flight and yields the results in
 * input order. Reading from `source` stays at most `limit` items ahead of the consumer, so a
 * slow consumer (a queue producer waiting for room) bounds memory as well as concurrency.
 * If `fn` throws, the error surfaces at that item's position and pending calls are abandoned.
 */
export async function* mapConcurrent<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): AsyncGenerator<R> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  const iterator = isAsyncIterable(source) ? source[Symbol.asyncIterator]() : toAsync(source[Symbol.iterator]());
  const pending: Array<Promise<IteratorResult<R>>> = [];
  let index = 0;
  let exhausted = false;

  const pull = async (): Promise<void> => {
    const next = await iterator.next();
    if (next.done) {
      exhausted = true;
      return;
    }
    const i = index++;
    const settled = fn(next.value, i).then((value) => ({ done: false as const, value }));
    // Mark as handled now; the rejection is re-raised when the consumer reaches this position.
    settled.catch(() => {});
    pending.push(settled);
  };

  try {
    while (pending.length < limit && !exhausted) await pull();
    while (pending.length > 0) {
      const result = await pending.shift()!;
      if (!exhausted) await pull();
      yield result.value;
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}

function isAsyncIterable<T>(x: Iterable<T> | AsyncIterable<T>): x is AsyncIterable<T> {
  return typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return { next: async () => it.next(), return: async () => it.return?.() ?? { done: true, value: undefined } };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
