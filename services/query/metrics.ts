/**
 * Prometheus metrics of one query service instance. Each app owns its registry (not prom-client's
 * global one) so several instances — tests, the benchmark — never share or double-register series.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CANDIDATE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export class QueryMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly encodeSeconds: Histogram<'kind'>;
  readonly searchSeconds: Histogram<'mode'>;
  readonly candidates: Histogram<'stage'>;
  readonly errors: Counter<'cause'>;
  readonly cache: Counter<'kind' | 'result'>;
  readonly shed: Counter<'reason'>;

  constructor(options: { defaultMetrics?: boolean | undefined } = {}) {
    const registers = [this.registry];
    this.requestSeconds = new Histogram({
      name: 'clipstream_query_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.encodeSeconds = new Histogram({
      name: 'clipstream_query_encode_duration_seconds',
      help: 'Query encoding latency (text or image); cache hits are not observed',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.searchSeconds = new Histogram({
      name: 'clipstream_query_search_duration_seconds',
      help: 'Store search latency by mode (coarse_to_fine, exact, groups)',
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.candidates = new Histogram({
      name: 'clipstream_query_candidates',
      help: 'Candidates requested per ranking stage (mrl_64 prefetch, mrl_256 prefetch, final)',
      labelNames: ['stage'],
      buckets: CANDIDATE_BUCKETS,
      registers,
    });
    this.errors = new Counter({
      name: 'clipstream_query_errors_total',
      help: 'Failed requests by cause (error code)',
      labelNames: ['cause'],
      registers,
    });
    this.cache = new Counter({
      name: 'clipstream_query_embedding_cache_total',
      help: 'Query embedding cache lookups by kind (text, image) and result (hit, miss)',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.shed = new Counter({
      name: 'clipstream_query_shed_total',
      help: 'Requests refused with 503 + Retry-After to shed load, by reason (event_loop, encoder_queue)',
      labelNames: ['reason'],
      registers,
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'clipstream_query_' });
  }
}

/** Observes every answer of `app` in `requestSeconds`, by the route that matched (not the raw URL: bounded labels). */
export function recordRequests(app: FastifyInstance, metrics: QueryMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
