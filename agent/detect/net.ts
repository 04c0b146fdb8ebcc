// Address helpers for the detectors: CIDR membership against the host's networks, what counts as a unicast
// peer and an outbound socket, endpoint labels. Parsing, canonical text and networks are core/ip.ts.
import type { Connection } from '../../collectors/types.js';
import { CidrSet, parseIp } from '../../core/ip.js';
import { DEFAULT_INTERNAL_NETWORKS } from '../../core/ip.js';

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

const NON_UNICAST = new CidrSet(['0.0.0.0/32', '224.0.0.0/4', '255.255.255.255/32', '::/128', 'ff00::/8']);

/** Unspecified, multicast and broadcast addresses (and non-addresses): not a peer a process "talks to". */
export function isNonUnicast(ip: string): boolean {
  const p = parseIp(ip);
  return p === null || NON_UNICAST.contains(p);
}

/** Internal per the host's configured networks (falling back to the RFC defaults when none are configured). */
export function isInternal(ip: string, internalNetworks: readonly string[]): boolean {
  return inAnyCidr(ip, internalNetworks.length > 0 ? internalNetworks : DEFAULT_INTERNAL_NETWORKS);
}

export function endpointLabel(ip: string, port: number, transport: string): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${transport}`;
}

/** Egress sockets with a real peer: what "a process connects to a destination" means for the detectors. */
export function isOutbound(row: Connection): boolean {
  if (row.network.direction !== undefined) return row.network.direction === 'egress';
  // UDP sockets carry no direction; a connected one with a peer is outbound
  return row.network.transport === 'udp' && row.socket.state === 'ESTABLISHED' && row.destination.port !== 0;
}
