/**
 * Throughput over a sliding window, so the rate (and the ETA from it) follows the recent pace
 * instead of the average since the start, which a slow first minute would drag down for hours.
 */
export class RateMeter {
  private samples: Array<{ t: number; done: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  /** Records progress `done` at time `t` (ms). A value going down (a restarted transfer) starts afresh. */
  sample(t: number, done: number): void {
    const last = this.samples.at(-1);
    if (last && done < last.done) this.samples = [];
    if (last && t === last.t) {
      last.done = done;
    } else {
      this.samples.push({ t, done });
    }
    // Keep one sample at or beyond the window's start so the span covers the whole window.
    while (this.samples.length > 2 && t - this.samples[1]!.t >= this.windowMs) this.samples.shift();
  }

  /** Units per second, or undefined before a quarter second of history. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < 250) return undefined;
    return ((last.done - first.done) * 1000) / (last.t - first.t);
  }
}
