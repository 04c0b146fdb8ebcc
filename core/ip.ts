// The one address module: parsing, canonical text (RFC 5952), the /24 or /48 network, CIDRs and CIDR sets.
// Collectors, filters, detectors and the baseline all use it, so a destination has one text everywhere
// (`2001:DB8::0:1` and `2001:db8::1` are the same address, and both are in `2001:db8::/48`).
// Hot path: the collector and the detectors ask about the same addresses every sample. An address text is
// parsed once and cached with its canonical and network text, so later lookups allocate nothing.
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

/** The ECS `network.type` of an address text as the collectors write it. */
export function ipType(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

export interface ParsedIp {
  readonly version: 4 | 6;
  /** 4 bytes for IPv4 (an IPv4-mapped IPv6 address is IPv4), 16 for IPv6. Shared: do not modify. */
  readonly bytes: Uint8Array;
}

/** A parsed address as cached: its canonical and network text are computed once, on first use. */
class Address implements ParsedIp {
  #text: string | undefined;
  #network: string | undefined;

  constructor(
    readonly version: 4 | 6,
    readonly bytes: Uint8Array,
  ) {}

  canonical(): string {
    return (this.#text ??= formatBytes(this.version, this.bytes));
  }

  networkText(): string {
    if (this.#network === undefined) {
      const b = this.bytes;
      if (this.version === 4) this.#network = `${DECIMAL[b[0]!]}.${DECIMAL[b[1]!]}.${DECIMAL[b[2]!]}.0/24`;
      else {
        const net = new Uint8Array(16);
        net.set(b.subarray(0, 6));
        this.#network = `${formatIPv6Bytes(net, 0)}/48`;
      }
    }
    return this.#network;
  }
}

function formatBytes(version: 4 | 6, bytes: Uint8Array): string {
  return version === 4 ? formatIPv4Bytes(bytes, 0) : formatIPv6Bytes(bytes, 0);
}

const parsedCache = new Map<string, Address | null>();
const PARSED_CACHE_MAX = 50_000;

/** Four decimal octets 0–255, no leading zeros (`010.0.0.1` is ambiguous: inet_aton reads it as octal). */
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
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && value === 0)) {
      value = value * 10 + (c - 48);
      digits++;
    } else return null;
  }
  return part === 4 ? out : null;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

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
    if (!HEX_GROUP.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

function isV4MappedBytes(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function parseUncached(text: string): Address | null {
  let s = text.trim();
  if (s.startsWith('[') || s.endsWith(']')) {
    // The URL form of an IPv6 address: both brackets or neither.
    if (!(s.startsWith('[') && s.endsWith(']')) || !s.includes(':')) return null;
    s = s.slice(1, -1);
  }
  if (!s.includes(':')) {
    const b = parseV4Bytes(s);
    return b ? new Address(4, b) : null;
  }
  const zone = s.indexOf('%');
  if (zone >= 0) {
    if (zone === s.length - 1) return null; // an empty zone id
    s = s.slice(0, zone);
  }
  const b = parseV6Bytes(s);
  if (!b) return null;
  return isV4MappedBytes(b) ? new Address(4, b.slice(12)) : new Address(6, b);
}

function lookup(ip: string): Address | null {
  let hit = parsedCache.get(ip);
  if (hit !== undefined) return hit;
  hit = parseUncached(ip);
  if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.clear();
  parsedCache.set(ip, hit);
  return hit;
}

/**
 * Parses an IPv4 or IPv6 address; null when the text is not one. Accepted around the address: white space,
 * brackets (`[2001:db8::1]`, IPv6 only) and a zone id (`fe80::1%eth0`, IPv6 only), all dropped. IPv4-mapped
 * IPv6 (`::ffff:192.0.2.1`) is IPv4. Cached: the same object is returned for the same text.
 */
export function parseIp(ip: string): ParsedIp | null {
  return lookup(ip);
}

/** The canonical text of a parsed address: dotted IPv4, RFC 5952 IPv6. */
export function formatIp(ip: ParsedIp): string {
  return ip instanceof Address ? ip.canonical() : formatBytes(ip.version, ip.bytes);
}

/** The canonical text of an address (dotted IPv4, RFC 5952 IPv6, IPv4-mapped as IPv4), or null when it is not one. */
export function canonicalIp(ip: string): string | null {
  return lookup(ip)?.canonical() ?? null;
}

/** The /24 (IPv4) or /48 (IPv6) network of an address, as canonical CIDR text; null when it is not an address. */
export function networkOf(ip: string): string | null {
  return lookup(ip)?.networkText() ?? null;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(ip: string): boolean {
  const p = lookup(ip);
  if (!p) return false;
  if (p.version === 4) return p.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (p.bytes[i] !== 0) return false;
  return p.bytes[15] === 1;
}

/** No specific peer: 0.0.0.0, :: (or ::ffff:0.0.0.0), and text that is not an address (`*`, empty). */
export function isUnspecified(ip: string): boolean {
  const p = lookup(ip);
  if (!p) return true;
  for (let i = 0; i < p.bytes.length; i++) if (p.bytes[i] !== 0) return false;
  return true;
}

export interface Cidr {
  readonly version: 4 | 6;
  /** 0–32 for IPv4, 0–128 for IPv6 (an IPv4-mapped CIDR is the IPv4 CIDR it maps: ::ffff:10.0.0.0/104 is /8). */
  readonly prefix: number;
  /** The network address, host bits cleared: 4 or 16 bytes. */
  readonly bytes: Uint8Array;
}

function maskByte(prefix: number, index: number): number {
  const bits = prefix - index * 8;
  return bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
}

/**
 * Parses `ADDR/PREFIX` or a bare address (a /32 or /128), the address as parseIp takes it; host bits are
 * cleared. Null when it is not one (see parseCidr for the throwing form).
 */
export function tryParseCidr(text: string): Cidr | null {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash >= 0 ? t.slice(0, slash) : t;
  const p = lookup(addr);
  if (!p) return null;
  const max = p.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const bits = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits)) return null;
    prefix = Number(bits) - (p.version === 4 && addr.includes(':') ? 96 : 0);
    if (prefix < 0 || prefix > max) return null;
  }
  const bytes = new Uint8Array(p.bytes.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = p.bytes[i]! & maskByte(prefix, i);
  return { version: p.version, prefix, bytes };
}

/** As tryParseCidr; throws SOCKHUNT_E_INPUT naming the text when it is not an address or CIDR. */
export function parseCidr(text: string): Cidr {
  const cidr = tryParseCidr(text);
  if (cidr) return cidr;
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash >= 0 && lookup(t.slice(0, slash))) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `bad prefix length in ${JSON.stringify(text)}`);
  }
  throw new SockhuntError('SOCKHUNT_E_INPUT', `not an IP address or CIDR: ${JSON.stringify(text)}`);
}

/** Canonical CIDR text: `10.0.0.0/8`, `2001:db8::/32`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatBytes(cidr.version, cidr.bytes)}/${cidr.prefix}`;
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.version !== ip.version) return false;
  const prefix = cidr.prefix;
  for (let i = 0; i * 8 < prefix; i++) if ((ip.bytes[i]! & maskByte(prefix, i)) !== cidr.bytes[i]) return false;
  return true;
}

/** A set of CIDRs with a fast membership test (no allocation per lookup once an address is parsed). */
export class CidrSet {
  private readonly nets: Cidr[] = [];
  /** The CIDRs added, as canonical text. */
  readonly cidrs: string[] = [];

  /** Throws SOCKHUNT_E_INPUT for text that is not an address or CIDR. */
  constructor(cidrs: Iterable<string> = []) {
    for (const c of cidrs) this.add(c);
  }

  add(cidr: string): void {
    const parsed = parseCidr(cidr);
    this.nets.push(parsed);
    this.cidrs.push(formatCidr(parsed));
  }

  /** False for text that is not an address. */
  has(ip: string): boolean {
    const p = lookup(ip);
    return p !== null && this.contains(p);
  }

  contains(ip: ParsedIp): boolean {
    for (const n of this.nets) if (cidrContains(n, ip)) return true;
    return false;
  }
}

/** Internal networks by default (DESIGN.md "Networks"): RFC 1918, RFC 6598 (CGNAT), IPv4 link-local, IPv6 ULA and link-local. */
export const DEFAULT_INTERNAL_NETWORKS: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'];
