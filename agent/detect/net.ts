// Address helpers shared by the detectors: CIDR membership, loopback/internal tests, network labels.
import { isIP } from 'node:net';
import { CidrSet, isLoopback, parseIp, type ParsedIp } from '../../core/ip.js';
import { DEFAULT_INTERNAL_NETWORKS } from '../host-facts.js';

export { parseIp, type ParsedIp };

const byIdentity = new WeakMap<readonly string[], CidrSet>();
const byText = new Map<string, CidrSet>();

// The loop hands the same array every sample; detectors ask per connection, so the set is built once.
function cidrSet(cidrs: readonly string[]): CidrSet {
  let set = byIdentity.get(cidrs);
  if (set) return set;
  const key = cidrs.join(',');
  set = byText.get(key);
  if (!set) {
    set = new CidrSet(cidrs);
    if (byText.size > 64) byText.clear();
    byText.set(key, set);
  }
  byIdentity.set(cidrs, set);
  return set;
}

export function inAnyCidr(ip: string, cidrs: readonly string[]): boolean {
  return cidrSet(cidrs).has(ip);
}

export { isLoopback };

const NON_UNICAST = new CidrSet(['0.0.0.0/32', '224.0.0.0/4', '255.255.255.255/32', '::/128', 'ff00::/8']);

/** Unspecified, multicast and broadcast addresses (and non-addresses): not a peer a process "talks to". */
export function isNonUnicast(ip: string): boolean {
  return isIP(ip) === 0 || NON_UNICAST.has(ip);
}

/** Internal per the host's configured networks (falling back to the RFC defaults when none are configured). */
export function isInternal(ip: string, internalNetworks: readonly string[]): boolean {
  return inAnyCidr(ip, internalNetworks.length > 0 ? internalNetworks : DEFAULT_INTERNAL_NETWORKS);
}

/** The /24 (IPv4) or /48 (IPv6) network of an address, as the baseline groups them. */
export function networkOf(ip: string): string {
  const p = parseIp(ip);
  if (!p) return ip;
  if (p.version === 4) return `${p.bytes[0]}.${p.bytes[1]}.${p.bytes[2]}.0/24`;
  const g = (i: number) => ((p.bytes[i * 2]! << 8) | p.bytes[i * 2 + 1]!).toString(16);
  return `${g(0)}:${g(1)}:${g(2)}::/48`;
}

export function endpointLabel(ip: string, port: number, transport: string): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${transport}`;
}
