/** Parsing of numeric command-line options shared by the subcommands. */
import { ClipstreamError } from '../../shared/errors.ts';

/** A flag's value as a positive integer; an absent flag stays undefined. */
export function positiveInt(flag: string, value: string): number;
export function positiveInt(flag: string, value: string | undefined): number | undefined;
export function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ClipstreamError('BAD_REQUEST', `${flag} ${JSON.stringify(value)}: expected a positive integer`);
  return n;
}
