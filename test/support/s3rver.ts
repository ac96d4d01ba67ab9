/**
 * A real S3 endpoint for tests: s3rver in a separate process on 127.0.0.1 (free port, temp
 * directory), optionally behind a fault-injecting proxy that answers `503 SlowDown` to the next
 * N object GETs.
 *
 * Separate process because s3rver's ListObjectsV2 continuation tokens use DES, which Node's
 * OpenSSL 3 only offers with `--openssl-legacy-provider` (without it, page 2 is an HTTP 500),
 * and that flag must not leak into the test process itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../shared/sources/s3.ts';

export interface S3Faults {
  /** The next `n` GETs of an object (not listings) get `503 SlowDown`. */
  slowDownNextGets(n: number): void;
  /** Object GETs seen by the proxy so far (failed ones included). */
  readonly objectGets: number;
  /** Listings (ListObjectsV2 pages) answer `500 InternalError` once `n` more have succeeded; `Infinity` ends it. */
  failListingsAfter(n: number): void;
}

export interface S3rver {
  /** Where clients should connect (the proxy when faults are on). */
  endpoint: string;
  /** Path-style client with s3rver's dummy credentials and the production factory's settings. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  put(bucket: string, key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  remove(bucket: string, key: string): Promise<void>;
  /** Present when started with `{ faults: true }`. */
  faults?: S3Faults | undefined;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startS3rver(options: { faults?: boolean } = {}): Promise<S3rver> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'clipstream-s3rver-'));
  const child = spawnS3rver(directory);
  let proxy: http.Server | undefined;
  try {
    const port = await readPort(child);
    let endpoint = `http://127.0.0.1:${port}`;
    let faults: S3Faults | undefined;
    if (options.faults) {
      const started = await startFaultProxy(port);
      proxy = started.server;
      faults = started.faults;
      endpoint = started.endpoint;
    }
    const client = createS3Client(
      { endpoint, region: 'us-east-1', forcePathStyle: true, concurrency: 8 },
      { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    );
    await waitUntilAnswering(`http://127.0.0.1:${port}/`);
    return {
      endpoint,
      client,
      faults,
      async createBucket(name) {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      },
      async put(bucket, key, body, contentType) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body, ContentType: contentType }));
      },
      async remove(bucket, key) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      },
      async stop() {
        client.destroy();
        if (proxy) {
          proxy.closeAllConnections();
          await new Promise<void>((resolve) => proxy!.close(() => resolve()));
        }
        await stopChild(child);
        rmSync(directory, { recursive: true, force: true });
      },
    };
  } catch (err) {
    proxy?.close();
    await stopChild(child);
    rmSync(directory, { recursive: true, force: true });
    throw err;
  }
}

function spawnS3rver(directory: string): ChildProcess {
  const lib = require.resolve('s3rver');
  // The child also exits when its stdin closes, so a crashed test run leaves no server behind.
  const launcher = `
    const S3rver = require(${JSON.stringify(lib)});
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)} });
    server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'));
    // Objects are plain files written before each response; nothing to flush, and a graceful
    // close could wait on idle keep-alive sockets.
    const stop = () => process.exit(0);
    process.on('SIGTERM', stop);
    process.stdin.on('end', stop);
    process.stdin.resume();
  `;
  return spawn(process.execPath, ['--openssl-legacy-provider', '-e', launcher], { stdio: ['pipe', 'pipe', 'inherit'] });
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line!).port);
        } catch {
          reject(new Error(`unexpected s3rver output: ${line}`));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before listening`));
    });
  });
}

async function waitUntilAnswering(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`s3rver at ${url} never answered`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startFaultProxy(targetPort: number): Promise<{ server: http.Server; endpoint: string; faults: S3Faults }> {
  let failNext = 0;
  let objectGets = 0;
  let listingsLeft = Number.POSITIVE_INFINITY;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    // Path-style: /bucket/key… is an object; /bucket alone (or with list-type) is a listing.
    const isObjectGet = req.method === 'GET' && url.pathname.split('/').filter(Boolean).length >= 2;
    const isListing = req.method === 'GET' && url.pathname.split('/').filter(Boolean).length === 1 && url.searchParams.has('list-type');
    if (isListing && listingsLeft-- <= 0) {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
      return;
    }
    if (isObjectGet) {
      objectGets++;
      if (failNext > 0) {
        failNext--;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return;
      }
    }
    // Headers pass through untouched: the SigV4 signature covers Host as the client sent it.
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    endpoint: `http://127.0.0.1:${port}`,
    faults: {
      slowDownNextGets(n) {
        failNext = n;
      },
      get objectGets() {
        return objectGets;
      },
      failListingsAfter(n) {
        listingsLeft = n;
      },
    },
  };
}
