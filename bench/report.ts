/** Benchmark output: one JSON line per figure, with its baseline and ratio from the same run. */
export interface BenchLine {
  suite: string;
  metric: string;
  value: number;
  unit: string;
  /** What the figure is compared with (a named alternative measured in the same run), or null. */
  baseline: string | null;
  /** value ÷ baseline value (or baseline ÷ value for lower-is-better metrics, as the metric says). */
  ratio: number | null;
  [extra: string]: unknown;
}

export function report(line: BenchLine): void {
  const round = (x: number | null) => (x === null ? null : Number(x.toPrecision(4)));
  process.stdout.write(JSON.stringify({ ...line, value: round(line.value), ratio: round(line.ratio) }) + '\n');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
