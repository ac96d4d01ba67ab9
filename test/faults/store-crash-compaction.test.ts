/**
 * A store process SIGKILLed while it compacts its log (the next generation half written beside
 * the current one) reopens with every acknowledged write, the unfinished file cleared away, and
 * takes writes again. Rounds of upserts over the same points make the log mostly obsolete, which
 * is what starts a compaction; the kill lands when the compaction's temporary file appears.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { killAll, startStoreProcess } from '../support/store-process.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-crash-compact-'));
const children: ChildProcess[] = [];

after(() => {
  killAll(children);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const { child, url } = await startStoreProcess(dataDir, { track: children });
  return { child, url };
}

const POINTS = 12_000;
const DIM = 128;
const BATCH = 500;
const vectorFor = (id: number, round: number) => Array.from({ length: DIM }, (_, d) => ((id + round * 3 + d) % 16) / 4 - 2);

async function call(url: string, method: string, p: string, body: unknown): Promise<{ status: number; json: { result?: unknown } }> {
  const res = await fetch(`${url}${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as { result?: unknown } };
}

function collectionDir(): string {
  const [c] = fs.readdirSync(path.join(dataDir, 'collections')).filter((n) => !n.startsWith('.'));
  return path.join(dataDir, 'collections', c!);
}

describe('store crash during compaction', () => {
  it('keeps every acknowledged write when killed mid-compaction', async () => {
    const first = await startServer();
    assert.equal((await call(first.url, 'PUT', '/collections/c', { vectors: { size: DIM, distance: 'Dot' } })).status, 200);
    const dir = collectionDir();
    /** The last round acknowledged for each point, and the last one attempted. */
    const acked = new Map<number, number>();
    const attempted = new Map<number, number>();
    let killed = false;
    let sawCompaction = false;
    const watcher = setInterval(() => {
      if (killed) return;
      if (fs.readdirSync(dir).some((n) => n.endsWith('.log.tmp'))) {
        sawCompaction = true;
        killed = true;
        first.child.kill('SIGKILL');
      }
    }, 1);
    try {
      for (let round = 0; round < 30 && !killed; round++) {
        for (let start = 1; start <= POINTS && !killed; start += BATCH) {
          const ids = Array.from({ length: BATCH }, (_, i) => start + i);
          for (const id of ids) attempted.set(id, round);
          try {
            const res = await call(first.url, 'PUT', '/collections/c/points?wait=true', {
              points: ids.map((id) => ({ id, vector: vectorFor(id, round), payload: { round } })),
            });
            if (res.status === 200 && !killed) for (const id of ids) acked.set(id, round);
          } catch {
            break; // the process died under this request: not acknowledged
          }
        }
      }
    } finally {
      clearInterval(watcher);
    }
    assert.ok(sawCompaction, 'a compaction was caught in the act');
    // The kill may have landed (and 'exit' fired) while a request was still in flight above.
    if (first.child.exitCode === null && first.child.signalCode === null) await once(first.child, 'exit').catch(() => {});

    const second = await startServer();
    try {
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'the unfinished compaction is cleared away');
      assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length, 1);
      const count = (await call(second.url, 'POST', '/collections/c/points/count', { exact: true })).json.result as { count: number };
      assert.equal(count.count, POINTS);
      const scrolled = (await call(second.url, 'POST', '/collections/c/points/scroll', { limit: POINTS, with_payload: true })).json.result as {
        points: Array<{ id: number; payload: { round: number } }>;
      };
      for (const p of scrolled.points) {
        const round = p.payload.round;
        assert.ok(round >= (acked.get(p.id) ?? 0), `point ${p.id}: round ${round}, but ${acked.get(p.id)} was acknowledged`);
        assert.ok(round <= attempted.get(p.id)!, `point ${p.id}: round ${round} was never sent`);
      }
      const sample = [1, POINTS / 2, POINTS];
      const got = (await call(second.url, 'POST', '/collections/c/points', { ids: sample, with_vector: true, with_payload: true })).json.result as Array<{
        id: number;
        vector: number[];
        payload: { round: number };
      }>;
      for (const p of got) assert.deepEqual(p.vector, vectorFor(p.id, p.payload.round));
      assert.equal((await call(second.url, 'PUT', '/collections/c/points?wait=true', { points: [{ id: 1, vector: vectorFor(1, 99), payload: { round: 99 } }] })).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  });
});
