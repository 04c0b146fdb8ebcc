// Address helpers shared by collectors, filters and detectors.
import { BlockList, isIP } from 'node:net';
import { SockhuntError } from '../agent/errors.js';

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
