/**
 * A tiny HTTP proxy in front of a store, so tests can count requests, see their bodies, make
 * the store look overloaded (503) and hold responses back, all through the real client.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  body: string;
}

export interface StoreProxy {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Answer this many of the next requests with 503 instead of forwarding them. */
  fail503: number;
  /** While true, forwarded responses are held until release(). */
  hold: boolean;
  /** Resolves when a request matching `pred` has reached the proxy. */
  seen(pred: (r: SeenRequest) => boolean): Promise<SeenRequest>;
  release(): void;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startProxy(target: string, port = 0): Promise<StoreProxy> {
  const waiters: Array<{ pred: (r: SeenRequest) => boolean; resolve: (r: SeenRequest) => void }> = [];
  const releases: Array<() => void> = [];
  const proxy: StoreProxy = {
    url: '',
    port: 0,
    requests: [],
    fail503: 0,
    hold: false,
    seen: (pred) => {
      const already = proxy.requests.find(pred);
      return already ? Promise.resolve(already) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    release: () => {
      proxy.hold = false;
      for (const r of releases.splice(0)) r();
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
  // A failed upstream fetch drops the client's connection instead of becoming an unhandled rejection.
  const server = http.createServer((req, res) => void (async () => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const seen: SeenRequest = { method: req.method ?? 'GET', url: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') };
    proxy.requests.push(seen);
    for (const w of [...waiters]) if (w.pred(seen)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(seen); }
    if (proxy.fail503 > 0) {
      proxy.fail503--;
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: { error: 'overloaded (test proxy)' }, time: 0 }));
      return;
    }
    const upstream = await fetch(target + seen.url, {
      method: seen.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      body: seen.method === 'GET' || seen.method === 'HEAD' ? null : seen.body,
    });
    const body = await upstream.text();
    if (proxy.hold) await new Promise<void>((r) => releases.push(r));
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
  })().catch((err: Error) => res.destroy(err)));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  return proxy;
}
