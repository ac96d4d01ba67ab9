/**
 * Originals of an `on_disk: true` dense vector kept in a file instead of the JS heap: one fixed
 * slot of `dim` float32 per point at `slot × dim × 4`, written with positional writes as points
 * are applied and read back with positional reads (a re-ranking stage reads only its
 * candidates; an exact scan reads 4096 slots per call). Writes to consecutive slots (an upsert
 * batch of new points) are staged and go out as one writev: a syscall per point cost the main
 * thread as much as encoding the log frame. The log stays the source of truth: the
 * file is refilled by the log replay at every open, so it needs no syncing and a torn one is
 * harmless.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Vectors staged for one writev at most (well under IOV_MAX). */
const RUN_MAX = 256;

export class VectorFile {
  private fd: number | null;
  private readonly bytesPer: number;
  private readonly scratch: Float32Array;
  private block: Float32Array | null = null;
  /** Staged writes: `run[i]` goes to slot `runFirst + i` (views the caller keeps valid until `flush`). */
  private run: Float32Array[] = [];
  private runFirst = 0;

  constructor(
    readonly file: string,
    readonly dim: number,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'w+');
    this.bytesPer = dim * 4;
    this.scratch = new Float32Array(dim);
  }

  /**
   * Stores the slot's vector. The write may be staged: `values` must stay unchanged until the
   * next `flush` (reads flush first, so they always see it).
   */
  write(slot: number, values: Float32Array): void {
    if (this.run.length > 0 && (slot !== this.runFirst + this.run.length || this.run.length === RUN_MAX)) this.flush();
    if (this.run.length === 0) this.runFirst = slot;
    this.run.push(values.length === this.dim ? values : values.subarray(0, this.dim));
  }

  /** Writes the staged vectors (one writev; a short write is resumed one vector at a time). */
  flush(): void {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    const bufs = run.map((v) => new Uint8Array(v.buffer, v.byteOffset, this.bytesPer));
    const start = this.runFirst * this.bytesPer;
    let done = fs.writevSync(this.fd!, bufs, start);
    for (let i = 0; i < bufs.length; i++) {
      const bytes = bufs[i]!;
      const from = i * this.bytesPer;
      if (done >= from + bytes.length) continue;
      let off = Math.max(0, done - from);
      while (off < bytes.length) off += fs.writeSync(this.fd!, bytes, off, bytes.length - off, start + from + off);
      done = from + bytes.length;
    }
  }

  /** The slot's vector, in `out` (a fresh array by default); zeros past the end of the file. */
  read(slot: number, out: Float32Array = new Float32Array(this.dim)): Float32Array {
    this.readInto(out, slot, 1);
    return out;
  }

  /** The slot's vector in a buffer reused by the next call (for scoring one at a time). */
  readScratch(slot: number): Float32Array {
    return this.read(slot, this.scratch);
  }

  /** Slots [first, first + count) in a buffer reused by the next call. */
  readBlock(first: number, count: number): Float32Array {
    if (!this.block || this.block.length < count * this.dim) this.block = new Float32Array(count * this.dim);
    const view = this.block.subarray(0, count * this.dim);
    this.readInto(view, first, count);
    return view;
  }

  private readInto(out: Float32Array, first: number, count: number): void {
    this.flush();
    const bytes = new Uint8Array(out.buffer, out.byteOffset, count * this.bytesPer);
    let off = 0;
    while (off < bytes.length) {
      const n = fs.readSync(this.fd!, bytes, off, bytes.length - off, first * this.bytesPer + off);
      if (n === 0) {
        bytes.fill(0, off);
        break;
      }
      off += n;
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
    }
    this.fd = null;
  }

  /** Closes and deletes the file (the vector was dropped). */
  remove(): void {
    this.run = [];
    this.close();
    fs.rmSync(this.file, { force: true });
  }
}

/** Where a collection keeps the file of an on-disk vector. */
export function vectorFilePath(collectionDir: string, vectorName: string): string {
  return path.join(collectionDir, 'vectors', `v-${Buffer.from(vectorName, 'utf8').toString('hex')}.f32`);
}
