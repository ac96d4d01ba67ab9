/**
 * Where `clipstream search` and `clipstream eval` send their /v1/search bodies: a running query
 * service over HTTP (`--server`), or one opened in this process on QDRANT_URL or the embedded store.
 */
import { config } from '../../shared/config/index.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import { openQueryService } from '../../services/query/server.ts';
import type { SearchCall } from '../../services/eval/run.ts';

export interface SearchTarget {
  search: SearchCall;
  close(): Promise<void>;
}

export async function openSearchTarget(opts: { server?: string | undefined; apiKey?: string | undefined; allowTestModel?: boolean | undefined }): Promise<SearchTarget> {
  const { server, apiKey } = opts;
  if (server) return { search: (body) => viaServer(server, body, apiKey), close: async () => {} };
  const service = await openQueryService(config(), {
    ...(opts.allowTestModel ? { allowTestModel: true } : {}),
    onNotice: (line) => process.stderr.write(`${line}\n`),
  });
  return {
    search: async (body) => {
      const res = await service.app.inject({ method: 'POST', url: '/v1/search', payload: body });
      return { status: res.statusCode, json: res.json() };
    },
    close: () => service.close(),
  };
}

async function viaServer(server: string, body: object, apiKey: string | undefined): Promise<{ status: number; json: unknown }> {
  const url = new URL('/v1/search', server);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new ClipstreamError('SOURCE_UNREACHABLE', `cannot reach the query service: ${(err as Error).message}`, { item: url.href });
  }
  return { status: res.status, json: await res.json().catch(() => ({ error: { message: `non-JSON answer (HTTP ${res.status})` } })) };
}
