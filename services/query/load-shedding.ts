/**
 * Shedding load instead of queueing it: when the event loop lags past
 * QUERY_MAX_EVENT_LOOP_DELAY_MS (under-pressure samples it), requests answer 503 with
 * Retry-After at once, so clients back off while latency is still bounded. Health, readiness and
 * metrics are never shed — they are how an operator sees the overload. The encoder's own bound
 * (QUERY_MAX_PENDING_ENCODES) sheds in the searcher. Both count in clipstream_query_shed_total.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { HttpAnswerError } from './http-errors.ts';
import type { QueryMetrics } from './metrics.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: answered even under load (operations routes). */
    shed?: boolean;
  }
}

export interface SheddingOptions {
  /** 0 disables the event-loop check. */
  maxEventLoopDelayMs: number;
  /** How often the event-loop delay is sampled (under-pressure's default: 1 s). */
  sampleIntervalMs?: number | undefined;
  metrics: QueryMetrics;
}

export async function shedUnderLoad(app: FastifyInstance, o: SheddingOptions): Promise<void> {
  if (o.maxEventLoopDelayMs <= 0) return;
  await app.register(underPressure, {
    maxEventLoopDelay: o.maxEventLoopDelayMs,
    ...(o.sampleIntervalMs ? { sampleInterval: o.sampleIntervalMs } : {}),
    pressureHandler: (request, _reply, _type, value) => {
      if (request.routeOptions.config.shed === false) return undefined;
      o.metrics.shed.inc({ reason: 'event_loop' });
      // Infinity: the loop was blocked for the whole sample, so not one delay was measured.
      const lag = typeof value === 'number' && Number.isFinite(value) ? `${Math.round(value)} ms behind` : 'blocked';
      return Promise.reject(
        new HttpAnswerError(503, 'OVERLOADED', `the service is overloaded (event loop ${lag}, over QUERY_MAX_EVENT_LOOP_DELAY_MS=${o.maxEventLoopDelayMs}); retry later`),
      );
    },
  });
}
