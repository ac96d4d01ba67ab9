/**
 * Service endpoints about the server itself: the root (`title`, `version`, `commit`), telemetry
 * (Qdrant's TelemetryData shape, details of this process) and Prometheus metrics.
 */
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Store } from '../engine/store.ts';

/** The Qdrant version whose REST API (and OpenAPI document) this server follows. */
export const COMPATIBLE_VERSION = '1.19.0';
/**
 * Qdrant answers its build's git commit. The embedded store has none of Qdrant's, so it answers a
 * fixed 40-hex digest naming itself: stable across restarts, never mistaken for a Qdrant build.
 */
export const COMMIT = createHash('sha1').update(`clipstream-embedded-store ${COMPATIBLE_VERSION}`).digest('hex');

const startup = new Date().toISOString();
const instanceId = randomUUID();

export function versionInfo(): { title: string; version: string; commit: string } {
  return { title: 'qdrant - vector search engine', version: COMPATIBLE_VERSION, commit: COMMIT };
}

export function telemetry(store: Store, detailsLevel: number): Record<string, unknown> {
  const stats = store.collectionStats();
  return {
    id: instanceId,
    app: {
      name: 'qdrant',
      version: COMPATIBLE_VERSION,
      startup,
      system: { is_docker: false, cores: os.availableParallelism(), ram_size: Math.round(os.totalmem() / 1024), cpu_flags: '', distribution: `${os.type()} ${os.release()}` },
      jwt_rbac: false,
    },
    collections: {
      number_of_collections: stats.length,
      ...(detailsLevel > 0 ? { collections: stats.map((c) => ({ id: c.name, points: c.points, vectors: c.vectors })) } : {}),
    },
    memory: { active_bytes: process.memoryUsage().heapUsed, allocated_bytes: process.memoryUsage().rss, metadata_bytes: 0, resident_bytes: process.memoryUsage().rss, retained_bytes: 0 },
  };
}

/** Prometheus text exposition of the metrics Qdrant names alike. */
export function metrics(store: Store): string {
  const stats = store.collectionStats();
  const lines = [
    '# HELP app_info information about qdrant server',
    '# TYPE app_info gauge',
    `app_info{name="qdrant",version="${COMPATIBLE_VERSION}"} 1`,
    '# HELP collections_total number of collections',
    '# TYPE collections_total gauge',
    `collections_total ${stats.length}`,
    '# HELP collections_vector_total total number of vectors in all collections',
    '# TYPE collections_vector_total gauge',
    `collections_vector_total ${stats.reduce((n, c) => n + c.points * c.vectors, 0)}`,
    '# HELP collection_points approximate number of points in the collection',
    '# TYPE collection_points gauge',
    ...stats.map((c) => `collection_points{collection="${c.name.replace(/["\\\n]/g, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`))}"} ${c.points}`),
    '# HELP process_resident_memory_bytes resident memory of the store process',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${process.memoryUsage().rss}`,
  ];
  return lines.join('\n') + '\n';
}
