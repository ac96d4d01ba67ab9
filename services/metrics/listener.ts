/**
 * The small HTTP listener of processes that have no HTTP API of their own (workers, producers,
 * the scheduler): `/metrics` (Prometheus), `/healthz` (the process is alive) and `/readyz`
 * (what it depends on answers; 503 naming what does not). Off unless METRICS_PORT is set; the
 * container images set it. It answers nothing else, takes no request body and reveals no
 * secret (the checks name hosts with passwords redacted).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export type Readiness = () => Promise<Record<string, ReadinessCheck>>;

export interface OpsListenerOptions {
  registry: Registry;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Without it /readyz answers like /healthz. */
  readiness?: Readiness;
}

export interface OpsListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startOpsListener(options: OpsListenerOptions): Promise<OpsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => send(res, 200, options.registry.contentType, text),
        (err: unknown) => send(res, 500, 'text/plain', `metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      (options.readiness ?? (async () => ({})))().then(
        (checks: Record<string, ReadinessCheck>) => {
          const ready = Object.values(checks).every((c) => c.ok);
          const body = { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, c.detail])) };
          send(res, ready ? 200 : 503, 'application/json', JSON.stringify(body));
        },
        (err: unknown) => send(res, 503, 'application/json', JSON.stringify({ status: 'not ready', error: (err as Error).message })),
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found: this listener serves /metrics, /healthz and /readyz\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(body);
}
