/**
 * The optimiser thread: holds the mutable usearch index of every vector it folds points into,
 * removes entries that went stale, adds the new points, and writes the next generation of the
 * index file (fsynced, hashed) for the main thread to map. Runs at a lower priority than the
 * main thread, so ingest and queries come first on a busy machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import usearch from 'usearch';
import { sha256File } from './files.ts';
import type { FoldReply, FoldRequest } from './optimizer.ts';

const { Index } = usearch;
type UsearchIndex = InstanceType<typeof Index>;

const PRIORITY = 10;

function lowerPriority(): void {
  try {
    // Linux: /proc/thread-self names this thread; setpriority on a thread id affects that thread
    // (and the threads it starts), not the process.
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid)) os.setPriority(tid, PRIORITY);
  } catch {
    // Elsewhere the thread keeps the process's priority.
  }
}

lowerPriority();
const indexes = new Map<string, UsearchIndex>();

parentPort!.on('message', (msg: FoldRequest | { type: 'drop'; id: string }) => {
  if (msg.type === 'drop') {
    indexes.delete(msg.id);
    return;
  }
  let reply: FoldReply;
  try {
    let index = indexes.get(msg.id);
    if (!index || msg.base === null) {
      index = new Index({ dimensions: msg.config.dimensions, metric: msg.config.metric as never, quantization: msg.config.quantization as never, connectivity: msg.config.connectivity, expansion_add: msg.config.expansion_add, expansion_search: msg.config.expansion_search, multi: false });
      if (msg.base !== null) index.load(msg.base);
      indexes.set(msg.id, index);
    }
    if (msg.remove.length > 0) index.remove(msg.remove);
    if (msg.keys.length > 0) index.add(msg.keys, msg.vectors, msg.threads);
    index.save(msg.out);
    const fd = fs.openSync(msg.out, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    reply = { seq: msg.seq, ok: true, bytes: fs.statSync(msg.out).size, sha256: sha256File(msg.out), size: index.size() };
  } catch (err) {
    indexes.delete(msg.id);
    reply = { seq: msg.seq, ok: false, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
