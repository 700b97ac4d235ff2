import { BlockList, isIP } from 'node:net';

/** The names TRUSTED_PROXIES accepts besides addresses and CIDRs (as fastify's trustProxy reads them for HTTP). */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const family = (address: string): 'ipv4' | 'ipv6' | undefined => ({ 4: 'ipv4', 6: 'ipv6' } as const)[isIP(address) as 4 | 6];

/**
 * The client address of a WebSocket upgrade: the peer, or, when the peer is one of the trusted
 * proxies, the nearest X-Forwarded-For hop no trusted proxy vouches for (what fastify does for the
 * HTTP API with the same setting). Without it every socket behind a proxy would count against the
 * proxy's address.
 */
export function clientAddressOf(trustedProxies: string[] | undefined): (peer: string, forwardedFor: string) => string {
  if (!trustedProxies || trustedProxies.length === 0) return (peer) => peer;
  const trusted = new BlockList();
  for (const item of trustedProxies.flatMap((entry) => NAMED_RANGES[entry] ?? [entry])) {
    const [address = '', bits] = item.split('/');
    const kind = family(address);
    if (!kind) continue;
    if (bits === undefined) trusted.addAddress(address, kind);
    else trusted.addSubnet(address, Number(bits), kind);
  }
  const isTrusted = (address: string): boolean => {
    const kind = family(address);
    return kind !== undefined && trusted.check(address, kind);
  };
  return (peer, forwardedFor) => {
    const hops = forwardedFor.split(',').map((hop) => hop.trim()).filter(Boolean);
    let client = peer;
    while (hops.length > 0 && isTrusted(client)) client = hops.pop()!;
    return client;
  };
}
