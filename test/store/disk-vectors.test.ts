/**
 * VectorFile's staged writes (engine/disk-vectors.ts): writes to consecutive slots go out
 * together, and whatever order writes, rewrites and reads come in, a read returns the last
 * value written and the file holds it once flushed; an applied op leaves nothing staged.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VectorFile } from '../../services/store/engine/disk-vectors.ts';
import { Store } from '../../services/store/engine/store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-vfile-'));
  dirs.push(dir);
  return dir;
}

const DIM = 8;
const vec = (seed: number) => Float32Array.from({ length: DIM }, (_, i) => seed * 100 + i);
/** The slot's values straight from the file's bytes (what a reopened store's replay would overwrite). */
function onDisk(file: string, slot: number): number[] {
  const buf = fs.readFileSync(file);
  return Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset + slot * DIM * 4, buf.byteOffset + (slot + 1) * DIM * 4)));
}

describe('VectorFile staged writes', () => {
  it('writes runs of consecutive slots longer than one writev, gaps and rewrites, last write wins', () => {
    const f = new VectorFile(path.join(tmp(), 'v.f32'), DIM);
    const expected = new Map<number, number>();
    const put = (slot: number, seed: number) => {
      f.write(slot, vec(seed));
      expected.set(slot, seed);
    };
    for (let s = 0; s < 600; s++) put(s, s + 1); // more than one run of 256
    put(900, 5); // a gap
    put(901, 6);
    put(3, 77); // back into an earlier run
    put(901, 88); // rewrite of a staged slot
    f.flush();
    for (const [slot, seed] of expected) assert.deepEqual(onDisk(f.file, slot), Array.from(vec(seed)), `slot ${slot}`);
    assert.deepEqual(onDisk(f.file, 700), new Array(DIM).fill(0), 'a slot never written is zeros');
    f.close();
  });

  it('a read sees a staged write, and the caller may reuse its array once flushed', () => {
    const f = new VectorFile(path.join(tmp(), 'v.f32'), DIM);
    const shared = vec(1);
    f.write(0, shared);
    f.write(1, vec(2));
    assert.deepEqual(Array.from(f.read(0)), Array.from(vec(1)), 'read flushes first');
    shared.fill(-1);
    assert.deepEqual(Array.from(f.read(0)), Array.from(vec(1)), 'the file kept the value, not the array');
    f.write(2, vec(3));
    assert.deepEqual(Array.from(f.readBlock(0, 3)), [...vec(1), ...vec(2), ...vec(3)]);
    f.write(3, vec(4));
    f.close(); // closing writes what was staged
    assert.deepEqual(onDisk(f.file, 3), Array.from(vec(4)));
  });

  it('an upsert through the store leaves nothing staged: the body arrays can change after it', async () => {
    const dir = tmp();
    const store = Store.open(dir);
    try {
      store.createCollection('c', { vectors: { disk: { size: DIM, distance: 'Euclid', on_disk: true } } });
      const arrays = Array.from({ length: 300 }, (_, i) => vec(i + 1));
      await store.upsert('c', { points: arrays.map((v, i) => ({ id: i + 1, vector: { disk: v } })) }, { wait: true });
      for (const a of arrays) a.fill(0); // as a reused request-body slot would be
      const file = store.resolve('c').column('disk').file!.file;
      // Straight from the file, without any read that would flush.
      for (const i of [0, 1, 255, 256, 299]) assert.deepEqual(onDisk(file, i), Array.from(vec(i + 1)), `point ${i + 1}`);
    } finally {
      await store.close();
    }
  });
});
