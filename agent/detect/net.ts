// Address helpers shared by the detectors: CIDR membership, loopback/internal tests, network labels.
import { isIP } from 'node:net';
import { CidrSet, isLoopback } from '../../collectors/ip.js';
import { DEFAULT_INTERNAL_NETWORKS } from '../host-facts.js';

export interface ParsedIp {
  version: 4 | 6;
  bytes: Uint8Array;
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  let text = s;
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = parseV4(text.slice(lastColon + 1));
    if (!tail) return null;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (groups < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const all = [...head, ...Array<string>(groups).fill('0'), ...rest];
  if (all.length !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Parses IPv4 or IPv6 (zone ids dropped); an IPv4-mapped IPv6 address is returned as IPv4. */
export function parseIp(ip: string): ParsedIp | null {
  const s = ip.trim().replace(/%.*$/, '').replace(/^\[|\]$/g, '');
  const v4 = parseV4(s);
  if (v4) return { version: 4, bytes: v4 };
  if (!s.includes(':')) return null;
  const v6 = parseV6(s);
  if (!v6) return null;
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? { version: 4, bytes: v6.slice(12) } : { version: 6, bytes: v6 };
}

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
