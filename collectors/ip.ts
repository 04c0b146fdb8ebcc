// Address helpers shared by collectors, filters and detectors.
import { BlockList, isIP } from 'node:net';
import { SockhuntError } from '../agent/errors.js';

const HEX = '0123456789abcdef';

/** Formats 16 bytes as an RFC 5952 IPv6 string; an IPv4-mapped address is returned as dotted IPv4. */
export function formatIPv6(b: Uint8Array): string {
  if (isV4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  // Longest run of zero words (length ≥ 2) becomes "::" (first one on ties).
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
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(':')) out += ':';
    out += hexWord(words[i]!);
  }
  return out;
}

function hexWord(w: number): string {
  if (w === 0) return '0';
  let s = '';
  while (w > 0) {
    s = HEX[w & 0xf] + s;
    w >>>= 4;
  }
  return s;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function ipType(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopback(ip: string): boolean {
  const t = isIP(ip);
  if (t === 0) return false;
  return LOOPBACK.check(ip, t === 4 ? 'ipv4' : 'ipv6');
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

/** A set of CIDRs with a fast membership test. */
export class CidrSet {
  private readonly list = new BlockList();
  readonly cidrs: string[] = [];

  constructor(cidrs: Iterable<string> = []) {
    for (const c of cidrs) this.add(c);
  }

  add(cidr: string): void {
    const { address, prefix, type } = parseCidr(cidr);
    this.list.addSubnet(address, prefix, type);
    this.cidrs.push(`${address}/${prefix}`);
  }

  has(ip: string): boolean {
    const t = isIP(ip);
    if (t === 0) return false;
    return this.list.check(ip, t === 4 ? 'ipv4' : 'ipv6');
  }
}
