import { describe, expect, it } from 'vitest';
import { canonicalIp, cidrContains, isLoopback, isUnspecified, networkOf, parseCidr, parseIp } from '../../store/ip.js';

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

  it('gives the /24 and /48 network', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::3')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:db8::3')).toBe('2001:db8::/48');
    expect(networkOf('::ffff:10.1.2.3')).toBe('10.1.2.0/24');
  });

  it('matches CIDRs of both families, including /0 and odd prefixes', () => {
    const contains = (cidr: string, ip: string): boolean => cidrContains(parseCidr(cidr)!, parseIp(ip)!);
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
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('2001:db8::/129')).toBeNull();
    expect(parseCidr('10.0.0.0/x')).toBeNull();
  });

  it('knows loopback and unspecified addresses', () => {
    expect(isLoopback('127.0.0.53')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
    expect(isUnspecified('0.0.0.0')).toBe(true);
    expect(isUnspecified('::')).toBe(true);
    expect(isUnspecified('garbage')).toBe(true);
  });
});
