// `clipstream encode` prints the requested Matryoshka slices as JSON, each a unit vector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drawProductImage } from '../../scripts/test-model/draw.ts';

const env = { ...process.env, MODEL_DIR: path.resolve('models/test-tiny') };
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

function encode(args: string[]) {
  return spawnSync(process.execPath, ['bin/clipstream.mjs', 'encode', ...args], { env, encoding: 'utf8', timeout: 120_000 });
}

test('encode --text --query prints the requested dims as unit vectors', () => {
  const r = encode(['--text', 'rote Schuhe', '--query', '--dims', '64,1024']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { model: string; testModel: boolean; input: { query: boolean }; vectors: Record<string, number[]> };
  assert.deepEqual(Object.keys(out.vectors), ['64', '1024']);
  assert.equal(out.vectors['64']!.length, 64);
  for (const v of Object.values(out.vectors)) assert.ok(Math.abs(norm(v) - 1) < 1e-5);
  assert.equal(out.input.query, true);
  assert.equal(out.testModel, true);
});

test('encode --image works on a file and names a bad one in its error', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clipstream-encode-'));
  try {
    const good = path.join(dir, 'red-shoe.jpg');
    writeFileSync(good, await drawProductImage({ colour: 'red', category: 'shoe', seed: 1, format: 'jpeg' }));
    const ok = encode(['--image', good, '--dims', '256']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { vectors: Record<string, number[]> }).vectors['256']!.length, 256);
    const bad = path.join(dir, 'broken.jpg');
    writeFileSync(bad, Buffer.from('not an image at all'));
    const failed = encode(['--image', bad]);
    assert.equal(failed.status, 2);
    assert.match(failed.stderr, /broken\.jpg/);
    assert.match(failed.stderr, /IMAGE_DECODE_FAILED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode refuses bad arguments with a clear message', () => {
  const r = encode(['--dims', '64']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /exactly one of --text or --image/);
  const d = encode(['--text', 'x', '--dims', '100']);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /--dims: 100/);
});
