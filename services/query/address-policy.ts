/**
 * Which network addresses an image URL may connect to. A host name on the allow-list says
 * nothing about where it points: DNS can answer 127.0.0.1, 169.254.169.254 or 10.x for it (by
 * mistake or by rebinding), so the address is checked when the connection is made, after the
 * lookup, not when the URL is read. Public unicast addresses pass; loopback, private,
 * link-local, unique-local, carrier-grade NAT, multicast and the rest pass only inside a range
 * the operator named (QUERY_IMAGE_URL_PRIVATE_NETS).
 */
import dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { ClipstreamError } from '../../shared/errors.ts';

/** Resolves a host name to every address it has (the shape of `dns.promises.lookup(host, { all: true })`). */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: ResolveHost = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** Raised from inside the connection attempt; carries the client-facing reason. */
export class AddressRefusedError extends ClipstreamError {
  constructor(host: string, reason: string) {
    super('BAD_REQUEST', `image URLs are not fetched from ${host}: ${reason} (QUERY_IMAGE_URL_PRIVATE_NETS lists ranges that may be)`, { item: host });
  }
}

export class AddressPolicy {
  private readonly nets: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(privateNets: readonly string[]) {
    this.nets = privateNets.map((net) => {
      if (!ipaddr.isValidCIDR(net)) throw new ClipstreamError('CONFIG_INVALID', `QUERY_IMAGE_URL_PRIVATE_NETS: ${net} is not an address range (e.g. 10.0.0.0/8)`);
      const [address, bits] = ipaddr.parseCIDR(net);
      return [unmapped(address), address.kind() === 'ipv6' && unmapped(address).kind() === 'ipv4' ? bits - 96 : bits];
    });
  }

  /** Why `address` may not be connected to, or undefined when it may. */
  refusal(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
    const ip = unmapped(ipaddr.parse(address));
    const range = ip.range();
    if (range === 'unicast') return undefined;
    if (this.nets.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return undefined;
    return `it resolves to ${ip.toString()}, a ${range} address`;
  }

  /**
   * A `lookup` for `net.connect`: resolves with `resolve`, then refuses the connection when any
   * address is not allowed (a name with one public and one private address is not "mostly fine").
   */
  lookup(resolve: ResolveHost) {
    return (
      hostname: string,
      options: { all?: boolean | undefined; family?: number | string | undefined },
      callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      resolve(hostname).then(
        (found) => {
          const wanted = found.filter((a) => !options.family || options.family === a.family || options.family === `IPv${a.family}`);
          if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
          for (const a of wanted) {
            const reason = this.refusal(a.address);
            if (reason) return callback(new AddressRefusedError(hostname, reason), '', 0);
          }
          if (options.all) callback(null, wanted);
          else callback(null, wanted[0]!.address, wanted[0]!.family);
        },
        (err: unknown) => callback(err as Error, '', 0),
      );
    };
  }
}

/** `::ffff:10.0.0.1` is 10.0.0.1: judge the IPv4 address, not the mapping. */
function unmapped(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

/** A URL's host name without IPv6 brackets, when it is an IP literal (no lookup happens for those). */
export function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) && (bare.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(bare)) ? bare : undefined;
}
