/**
 * Bounded top-k selection over (slot, score) pairs in typed arrays: no allocation per scored
 * point. Ranking key is the score for similarity metrics and its negation for distances, so one
 * min-heap serves both.
 */
export class TopK {
  private readonly keys: Float64Array;
  private readonly slots: Int32Array;
  private readonly k: number;
  private readonly sign: number;
  size = 0;

  constructor(k: number, higherIsBetter: boolean) {
    this.k = Math.max(0, k);
    this.keys = new Float64Array(this.k);
    this.slots = new Int32Array(this.k);
    this.sign = higherIsBetter ? 1 : -1;
  }

  /** The score a candidate must beat to enter, as a key; -Infinity while not full. */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.keys[0]!;
  }

  push(slot: number, score: number): void {
    if (this.k === 0) return;
    const key = score * this.sign;
    const keys = this.keys;
    const slots = this.slots;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (keys[parent]! <= key) break;
        keys[i] = keys[parent]!;
        slots[i] = slots[parent]!;
        i = parent;
      }
      keys[i] = key;
      slots[i] = slot;
      return;
    }
    if (key <= keys[0]!) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r]! < keys[l]! ? r : l;
      if (keys[c]! >= key) break;
      keys[i] = keys[c]!;
      slots[i] = slots[c]!;
      i = c;
    }
    keys[i] = key;
    slots[i] = slot;
  }

  /** Best first; ties keep the lower slot (earlier insertion) first. */
  drain(): { slots: number[]; scores: number[] } {
    const order = Array.from({ length: this.size }, (_, i) => i);
    order.sort((a, b) => this.keys[b]! - this.keys[a]! || this.slots[a]! - this.slots[b]!);
    return {
      slots: order.map((i) => this.slots[i]!),
      scores: order.map((i) => this.keys[i]! * this.sign),
    };
  }
}
