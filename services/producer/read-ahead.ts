/**
 * Reads a source ahead of the consumer into a bounded buffer, so the total (and with it the
 * ETA) is known early for catalogues up to `limit` entries, while memory stays bounded for
 * catalogues of millions: listing pauses when the buffer is full.
 */
export class ReadAhead<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private ended = false;
  private error: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;
  private stopped = false;
  readonly finished: Promise<void>;

  constructor(
    source: AsyncIterable<T>,
    private readonly limit: number,
    onRead: (entry: T) => void = () => {},
  ) {
    this.finished = this.pump(source, onRead);
  }

  private async pump(source: AsyncIterable<T>, onRead: (entry: T) => void): Promise<void> {
    const it = source[Symbol.asyncIterator]();
    try {
      while (!this.stopped) {
        while (this.buffer.length >= this.limit && !this.stopped) await new Promise<void>((r) => (this.wakeReader = r));
        if (this.stopped) break;
        const next = await it.next();
        if (next.done) break;
        onRead(next.value);
        this.buffer.push(next.value);
        this.wake();
      }
      if (this.stopped) await it.return?.();
    } catch (err) {
      this.error = err;
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = undefined;
    w?.();
  }

  /** Entries read and not yet taken. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Stops listing (the source's iterator is closed); what is buffered is dropped. */
  stop(): void {
    this.stopped = true;
    this.buffer.length = 0;
    this.wakeReader?.();
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.buffer.length > 0) {
        const value = this.buffer.shift()!;
        const r = this.wakeReader;
        this.wakeReader = undefined;
        r?.();
        yield value;
        continue;
      }
      if (this.ended || this.stopped) {
        if (this.error !== undefined && !this.stopped) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wakeConsumer = r));
    }
  }
}
