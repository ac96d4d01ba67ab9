/**
 * Prometheus metrics of the embedded store server, at GET /metrics (as Qdrant serves its own;
 * behind the API key like every non-probe route): points and segments per collection, the
 * size of each collection's log on disk, and request latency per endpoint (the route pattern
 * that matched, so the labels stay bounded). Kept apart from the engine and the router: the
 * server calls `track` once per request and the route renders `storeMetrics(store)`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../engine/store.ts';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class StoreMetrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<'method' | 'endpoint' | 'status'>;

  constructor(store: Store) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role: 'store' });
    this.requestSeconds = new Histogram({
      name: 'clipstream_store_request_duration_seconds',
      help: 'Store HTTP requests by method, endpoint (route pattern) and status',
      labelNames: ['method', 'endpoint', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const points = new Gauge({ name: 'clipstream_store_points', help: 'Live points per collection', labelNames: ['collection'], registers, collect: () => read() });
    const segments = new Gauge({ name: 'clipstream_store_segments', help: 'Segments per collection (the embedded store keeps one)', labelNames: ['collection'], registers });
    const logBytes = new Gauge({ name: 'clipstream_store_log_bytes', help: "Bytes of a collection's append-only log files on disk", labelNames: ['collection'], registers });
    const collections = new Gauge({ name: 'clipstream_store_collections', help: 'Collections in the store', registers });
    // One pass over the collections per scrape fills all four gauges.
    const read = () => {
      points.reset();
      segments.reset();
      logBytes.reset();
      const names = store.listCollections().collections.map((c) => c.name);
      collections.set(names.length);
      for (const name of names) {
        let info: Record<string, unknown>;
        let dir: string;
        try {
          info = store.info(name);
          dir = store.resolve(name).dir;
        } catch {
          continue; // deleted between the listing and the read
        }
        points.set({ collection: name }, Number(info.points_count ?? 0));
        segments.set({ collection: name }, Number(info.segments_count ?? 0));
        logBytes.set({ collection: name }, logSize(dir));
      }
    };
  }

  /**
   * Observes the request's latency when its answer is finished, labelled with the route pattern
   * `endpointOf` names (the server's router knows it; these metrics do not import the router).
   */
  track(req: http.IncomingMessage, res: http.ServerResponse, endpointOf: (req: http.IncomingMessage) => string): void {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.requestSeconds.observe({ method: req.method ?? 'GET', endpoint: endpointOf(req), status: String(res.statusCode) }, seconds);
    });
  }
}

function logSize(dir: string): number {
  let bytes = 0;
  try {
    for (const entry of fs.readdirSync(dir)) {
      if (entry.endsWith('.log')) bytes += fs.statSync(path.join(dir, entry)).size;
    }
  } catch {
    // the collection went away meanwhile
  }
  return bytes;
}

const perStore = new WeakMap<Store, StoreMetrics>();

/** The metrics of this store (one set per store, however many servers front it). */
export function storeMetrics(store: Store): StoreMetrics {
  let m = perStore.get(store);
  if (!m) perStore.set(store, (m = new StoreMetrics(store)));
  return m;
}
