/**
 * The body of a parse thread (see parse-pool.ts): it parses a write body held in shared memory
 * with the vector-aware reader, the vectors written into the slot's shared float32 room, and
 * posts back the value (its vectors are views into that room, shared rather than copied).
 */
import { parentPort } from 'node:worker_threads';
import { StoreError } from '../engine/errors.ts';
import { parseVectorJson } from './json-body.ts';

export interface ParseRequest {
  id: number;
  body: SharedArrayBuffer;
  length: number;
  floats: SharedArrayBuffer;
}

export type ParseReply = { id: number; value: unknown } | { id: number; error: { status: number; message: string } };

const port = parentPort;
if (!port) throw new Error('parse-thread.ts runs only as a worker thread');

port.on('message', (req: ParseRequest) => {
  let reply: ParseReply;
  try {
    const value = parseVectorJson(Buffer.from(req.body, 0, req.length), new Float32Array(req.floats));
    reply = { id: req.id, value };
  } catch (err) {
    const status = err instanceof StoreError ? err.status : 500;
    reply = { id: req.id, error: { status, message: err instanceof Error ? err.message : String(err) } };
  }
  port.postMessage(reply);
});
