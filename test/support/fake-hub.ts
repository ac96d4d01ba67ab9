/**
 * A local stand-in for the Hugging Face hub and its CDN, answering the way they do:
 * `/{repo}/resolve/{rev}/{path}` serves small files directly (ETag, X-Repo-Commit) and redirects
 * LFS files with 302 to a CDN on another origin (X-Linked-Size, X-Linked-Etag = sha256); the CDN
 * honours `Range` with 206 + Content-Range. Faults can be injected per file to test the client.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubFile {
  content: Buffer;
  /** Served through the CDN redirect, like git-LFS files (the ONNX graphs) on the hub. */
  lfs?: boolean;
}

export interface FakeHubFaults {
  /** Paths whose next body is cut off half-way (once each). */
  dropOnce: Set<string>;
  /** Paths whose next body stops half-way with the connection left open (once each). */
  stallOnce: Set<string>;
  /** Paths whose next resolve answers 503 (once each). */
  unavailableOnce: Set<string>;
  /** Paths answered 404 EntryNotFound. */
  notFound: Set<string>;
  /** The CDN serves these a few bytes short of the announced size (with a matching Content-Length). */
  wrongSize: Set<string>;
  /** The CDN serves these with the right size but flipped bytes. */
  corrupt: Set<string>;
  /** The CDN answers 200 with the whole body even to Range requests. */
  ignoreRange: boolean;
  /** The next LFS redirect of a GET uses a relative Location onto the hub's own host (once). */
  relativeRedirectOnce: boolean;
}

export interface FakeHubRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string | undefined;
  authorization?: string | undefined;
  status: number;
}

export interface FakeHub {
  endpoint: string;
  repo: string;
  revision: string;
  commit: string;
  files: Map<string, FakeHubFile>;
  faults: FakeHubFaults;
  requests: FakeHubRequest[];
  /** Body bytes written per repo path (cut-off bodies count what was sent). */
  bytesServed: Map<string, number>;
  close(): Promise<void>;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function gitBlobSha1(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export async function startFakeHub(opts: {
  repo: string;
  revision?: string;
  files: Record<string, FakeHubFile>;
  /** When set, the hub (not the CDN) answers 401 without `Authorization: Bearer <token>`. */
  token?: string | undefined;
}): Promise<FakeHub> {
  const revision = opts.revision ?? 'main';
  const commit = createHash('sha1').update(opts.repo + revision).digest('hex');
  const files = new Map(Object.entries(opts.files));
  const faults: FakeHubFaults = {
    dropOnce: new Set(),
    stallOnce: new Set(),
    unavailableOnce: new Set(),
    notFound: new Set(),
    wrongSize: new Set(),
    corrupt: new Set(),
    ignoreRange: false,
    relativeRedirectOnce: false,
  };
  const requests: FakeHubRequest[] = [];
  const bytesServed = new Map<string, number>();

  function served(p: string, n: number) {
    bytesServed.set(p, (bytesServed.get(p) ?? 0) + n);
  }

  /** Serves a body with Range support and the faults that apply at transfer time. */
  function sendBody(req: http.IncomingMessage, res: http.ServerResponse, p: string, file: FakeHubFile, headers: Record<string, string>) {
    let body = file.content;
    if (faults.wrongSize.has(p)) body = body.subarray(0, Math.max(0, body.length - 7));
    if (faults.corrupt.has(p)) body = Buffer.from(body.map((x) => x ^ 0xff));
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const out: Record<string, string> = { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (range && !faults.ignoreRange) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return 416;
      }
      out['content-range'] = `bytes ${start}-${end}/${body.length}`;
      body = body.subarray(start, end + 1);
      status = 206;
    }
    out['content-length'] = String(body.length);
    res.writeHead(status, out);
    if (req.method === 'HEAD') {
      res.end();
      return status;
    }
    if (faults.dropOnce.has(p) && body.length > 1) {
      faults.dropOnce.delete(p);
      const half = body.subarray(0, Math.floor(body.length / 2));
      served(p, half.length);
      res.write(half, () => setTimeout(() => res.destroy(), 20));
      return status;
    }
    if (faults.stallOnce.has(p) && body.length > 1) {
      faults.stallOnce.delete(p);
      const half = body.subarray(0, Math.floor(body.length / 2));
      served(p, half.length);
      res.write(half); // and nothing more until the client gives up or the hub closes
      return status;
    }
    served(p, body.length);
    res.end(body);
    return status;
  }

  const cdnPaths = new Map<string, string>(); // token in the CDN URL → repo path
  const cdn = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://cdn');
    const p = cdnPaths.get(url.pathname.replace(/^\/(cdn|cdn-rel)\//, ''));
    const file = p ? files.get(p) : undefined;
    let status: number;
    if (!p || !file) {
      status = 404;
      res.writeHead(404).end();
    } else {
      status = sendBody(req, res, p, file, { etag: `"${sha256(file.content)}"` });
    }
    requests.push({ server: 'cdn', method: req.method!, path: req.url!, range: req.headers.range, authorization: req.headers.authorization, status });
  });
  const cdnPort = await listen(cdn);

  const hub = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://hub');
    const log = (status: number) =>
      requests.push({ server: 'hub', method: req.method!, path: url.pathname, range: req.headers.range, authorization: req.headers.authorization, status });
    if (url.pathname.startsWith('/cdn-rel/')) {
      // The relative-redirect target lives on the hub's own host.
      cdn.emit('request', req, res);
      return;
    }
    const prefix = `/${opts.repo}/resolve/`;
    if (!url.pathname.startsWith(prefix)) {
      res.writeHead(401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
      return log(401);
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access restricted' }).end();
      return log(401);
    }
    const rest = url.pathname.slice(prefix.length);
    const slash = rest.indexOf('/');
    const rev = decodeURIComponent(rest.slice(0, slash));
    const p = rest
      .slice(slash + 1)
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    if (rev !== revision) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': 'Invalid rev id' }).end();
      return log(404);
    }
    const file = files.get(p);
    if (!file || faults.notFound.has(p)) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found', 'x-repo-commit': commit }).end();
      return log(404);
    }
    if (faults.unavailableOnce.has(p)) {
      faults.unavailableOnce.delete(p);
      res.writeHead(503, { 'retry-after': '0' }).end();
      return log(503);
    }
    if (file.lfs) {
      const token = createHash('sha1').update(p).digest('hex');
      cdnPaths.set(token, p);
      let location = `http://127.0.0.1:${cdnPort}/cdn/${token}?X-Amz-Signature=fake`;
      if (faults.relativeRedirectOnce && req.method === 'GET') {
        faults.relativeRedirectOnce = false;
        location = `/cdn-rel/${token}?X-Amz-Signature=fake`;
      }
      res
        .writeHead(302, {
          location,
          'x-linked-size': String(file.content.length),
          'x-linked-etag': `"${sha256(file.content)}"`,
          etag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(file.content)}\n`))}"`,
          'x-repo-commit': commit,
        })
        .end();
      return log(302);
    }
    log(sendBody(req, res, p, file, { etag: `"${gitBlobSha1(file.content)}"`, 'x-repo-commit': commit }));
  });
  const hubPort = await listen(hub);

  const close = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    endpoint: `http://127.0.0.1:${hubPort}`,
    repo: opts.repo,
    revision,
    commit,
    files,
    faults,
    requests,
    bytesServed,
    close: async () => {
      await Promise.all([close(hub), close(cdn)]);
    },
  };
}
