/**
 * Query images given as URLs. A URL makes the service open a connection on the client's behalf
 * (server-side request forgery), so: the host must be on QUERY_IMAGE_URL_ALLOW; the address it
 * connects to must be public or inside QUERY_IMAGE_URL_PRIVATE_NETS, checked at connect time
 * (see address-policy.ts; a host written as an IP address on the allow-list is its own explicit
 * permission); redirects are not followed (they could leave the allow-list); the body is capped
 * at QUERY_MAX_IMAGE_BYTES and the whole fetch at QUERY_TIMEOUT_MS, and a body that stalls or
 * breaks answers 502 like any other failed fetch.
 */
import { Agent, buildConnector, request } from 'undici';
import { ClipstreamError } from '../../shared/errors.ts';
import { tooManyBytes } from './image-input.ts';
import { AddressPolicy, AddressRefusedError, ipLiteral, systemResolver, type ResolveHost } from './address-policy.ts';

export interface ImageUrlOptions {
  /** Hosts (`name` or `name:port`) whose URLs may be fetched. */
  allow: readonly string[];
  /** CIDR ranges outside the public internet that may still be connected to. */
  privateNets: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  /** DNS, replaceable so tests can make a name point anywhere. */
  resolve?: ResolveHost;
}

/** Whether `url`'s host (with or without its port) is on the allow-list. */
export function urlAllowed(url: URL, allow: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  return allow.some((a) => a === host || a === hostname);
}

export class ImageUrlFetcher {
  private readonly policy: AddressPolicy;
  private readonly agent: Agent;

  constructor(private readonly o: ImageUrlOptions) {
    this.policy = new AddressPolicy(o.privateNets);
    const connect = buildConnector({ timeout: o.timeoutMs, lookup: this.policy.lookup(o.resolve ?? systemResolver) });
    this.agent = new Agent({
      connect: (options, callback) => {
        // IP literals are connected to without a lookup, so they are judged here.
        const literal = ipLiteral(options.hostname);
        const reason = literal && !this.literalAllowed(literal, options.hostname) ? this.policy.refusal(literal) : undefined;
        if (reason) return callback(new AddressRefusedError(options.hostname, reason), null);
        return connect(options, callback);
      },
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      connections: 32,
    });
  }

  async fetch(raw: string): Promise<Buffer> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ClipstreamError('BAD_REQUEST', 'not a valid URL', { item: 'image.url' });
    }
    if (!urlAllowed(url, this.o.allow)) {
      const why = this.o.allow.length === 0 ? 'no image URL hosts are allowed (QUERY_IMAGE_URL_ALLOW is empty)' : `host ${url.host} is not in QUERY_IMAGE_URL_ALLOW`;
      throw new ClipstreamError('BAD_REQUEST', `image URLs are not fetched: ${why}; upload the image instead`, { item: raw });
    }
    const signal = AbortSignal.timeout(this.o.timeoutMs);
    try {
      const res = await request(url, { dispatcher: this.agent, signal, headers: { accept: 'image/*' } });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        discard(res.body);
        const why = res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed)' : '';
        throw new ClipstreamError(res.statusCode === 404 ? 'SOURCE_NOT_FOUND' : 'SOURCE_UNREACHABLE', `fetching the image answered HTTP ${res.statusCode}${why}`, {
          item: raw,
        });
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > this.o.maxBytes) {
        discard(res.body);
        throw tooManyBytes(raw, declared, this.o.maxBytes);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.byteLength;
        if (total > this.o.maxBytes) {
          discard(res.body);
          throw tooManyBytes(raw, total, this.o.maxBytes);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, total);
    } catch (err) {
      throw fetchError(err, raw, signal, this.o.timeoutMs);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private literalAllowed(literal: string, hostname: string): boolean {
    const bare = hostname.toLowerCase();
    return this.o.allow.some((a) => a === bare || a === literal || a.startsWith(`${bare}:`) || a.startsWith(`[${literal}]:`));
  }
}

function fetchError(err: unknown, item: string, signal: AbortSignal, timeoutMs: number): ClipstreamError {
  if (err instanceof ClipstreamError) return err;
  const refused = causeChain(err).find((e): e is AddressRefusedError => e instanceof AddressRefusedError);
  if (refused) return refused;
  if (signal.aborted || (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT' || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ClipstreamError('SOURCE_UNREACHABLE', `the image did not arrive within ${timeoutMs} ms (QUERY_TIMEOUT_MS)`, { item, cause: err });
  }
  return new ClipstreamError('SOURCE_UNREACHABLE', `could not fetch the image: ${(err as Error).message}`, { item, cause: err });
}

/** Drops a body unread; its abort error has nowhere to go and is expected. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
