import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  cidrContains,
  CidrSet,
  formatCidr,
  formatIp,
  formatIPv4Bytes,
  ipType,
  isLoopback,
  isUnspecified,
  networkOf,
  parseCidr,
  parseIp,
  tryParseCidr,
} from '../../core/ip.js';
import { SockhuntError } from '../../core/errors.js';
import { networkValue } from '../../store/agent/grains.js';
import { firstSeen } from '../../agent/detect/first-seen.js';
import { resolveParams } from '../../agent/detect/index.js';
import { conn } from '../support/rows.js';
import { context, matureBaseline, started } from '../support/detect.js';

function inputError(fn: () => unknown): SockhuntError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SockhuntError);
    expect((err as SockhuntError).code).toBe('SOCKHUNT_E_INPUT');
    return err as SockhuntError;
  }
  throw new Error('expected a SOCKHUNT_E_INPUT error');
}

describe('ip helpers', () => {
  it('canonicalises IPv6 per RFC 5952 and IPv4-mapped addresses to IPv4', () => {
    expect(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('::ffff:c000:0201')).toBe('192.0.2.1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('not-an-ip')).toBeNull();
    expect(canonicalIp('1:2:3')).toBeNull();
  });

  it('shortens the longest zero run, the first on a tie, never a single zero group', () => {
    expect(canonicalIp('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(canonicalIp('1:0:0:2:0:0:3:4')).toBe('1::2:0:0:3:4');
    expect(canonicalIp('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7');
    expect(canonicalIp('1:2:3:4:5:6:7::')).toBe('1:2:3:4:5:6:7:0');
    expect(canonicalIp('1::')).toBe('1::');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('::1.2.3.4')).toBe('::102:304'); // IPv4-compatible (deprecated) stays IPv6
  });

  it('gives the /24 and /48 network', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::3')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:db8::3')).toBe('2001:db8::/48');
    expect(networkOf('::ffff:10.1.2.3')).toBe('10.1.2.0/24');
    expect(networkOf('2001:DB8:0000::1')).toBe('2001:db8::/48');
    expect(networkOf('::1')).toBe('::/48');
    expect(networkOf('garbage')).toBeNull();
  });

  it('gives the detector and the baseline the same network text for 2001:db8::1', () => {
    expect(networkValue('2001:db8::1')).toBe('2001:db8::/48');
    const r = conn({ ip: '2001:db8::1', port: 443 });
    const baseline = matureBaseline({ '/usr/bin/curl': { endpoints: ['[2001:db8:1::5]:443/tcp'] } });
    const [draft] = firstSeen.detect(context({ rows: [r], started: [started(r)], baseline }), resolveParams(firstSeen));
    expect(draft).toBeDefined();
    expect((draft!.evidence[0]!['destination'] as { network: string }).network).toBe('2001:db8::/48');
    expect(draft!.dedupeGroup).toBe('2001:db8::/48:443/tcp');
  });

  it('matches CIDRs of both families, including /0 and odd prefixes', () => {
    const contains = (cidr: string, ip: string): boolean => cidrContains(parseCidr(cidr), parseIp(ip)!);
    expect(contains('10.0.0.0/8', '10.255.0.1')).toBe(true);
    expect(contains('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(contains('0.0.0.0/0', '198.51.100.1')).toBe(true);
    expect(contains('192.168.0.0/23', '192.168.1.200')).toBe(true);
    expect(contains('192.168.0.0/23', '192.168.2.1')).toBe(false);
    expect(contains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(contains('2001:db8::/33', '2001:db8:8000::1')).toBe(false);
    expect(contains('fc00::/7', 'fd12:3456::1')).toBe(true);
    expect(contains('::/0', '2001:db8::1')).toBe(true);
    expect(contains('::/0', '10.0.0.1')).toBe(false);
    expect(contains('::ffff:10.0.0.0/104', '10.9.9.9')).toBe(true);
    expect(contains('10.0.0.0/8', '::ffff:10.1.1.1')).toBe(true);
    expect(tryParseCidr('10.0.0.0/33')).toBeNull();
    expect(tryParseCidr('2001:db8::/129')).toBeNull();
    expect(tryParseCidr('10.0.0.0/x')).toBeNull();
  });

  it('parses CIDRs to canonical text with host bits cleared', () => {
    expect(formatCidr(parseCidr('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(formatCidr(parseCidr('192.0.2.7'))).toBe('192.0.2.7/32');
    expect(formatCidr(parseCidr('2001:DB8:0:0:1::/32'))).toBe('2001:db8::/32');
    expect(formatCidr(parseCidr('fe80::1234%eth0/64'))).toBe('fe80::/64');
    expect(formatCidr(parseCidr('::ffff:10.0.0.0/104'))).toBe('10.0.0.0/8');
    expect(formatCidr(parseCidr(' 2001:db8::1 '))).toBe('2001:db8::1/128');
    expect(tryParseCidr('::ffff:10.0.0.0/8')).toBeNull(); // a mapped prefix shorter than the mapping
    expect(tryParseCidr('10.0.0.0/8/9')).toBeNull();
    expect(tryParseCidr('10.0.0.0/')).toBeNull();
    expect(tryParseCidr('/8')).toBeNull();
    expect(tryParseCidr('')).toBeNull();
  });

  it('throws SOCKHUNT_E_INPUT naming the text for a bad CIDR', () => {
    expect(inputError(() => parseCidr('not-a-cidr')).message).toBe('not an IP address or CIDR: "not-a-cidr"');
    expect(inputError(() => parseCidr('10.0.0.0/33')).message).toBe('bad prefix length in "10.0.0.0/33"');
    expect(inputError(() => parseCidr('10.0.0.0/x')).message).toContain('bad prefix length');
    expect(inputError(() => parseCidr('10.0.0/8')).message).toContain('not an IP address or CIDR');
    inputError(() => new CidrSet(['10.0.0.0/8', 'nope']));
  });

  it('knows loopback and unspecified addresses', () => {
    expect(isLoopback('127.0.0.53')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
    expect(isLoopback('::2')).toBe(false);
    expect(isLoopback('garbage')).toBe(false);
    expect(isUnspecified('0.0.0.0')).toBe(true);
    expect(isUnspecified('::')).toBe(true);
    expect(isUnspecified('0:0::0')).toBe(true);
    expect(isUnspecified('::ffff:0.0.0.0')).toBe(true);
    expect(isUnspecified('garbage')).toBe(true);
    expect(isUnspecified('*')).toBe(true);
    expect(isUnspecified('0.0.0.1')).toBe(false);
    expect(isUnspecified('::1')).toBe(false);
  });

  it('reads IPv4-mapped addresses as IPv4', () => {
    expect(parseIp('::ffff:192.0.2.1')).toEqual({ version: 4, bytes: new Uint8Array([192, 0, 2, 1]) });
    expect(parseIp('::FFFF:c000:201')?.version).toBe(4);
    expect(canonicalIp('0:0:0:0:0:ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('::ffff:1.2.3')).toBeNull();
    expect(canonicalIp('::ffff:256.0.0.1')).toBeNull();
    expect(canonicalIp('::fffe:10.0.0.1')).toBe('::fffe:a00:1');
  });

  it('drops zone ids and brackets, IPv6 only', () => {
    expect(canonicalIp('[2001:db8::1]')).toBe('2001:db8::1');
    expect(canonicalIp('[fe80::1%eth0]')).toBe('fe80::1');
    expect(canonicalIp('FE80::1%25en0')).toBe('fe80::1');
    expect(canonicalIp(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(canonicalIp('[2001:db8::1')).toBeNull();
    expect(canonicalIp('2001:db8::1]')).toBeNull();
    expect(canonicalIp('[192.0.2.1]')).toBeNull();
    expect(canonicalIp('192.0.2.1%eth0')).toBeNull();
    expect(canonicalIp('fe80::1%')).toBeNull();
    expect(networkOf('[2001:db8:1::1]')).toBe('2001:db8:1::/48');
    expect(isLoopback('[::1]')).toBe(true);
  });

  it('refuses text that is not an address', () => {
    for (const bad of [
      '',
      ' ',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.04',
      '1..2.3',
      '1.2.3.4.',
      '-1.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      ':::',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '::1:2:3:4:5:6:7:8',
      '12345::1',
      'g::1',
      '1.2.3.4::',
      'localhost',
      '0x7f.0.0.1',
    ]) {
      expect(parseIp(bad), bad).toBeNull();
      expect(canonicalIp(bad), bad).toBeNull();
      expect(networkOf(bad), bad).toBeNull();
      expect(tryParseCidr(bad), bad).toBeNull();
    }
  });

  it('caches: the same text gives the same parsed object', () => {
    const a = parseIp('2001:db8::42');
    expect(parseIp('2001:db8::42')).toBe(a);
    expect(formatIp(a!)).toBe('2001:db8::42');
    expect(formatIp({ version: 6, bytes: new Uint8Array(16) })).toBe('::');
    expect(formatIPv4Bytes(new Uint8Array([0, 10, 0, 0, 7]), 1)).toBe('10.0.0.7');
    expect(ipType('2001:db8::1')).toBe('ipv6');
    expect(ipType('10.0.0.1')).toBe('ipv4');
  });

  it('tests membership in a CidrSet of both families', () => {
    const set = new CidrSet(['10.0.0.0/8', 'fc00::/7', '::ffff:192.168.0.0/112', '198.51.100.7']);
    expect(set.cidrs).toEqual(['10.0.0.0/8', 'fc00::/7', '192.168.0.0/16', '198.51.100.7/32']);
    expect(set.has('10.2.3.4')).toBe(true);
    expect(set.has('::ffff:10.2.3.4')).toBe(true);
    expect(set.has('192.168.4.4')).toBe(true);
    expect(set.has('fd00::1')).toBe(true);
    expect(set.has('198.51.100.7')).toBe(true);
    expect(set.has('198.51.100.8')).toBe(false);
    expect(set.has('2001:db8::1')).toBe(false);
    expect(set.has('garbage')).toBe(false);
    expect(set.contains(parseIp('10.0.0.1')!)).toBe(true);
    expect(new CidrSet().has('10.0.0.1')).toBe(false);
  });
});
