/**
 * The body of a parse thread (see parse-pool.ts): it receives a write body's bytes
 * (transferred, not copied), parses them with the vector-aware reader and posts back the value
 * together with the bytes and the float32 blocks holding the vectors, all transferred.
 */
import { parentPort } from 'node:worker_threads';
import { StoreError } from '../engine/errors.ts';
import { parseVectorJson } from './json-body.ts';

export interface ParseRequest {
  id: number;
  bytes: ArrayBuffer;
  length: number;
}

export type ParseReply =
  | { id: number; bytes: ArrayBuffer; value: unknown }
  | { id: number; bytes: ArrayBuffer; error: { status: number; message: string } };

const port = parentPort;
if (!port) throw new Error('parse-thread.ts runs only as a worker thread');

port.on('message', (req: ParseRequest) => {
  const blocks: ArrayBuffer[] = [];
  let reply: ParseReply;
  try {
    const value = parseVectorJson(Buffer.from(req.bytes, 0, req.length), blocks);
    reply = { id: req.id, bytes: req.bytes, value };
  } catch (err) {
    blocks.length = 0;
    const status = err instanceof StoreError ? err.status : 500;
    reply = { id: req.id, bytes: req.bytes, error: { status, message: err instanceof Error ? err.message : String(err) } };
  }
  port.postMessage(reply, [req.bytes, ...blocks]);
});
