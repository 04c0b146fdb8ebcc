// Address helpers shared by collectors, filters and detectors.
import { isIP } from 'node:net';
import { SockhuntError } from './errors.js';

const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted IPv4 from 4 bytes at `offset` (network order). */
export function formatIPv4Bytes(bytes: Uint8Array, offset: number): string {
  return `${DECIMAL[bytes[offset]!]}.${DECIMAL[bytes[offset + 1]!]}.${DECIMAL[bytes[offset + 2]!]}.${DECIMAL[bytes[offset + 3]!]}`;
}

/**
 * IPv6 from 16 bytes at `offset` in RFC 5952 form (lower case, the longest run of two or more zero groups
 * shortened to `::`, the first on a tie). An IPv4-mapped address (::ffff:a.b.c.d) is returned as plain a.b.c.d.
 */
export function formatIPv6Bytes(bytes: Uint8Array, offset: number): string {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never shortened
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const g = (bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!;
    groups[i] = g;
    if (g === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart + 1;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) return formatIPv4Bytes(bytes, offset + 12);
  if (bestLen === 8) return '::';
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    out += i === 7 || i + 1 === bestStart ? groups[i]!.toString(16) : `${groups[i]!.toString(16)}:`;
  }
  return out;
}

/** Decodes the addon's records into RawSocket rows. */

export function ipType(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

export interface ParsedIp {
  version: 4 | 6;
  /** 4 bytes for IPv4 (an IPv4-mapped IPv6 address is IPv4), 16 for IPv6. */
  bytes: Uint8Array;
}

const parsedCache = new Map<string, ParsedIp | null>();
const PARSED_CACHE_MAX = 50_000;

function parseV4Bytes(s: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 3 || value > 255) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else return null;
  }
  return part === 4 ? out : null;
}

function parseV6Bytes(text: string): Uint8Array | null {
  let s = text;
  let tail: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tail = parseV4Bytes(s.slice(lastColon + 1));
    if (!tail) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < (halves.length === 2 ? 1 : 0) || (halves.length === 1 && head.length !== 8)) return null;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address (brackets and zone ids dropped); IPv4-mapped IPv6 is IPv4. Cached. */
export function parseIp(ip: string): ParsedIp | null {
  const hit = parsedCache.get(ip);
  if (hit !== undefined) return hit;
  const s = ip.trim().replace(/%.*$/, '').replace(/^\[|\]$/g, '');
  let parsed: ParsedIp | null = null;
  if (s.includes(':')) {
    const b = parseV6Bytes(s);
    if (b) parsed = isV4MappedBytes(b) ? { version: 4, bytes: b.slice(12) } : { version: 6, bytes: b };
  } else {
    const b = parseV4Bytes(s);
    if (b) parsed = { version: 4, bytes: b };
  }
  if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.clear();
  parsedCache.set(ip, parsed);
  return parsed;
}

function isV4MappedBytes(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function prefixMatches(a: Uint8Array, net: Uint8Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

export function isLoopback(ip: string): boolean {
  const p = parseIp(ip);
  if (!p) return false;
  if (p.version === 4) return p.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (p.bytes[i] !== 0) return false;
  return p.bytes[15] === 1;
}

export function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). */
export function parseCidr(text: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } {
  const [addr, bits, extra] = text.trim().split('/');
  const kind = isIP(addr ?? '');
  if (!addr || kind === 0 || extra !== undefined) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `not an IP address or CIDR: ${JSON.stringify(text)}`);
  }
  const max = kind === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `bad prefix length in ${JSON.stringify(text)}`);
  }
  return { address: addr, prefix, type: kind === 4 ? 'ipv4' : 'ipv6' };
}

/** A set of CIDRs with a fast membership test (no allocation per lookup once an address is parsed). */
export class CidrSet {
  private readonly nets: Array<{ version: 4 | 6; bytes: Uint8Array; prefix: number }> = [];
  readonly cidrs: string[] = [];

  constructor(cidrs: Iterable<string> = []) {
    for (const c of cidrs) this.add(c);
  }

  add(cidr: string): void {
    const { address, prefix } = parseCidr(cidr);
    const p = parseIp(address)!;
    // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps.
    const v4mapped = p.version === 4 && address.includes(':');
    this.nets.push({ version: p.version, bytes: p.bytes, prefix: v4mapped ? Math.max(0, prefix - 96) : prefix });
    this.cidrs.push(`${address}/${prefix}`);
  }

  has(ip: string): boolean {
    const p = parseIp(ip);
    if (!p) return false;
    for (const n of this.nets) if (n.version === p.version && prefixMatches(p.bytes, n.bytes, n.prefix)) return true;
    return false;
  }
}
