/**
 * Durability: a store process is SIGKILLed in the middle of streams of upserts (small and large
 * bodies with wait=true, small ones with wait=false) and restarted on the same directory. Every acknowledged point must be there, intact; counts must
 * be consistent; and the reopened store must take new writes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { killAll, startStoreProcess } from '../support/store-process.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-persist-'));
const children: ChildProcess[] = [];

after(() => {
  killAll(children);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(): Promise<{ child: ChildProcess; client: QdrantClient }> {
  return startStoreProcess(dataDir, { track: children });
}

const DIMS = { mrl_8: 8, mrl_16: 16, mrl_32: 32 } as const;
/** Exactly representable in float32, so read-back can be compared exactly. */
const vectorFor = (id: number, dim: number) => Array.from({ length: dim }, (_, i) => ((id * 7 + i * 3) % 32) / 8 - 2);
const pointFor = (id: number) => ({
  id,
  vector: Object.fromEntries(Object.entries(DIMS).map(([name, dim]) => [name, vectorFor(id, dim)])),
  payload: { id, title: `point ${id}`, tags: [`t${id % 3}`], nested: { even: id % 2 === 0 } },
});

describe('persistence', () => {
  it('keeps every acknowledged write across a SIGKILL and reopens cleanly', async () => {
    const first = await startServer();
    await first.client.createCollection('durable', {
      vectors: Object.fromEntries(Object.entries(DIMS).map(([name, size]) => [name, { size, distance: 'Dot' as const }])),
    });
    await first.client.createPayloadIndex('durable', { wait: true, field_name: 'tags', field_schema: 'keyword' });

    const acknowledged: number[] = [];
    const acks = { small: 0, large: 0, noWait: 0 };
    let nextId = 1;
    let killed = false;
    let writerFailure: unknown;
    // Small bodies are parsed on the main thread, large ones (>256 KB) on a parse thread;
    // wait=false is acknowledged once the OS has the bytes, which must survive the kill too.
    const writer = async (batch: number, wait: boolean, kind: keyof typeof acks) => {
      while (!killed) {
        const ids = Array.from({ length: batch }, () => nextId++);
        try {
          await first.client.upsert('durable', { wait, points: ids.map(pointFor) });
          if (!killed) {
            acknowledged.push(...ids);
            acks[kind]++;
          }
        } catch (err) {
          // After the kill a failed request is expected (not acknowledged); before it, it is the regression under test.
          if (!killed) writerFailure = err;
          return;
        }
      }
    };
    assert.ok(JSON.stringify({ points: Array.from({ length: 800 }, (_, i) => pointFor(i + 1e5)) }).length > 256 * 1024);
    const writers = [writer(25, true, 'small'), writer(25, true, 'small'), writer(800, true, 'large'), writer(25, false, 'noWait')];
    while (acknowledged.length < 600 || acks.large < 2 || acks.noWait < 2) {
      if (writerFailure) throw writerFailure;
      await new Promise((r) => setTimeout(r, 5));
    }
    killed = true;
    const ackedBeforeKill = acknowledged.length;
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    await Promise.all(writers);
    const attempted = nextId - 1;

    const second = await startServer();
    const total = (await second.client.count('durable', { exact: true })).count;
    assert.ok(total >= ackedBeforeKill, `count ${total} < acknowledged ${ackedBeforeKill}`);
    assert.ok(total <= attempted, `count ${total} > attempted ${attempted}`);
    for (let i = 0; i < acknowledged.length; i += 100) {
      const ids = acknowledged.slice(i, i + 100);
      const got = await second.client.retrieve('durable', { ids, with_vector: true });
      assert.equal(got.length, ids.length, `points ${ids[0]}..${ids[ids.length - 1]}`);
      for (const p of got) assert.deepEqual({ id: p.id, vector: p.vector, payload: p.payload }, pointFor(p.id as number));
    }
    const info = await second.client.getCollection('durable');
    assert.equal(info.points_count, total);
    assert.equal(info.payload_schema.tags?.points, total, 'the payload index was rebuilt for every point');
    const scrolled = await second.client.scroll('durable', { limit: 100_000, with_payload: false });
    assert.equal(scrolled.points.length, total);

    await second.client.upsert('durable', { wait: true, points: [pointFor(1_000_000)] });
    await second.client.delete('durable', { wait: true, points: [acknowledged[0]!] });
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');

    const third = await startServer();
    assert.equal((await third.client.count('durable', {})).count, total);
    assert.equal((await third.client.retrieve('durable', { ids: [acknowledged[0]!] })).length, 0);
    const [fresh] = await third.client.retrieve('durable', { ids: [1_000_000], with_vector: true });
    assert.deepEqual(fresh?.payload, pointFor(1_000_000).payload);
    third.child.kill('SIGTERM');
    await once(third.child, 'exit');
  });
});
