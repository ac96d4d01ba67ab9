/**
 * A query app over a stub encoder (constant unit vectors, optionally never answering) and a store
 * URL of the caller's choice (default: a port nothing listens on), for the HTTP contract's edges
 * without a model or a store.
 */
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../shared/config/index.ts';
import { buildQueryApp, type QueryAppDeps } from '../../../services/query/app.ts';
import type { QueryEncoder } from '../../../services/query/search.ts';

function unit(dim: number): Float32Array {
  return new Float32Array(dim).fill(1 / Math.sqrt(dim));
}

export interface StubEncoder {
  encoder: QueryEncoder;
  calls: string[];
  /** Lets every hanging encode finish. */
  release(): void;
}

export function stubEncoder(opts: { hang?: boolean | undefined } = {}): StubEncoder {
  const calls: string[] = [];
  const waiting: Array<() => void> = [];
  const vectors = () => ({ 64: unit(64), 256: unit(256), 1024: unit(1024) });
  const maybeHang = () => (opts.hang ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve());
  const encoder = {
    model: { modelId: 'stub-model@test', isTestModel: true, embeddingDim: 1024 },
    async encodeText({ text }: { text: string | Uint8Array }) {
      calls.push(`text:${String(text)}`);
      await maybeHang();
      return vectors();
    },
    async encodeImage({ bytes }: { bytes: Uint8Array }) {
      calls.push(`image:${bytes.length}`);
      await maybeHang();
      return vectors();
    },
  } as unknown as QueryEncoder;
  return { encoder, calls, release: () => waiting.splice(0).forEach((r) => r()) };
}

/** An address that refuses connections: a port that was open and is closed again. */
export async function deadUrl(): Promise<string> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

export async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

export interface StubApp {
  app: FastifyInstance;
  stub: StubEncoder;
}

export async function stubApp(
  env: Record<string, string> = {},
  opts: { storeUrl?: string; hang?: boolean; deps?: Partial<QueryAppDeps> } = {},
): Promise<StubApp> {
  const config = loadConfig({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'clipstream-query-stub-')), QUERY_TIMEOUT_MS: '300', ...env });
  const url = opts.storeUrl ?? (await deadUrl());
  const stub = stubEncoder({ hang: opts.hang });
  const store = { client: new QdrantClient({ url, checkCompatibility: false, timeout: 60_000 }), url };
  const app = await buildQueryApp({ config, encoder: stub.encoder, store, ...opts.deps });
  return { app, stub };
}
