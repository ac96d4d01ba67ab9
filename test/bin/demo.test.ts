// The README's main command (`npm start` → `clipstream demo`) on a fresh DATA_DIR, as a
// newcomer runs it: the sample catalogue is ingested on the embedded default with the test model
// standing in (labelled), a second run re-encodes nothing, and the page answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dataDir = mkdtempSync(path.join(tmpdir(), 'clipstream-demo-'));
const env = { ...process.env, DATA_DIR: dataDir, MODEL_OFFLINE: 'true', REDIS_URL: '', QDRANT_URL: '' };

function demoOnce(): { summary: Record<string, unknown>; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/clipstream.mjs', 'demo', '--no-serve', '--json'], { env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
  const summary = events.find((e) => e.event === 'summary') as Record<string, unknown> | undefined;
  assert.ok(summary, 'a summary event');
  return { summary, stderr: r.stderr + r.stdout };
}

test('demo ingests the sample catalogue, says it runs on the test model, and skips unchanged items next time', () => {
  try {
    const first = demoOnce();
    assert.match(first.stderr, /jina-clip-v2 is not available here/);
    assert.match(first.stderr, /TEST model/);
    assert.equal(first.summary.failed, 0);
    assert.equal(first.summary.indexed, 72 + 54 * 8 + 18, '72 images and 450 records (18 products in English only)');
    const second = demoOnce();
    assert.equal(second.summary.indexed, 0);
    assert.equal(second.summary.skipped, 522);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('demo serves the search page and prints its URL', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clipstream-demo-serve-'));
  const child = spawn(process.execPath, ['bin/clipstream.mjs', 'demo'], { env: { ...env, DATA_DIR: dir, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /search page: (http:\/\/\S+?)\/(\s|$)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`demo exited ${code}: ${out}`)));
    });
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<input|<form/i);
    const res = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'rote Schuhe', modality: 'text', limit: 5 }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { hits: Array<{ payload: { fields?: { colour?: string; category?: string } } }> };
    assert.equal(body.hits[0]?.payload.fields?.colour, 'red');
    assert.equal(body.hits[0]?.payload.fields?.category, 'shoe');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
