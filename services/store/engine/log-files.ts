/**
 * The log's files: their names per generation, finding the current one, and the synchronous and
 * background full writes and directory fsync the log (and the store's other files) rely on.
 */
import fs from 'node:fs';

export const LOG_NAME = /^points-(\d{8})\.log$/;

export function logName(generation: number): string {
  return `points-${String(generation).padStart(8, '0')}.log`;
}

/** The newest log generation in a collection directory (0 when there is none). */
export function currentGeneration(dir: string): number {
  let generation = 0;
  for (const n of fs.readdirSync(dir)) {
    const m = LOG_NAME.exec(n);
    if (m) generation = Math.max(generation, Number(m[1]));
  }
  return generation;
}

export function writeAllSync(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
}

/** Writes `bufs` back to back from `position` on a libuv thread, short writes resumed. */
export function writevAll(fd: number, bufs: Buffer[], position: number, done: (err: Error | null) => void): void {
  let rest = bufs;
  let at = position;
  const step = () =>
    fs.writev(fd, rest, at, (err, n) => {
      if (err) return done(err);
      if (n === 0) return done(new Error('write made no progress'));
      at += n;
      while (rest.length > 0 && n >= rest[0]!.length) {
        n -= rest[0]!.length;
        rest = rest.slice(1);
      }
      if (rest.length === 0) return done(null);
      if (n > 0) rest = [rest[0]!.subarray(n), ...rest.slice(1)];
      step();
    });
  step();
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
