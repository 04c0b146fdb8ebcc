// Address helpers for the baseline: canonical text, the /24 or /48 network, CIDR matching, loopback.
// Canonical forms make a destination learned from one source (a collector, an imported golden baseline)
// equal to the same destination written differently elsewhere (`2001:DB8::0:1` vs `2001:db8::1`).
import { isIPv4, isIPv6 } from 'node:net';

export type ParsedIp = { v: 4; n: number } | { v: 6; words: number[] };

const V4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

function v4ToNumber(ip: string): number {
  const parts = ip.split('.');
  return (((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0);
}

function parseV6Words(ip: string): number[] | null {
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4, ::1.2.3.4) becomes two words.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return null;
    const n = v4ToNumber(tail);
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const words: number[] = [];
  for (const group of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    words.push(parseInt(group, 16));
  }
  return words;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); null when it is not an address. */
export function parseIp(ip: string): ParsedIp | null {
  if (isIPv4(ip)) return { v: 4, n: v4ToNumber(ip) };
  if (!isIPv6(ip)) return null;
  const mapped = V4_MAPPED.exec(ip);
  if (mapped?.[1]) return { v: 4, n: v4ToNumber(mapped[1]) };
  const words = parseV6Words(ip);
  if (!words) return null;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return { v: 4, n: (((words[6] ?? 0) << 16) | (words[7] ?? 0)) >>> 0 };
  }
  return { v: 6, words };
}

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (≥ 2) of zero words as `::`. */
function v6Text(words: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(ip: ParsedIp): string {
  return ip.v === 4 ? v4Text(ip.n) : v6Text(ip.words);
}

const canonicalCache = new Map<string, string | null>();

/** The canonical text of an address, or null when it is not one. IPv4 text passes through unparsed (hot path). */
export function canonicalIp(ip: string): string | null {
  if (!ip.includes(':')) return isIPv4(ip) ? ip : null;
  let hit = canonicalCache.get(ip);
  if (hit !== undefined) return hit;
  const parsed = parseIp(ip);
  hit = parsed ? formatIp(parsed) : null;
  if (canonicalCache.size >= 10_000) canonicalCache.clear();
  canonicalCache.set(ip, hit);
  return hit;
}

const networkCache = new Map<string, string | null>();

/** The /24 (IPv4) or /48 (IPv6) network of a canonical address, as CIDR text. */
export function networkOf(ip: string): string | null {
  // Cached by address text: detection asks for the same addresses every sample.
  let hit = networkCache.get(ip);
  if (hit !== undefined) return hit;
  if (!ip.includes(':')) {
    const dot = ip.lastIndexOf('.');
    hit = dot > 0 ? `${ip.slice(0, dot)}.0/24` : null;
  } else {
    const parsed = parseIp(ip);
    if (!parsed) hit = null;
    else if (parsed.v === 4) hit = networkOf(v4Text(parsed.n));
    else hit = `${v6Text([parsed.words[0] ?? 0, parsed.words[1] ?? 0, parsed.words[2] ?? 0, 0, 0, 0, 0, 0])}/48`;
  }
  if (networkCache.size >= 20_000) networkCache.clear();
  networkCache.set(ip, hit);
  return hit;
}

export function isLoopback(ip: string): boolean {
  if (!ip.includes(':')) return ip.startsWith('127.') && isIPv4(ip);
  const parsed = parseIp(ip);
  if (!parsed) return false;
  if (parsed.v === 4) return parsed.n >>> 24 === 127;
  return parsed.words.every((w, i) => (i === 7 ? w === 1 : w === 0));
}

export function isUnspecified(ip: string): boolean {
  if (!ip.includes(':')) return ip === '0.0.0.0' || !isIPv4(ip);
  const parsed = parseIp(ip);
  if (!parsed) return true;
  return parsed.v === 4 ? parsed.n === 0 : parsed.words.every((w) => w === 0);
}

export interface Cidr {
  v: 4 | 6;
  prefix: number;
  /** Network address words (IPv4: one 32-bit word; IPv6: eight 16-bit words), host bits cleared. */
  words: number[];
}

/** Parses `ip` or `ip/prefix`; an address alone is a /32 or /128. Host bits are cleared. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const parsed = parseIp(addr);
  if (!parsed) return null;
  // An IPv4-mapped CIDR (::ffff:10.0.0.0/104) is treated as the IPv4 CIDR it names.
  const mappedShift = parsed.v === 4 && addr.includes(':') ? 96 : 0;
  const max = parsed.v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p) - mappedShift;
    if (prefix < 0 || prefix > max) return null;
  }
  if (parsed.v === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { v: 4, prefix, words: [(parsed.n & mask) >>> 0] };
  }
  return { v: 6, prefix, words: parsed.words.map((w, i) => w & wordMask(prefix, i)) };
}

function wordMask(prefix: number, index: number): number {
  const bits = Math.min(16, Math.max(0, prefix - index * 16));
  return bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.v !== ip.v) return false;
  if (ip.v === 4) {
    const mask = cidr.prefix === 0 ? 0 : (0xffffffff << (32 - cidr.prefix)) >>> 0;
    return ((ip.n & mask) >>> 0) === cidr.words[0];
  }
  for (let i = 0; i < 8; i++) {
    const mask = wordMask(cidr.prefix, i);
    if (mask === 0) break;
    if (((ip.words[i] ?? 0) & mask) !== cidr.words[i]) return false;
  }
  return true;
}

export function formatCidr(cidr: Cidr): string {
  const addr = cidr.v === 4 ? v4Text(cidr.words[0] ?? 0) : v6Text(cidr.words);
  return `${addr}/${cidr.prefix}`;
}
