/**
 * Runs inside the encoder thread: one ClipEncoder, answering encode requests from the thread
 * that started it. Requests are encoded concurrently, so the micro-batcher here sees every item
 * in flight at once, and inference blocks only this thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.ts';
import { openEncoder } from './index.ts';
import { ClipstreamError, describeError } from '../errors.ts';
import type { EncoderThreadReply, EncoderThreadRequest, WireError } from './thread.ts';

const port = parentPort!;
const { config, allowTestModel } = workerData as { config: Config; allowTestModel?: boolean };
const post = (m: EncoderThreadReply) => port.postMessage(m);

function wireError(err: unknown): WireError {
  if (err instanceof ClipstreamError) {
    const prefix = err.item ? `${err.item}: ` : '';
    return { code: err.code, message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message, item: err.item };
  }
  return { code: 'ENCODER_FAILED', message: describeError(err) };
}

try {
  const encoder = await openEncoder(config, { allowTestModel, onNotice: (line) => post({ type: 'notice', line }) });
  const inFlight = new Set<Promise<unknown>>();
  port.on('message', (m: EncoderThreadRequest) => {
    if (m.type === 'close') {
      // Requests still tokenizing or decoding have not reached the batcher yet: let them finish first.
      void Promise.allSettled(inFlight)
        .then(() => encoder.close())
        .then(
          () => post({ type: 'closed', stats: encoder.stats() }),
          (err: unknown) => post({ type: 'closed', stats: encoder.stats(), error: wireError(err) }),
        );
      return;
    }
    const work = m.type === 'text' ? encoder.encodeText({ text: m.text, query: m.query, item: m.item }) : encoder.encodeImage({ bytes: m.bytes, item: m.item });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => {});
    work.then(
      (vectors) => post({ type: 'result', id: m.id, vectors: { ...vectors }, stats: encoder.stats() }),
      (err: unknown) => post({ type: 'error', id: m.id, error: wireError(err), stats: encoder.stats() }),
    );
  });
  post({ type: 'ready', model: { ...encoder.model }, dims: encoder.dims, stats: encoder.stats() });
} catch (err) {
  post({ type: 'fatal', error: wireError(err) });
}
