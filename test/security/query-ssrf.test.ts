/**
 * Image URLs cannot be used to reach internal addresses: the address is checked when the
 * connection is made (after DNS), so an allow-listed name that resolves to loopback, private or
 * link-local space is refused unless QUERY_IMAGE_URL_PRIVATE_NETS names the range. DNS is
 * replaced by a lookup function for names; `localhost` goes through the system resolver to the
 * real 127.0.0.1. A body that stalls answers 502, never 500.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { AddressPolicy, type ResolveHost } from '../../services/query/address-policy.ts';
import { ImageUrlFetcher } from '../../services/query/image-url.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import { listen, stubApp } from '../query/support/stub.ts';

let server: Server;
let port: number;
let png: Buffer;

before(async () => {
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 20, b: 20 } } }).png().toBuffer();
  server = createServer((req, res) => {
    if (req.url === '/red.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else if (req.url === '/redirect') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    else if (req.url === '/stall') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
      res.write(png.subarray(0, 10)); // and never the rest
    } else if (req.url === '/silent') {
      // headers never come
    } else if (req.url === '/endless') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const more = () => {
        while (res.write(chunk));
        res.once('drain', more);
      };
      more();
    } else res.writeHead(404).end();
  });
  port = await listen(server);
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const resolver =
  (answers: Record<string, string[]>): ResolveHost =>
  async (hostname) => {
    const found = answers[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

test('the address policy: public unicast passes; every internal range is refused unless named', () => {
  const closed = new AddressPolicy([]);
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) assert.equal(closed.refusal(address), undefined, address);
  const internal: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /linkLocal/],
    ['100.64.0.1', /carrierGradeNat/],
    ['0.0.0.0', /unspecified/],
    ['255.255.255.255', /broadcast/],
    ['224.0.0.1', /multicast/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fe80::1', /linkLocal/],
    ['fd00::1', /uniqueLocal/],
    ['::ffff:127.0.0.1', /127\.0\.0\.1, a loopback/],
    ['::ffff:a9fe:a9fe', /169\.254\.169\.254, a linkLocal/],
    ['64:ff9b::a00:1', /rfc6052/],
    ['2002:7f00:1::', /6to4/],
  ];
  for (const [address, reason] of internal) assert.match(closed.refusal(address) ?? 'allowed', reason, address);
  const open = new AddressPolicy(['10.0.0.0/8', 'fd00::/8', '::ffff:192.168.0.0/112']);
  assert.equal(open.refusal('10.1.2.3'), undefined);
  assert.equal(open.refusal('::ffff:10.1.2.3'), undefined);
  assert.equal(open.refusal('fd00::1'), undefined);
  assert.equal(open.refusal('192.168.7.7'), undefined);
  assert.equal(open.refusal('192.169.0.1'), undefined, 'public, just outside 192.168.0.0/16');
  assert.match(open.refusal('172.16.0.1') ?? 'allowed', /private/, 'naming one range opens only that range');
  assert.match(open.refusal('127.0.0.1') ?? 'allowed', /loopback/);
  assert.throws(() => new AddressPolicy(['10.0.0.0']), /QUERY_IMAGE_URL_PRIVATE_NETS: 10\.0\.0\.0 is not an address range/);
});

test('an allow-listed name that resolves to an internal address is refused at connect time', async () => {
  const host = `images.shop.test:${port}`;
  const cases: Array<[string[], RegExp]> = [
    [['127.0.0.1'], /resolves to 127\.0\.0\.1, a loopback address/],
    [['10.0.0.7'], /resolves to 10\.0\.0\.7, a private address/],
    [['169.254.169.254'], /linkLocal/],
    [['::ffff:127.0.0.1'], /127\.0\.0\.1, a loopback/],
    // One bad address among good ones is enough: the connection could go to either.
    [['93.184.216.34', '127.0.0.1'], /127\.0\.0\.1, a loopback/],
  ];
  for (const [addresses, reason] of cases) {
    const { app, stub } = await stubApp({ QUERY_IMAGE_URL_ALLOW: host }, { deps: { resolveHost: resolver({ 'images.shop.test': addresses }) } });
    const res = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://${host}/red.png` } } });
    assert.equal(res.statusCode, 400, `${addresses.join(',')}: ${res.body}`);
    const e = res.json().error as { code: string; message: string };
    assert.equal(e.code, 'BAD_REQUEST');
    assert.match(e.message, reason);
    assert.match(e.message, /QUERY_IMAGE_URL_PRIVATE_NETS/);
    assert.deepEqual(stub.calls, [], 'nothing was fetched or encoded');
    await app.close();
  }
});

test('the same name is fetched once its range is named in QUERY_IMAGE_URL_PRIVATE_NETS', async () => {
  const host = `images.shop.test:${port}`;
  const { app, stub } = await stubApp(
    { QUERY_IMAGE_URL_ALLOW: host, QUERY_IMAGE_URL_PRIVATE_NETS: '127.0.0.0/8' },
    { deps: { resolveHost: resolver({ 'images.shop.test': ['127.0.0.1'] }) } },
  );
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://${host}/red.png` } } });
  // Fetched and encoded; the (down) store answers next.
  assert.equal(res.statusCode, 503, res.body);
  assert.deepEqual(stub.calls, [`image:${png.length}`]);
  await app.close();
});

test('the real resolver: localhost on the allow-list still does not reach 127.0.0.1', async () => {
  const { app, stub } = await stubApp({ QUERY_IMAGE_URL_ALLOW: `localhost:${port}` });
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://localhost:${port}/red.png` } } });
  assert.equal(res.statusCode, 400, res.body);
  assert.match(res.json().error.message, /image URLs are not fetched from localhost: it resolves to (127\.0\.0\.1|::1), a loopback address/);
  assert.deepEqual(stub.calls, []);
  await app.close();
});

test('stalled, silent, endless and redirected fetches answer 502 or 413, never 500', async () => {
  const fetcher = new ImageUrlFetcher({ allow: [`127.0.0.1:${port}`], privateNets: [], maxBytes: 100_000, timeoutMs: 300 });
  try {
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/stall`), (e) => isClipstreamError(e, 'SOURCE_UNREACHABLE') && /did not arrive within 300 ms/.test(e.message));
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/silent`), (e) => isClipstreamError(e, 'SOURCE_UNREACHABLE') && /did not arrive within 300 ms/.test(e.message));
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/endless`), (e) => isClipstreamError(e, 'IMAGE_TOO_LARGE') && /over the 100000-byte limit/.test(e.message));
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/redirect`), (e) => isClipstreamError(e, 'SOURCE_UNREACHABLE') && /HTTP 302 \(redirects are not followed\)/.test(e.message));
    await assert.rejects(fetcher.fetch(`http://127.0.0.1:${port}/missing`), (e) => isClipstreamError(e, 'SOURCE_NOT_FOUND'));
    assert.deepEqual(await fetcher.fetch(`http://127.0.0.1:${port}/red.png`), png);
  } finally {
    await fetcher.close();
  }
  // Through the service: the stall is a 502 in the envelope.
  const { app } = await stubApp({ QUERY_IMAGE_URL_ALLOW: `127.0.0.1:${port}` });
  const res = await app.inject({ method: 'POST', url: '/v1/search', payload: { image: { url: `http://127.0.0.1:${port}/stall` } } });
  assert.equal(res.statusCode, 502, res.body);
  assert.equal(res.json().error.code, 'SOURCE_UNREACHABLE');
  await app.close();
});
