/**
 * One finding of `clipstream doctor`: a component, a verdict and, when something is wrong,
 * what to do about it. `warn` passes (the deployment works, with a risk worth knowing);
 * `fail` does not; `skip` says a check does not apply to this configuration.
 */
export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  /** `redis`, `redis.eviction`, `qdrant.collection`, `model.files`, … */
  check: string;
  verdict: Verdict;
  detail: string;
  /** How to fix it (fail and warn). */
  fix?: string;
}

export const ok = (check: string, detail: string): Finding => ({ check, verdict: 'ok', detail });
export const skip = (check: string, detail: string): Finding => ({ check, verdict: 'skip', detail });
export const warn = (check: string, detail: string, fix: string): Finding => ({ check, verdict: 'warn', detail, fix });
export const fail = (check: string, detail: string, fix: string): Finding => ({ check, verdict: 'fail', detail, fix });

/** `a` compared with `b` as dotted versions (`7.0.15` vs `6.2`): negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Rejects after `ms` with a message naming `what`. */
export async function within<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
