import { describe, expect, it } from 'vitest';
import { dns } from '../../../agent/detect/dns.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { FakeBaseline, FakeHistory, context, matureBaseline, started } from '../../support/detect.js';
import { HOSTILE, NOW, conn, type ConnSpec } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(dns);
const PY: ConnSpec = { exe: '/usr/bin/python3', name: 'python3', transport: 'udp', direction: null, port: 53 };

function detect(spec: ConnSpec, baseline = matureBaseline(), ageMs?: number) {
  const row = conn(spec);
  const ages = ageMs === undefined ? undefined : new Map([[row.socket.inode, ageMs]]);
  return dns.detect(context({ rows: [row], started: [started(row)], baseline, ...(ages ? { ages } : {}) }), P);
}

/** n fresh-socket queries spread over the last minute. */
function queries(key: string, ip: string, n: number) {
  return new FakeHistory([{ key, ip, port: 53, transport: 'udp', ts: Array.from({ length: n }, (_, i) => NOW - 59_000 + Math.floor((i * 59_000) / n)) }]);
}

describe('dns', () => {
  it('reports an iodine-style tunnel: one long-lived UDP socket to a foreign name server', () => {
    const [d] = dns.detect(SCENARIOS.dns!(), P);
    expect(d!.technique.map((t) => t.id)).toEqual(['T1071.004', 'T1048.003']);
    expect(d!.risk).toBe('High');
    expect(d!.confidence).toBe('High');
    expect(String(d!.evidence[0]!['summary'])).toMatch(/not a configured resolver.*one DNS socket open for 20m/);
  });

  it('reports a non-resolver process querying a server that is not a configured resolver', () => {
    const [d] = detect({ ...PY, ip: '8.8.4.4' });
    expect(d!.technique.map((t) => t.id)).toEqual(['T1071.004']);
    expect(d!.risk).toBe('Medium');
    expect(d!.destination).toEqual({ ip: '8.8.4.4', port: 53 });
  });

  it('covers DNS over TCP too', () => {
    expect(detect({ ...PY, transport: 'tcp', direction: 'egress', ip: '8.8.4.4' })).toHaveLength(1);
  });

  it('stays quiet for the system resolver and for clients of the configured resolvers', () => {
    expect(detect({ exe: '/usr/lib/systemd/systemd-resolved', name: 'systemd-resolved', ...{ transport: 'udp', direction: null, port: 53 }, ip: '8.8.8.8' })).toEqual([]);
    expect(detect({ exe: '/usr/sbin/dnsmasq', name: 'dnsmasq', transport: 'udp', direction: null, port: 53, ip: '1.1.1.1' })).toEqual([]);
    expect(detect({ ...PY, ip: '127.0.0.53' })).toEqual([]);
    expect(detect({ ...PY, ip: '9.9.9.9' })).toEqual([]);
  });

  it('treats lookup tools pointed at a server as administration (no finding on one query)', () => {
    expect(detect({ exe: '/usr/bin/dig', name: 'dig', cmd: 'dig @8.8.8.8 example.org', transport: 'udp', direction: null, port: 53, ip: '8.8.8.8' })).toEqual([]);
  });

  it('reports a long-lived DNS socket even to a configured resolver', () => {
    const [d] = detect({ ...PY, ip: '9.9.9.9' }, matureBaseline(), 10 * 60_000);
    expect(d!.risk).toBe('Medium');
    expect(d!.technique.map((t) => t.id)).toContain('T1048.003');
  });

  it('reports a fresh socket per query at a few queries per second, far above the learned rate', () => {
    const key = '/usr/bin/python3';
    const baseline = matureBaseline({ [key]: { endpoints: ['127.0.0.53:53/udp'], dnsRate: 2 } });
    const [d] = dns.detect(context({ history: queries(key, '127.0.0.53', 180), baseline }), P);
    expect(d).toBeDefined();
    expect(d!.destination.ip).toBe('127.0.0.53');
    expect(d!.evidence[0]!['dns']).toMatchObject({ connections_in_window: 180, learned_rate_per_min: 2 });
    expect(d!.risk).toBe('Medium');
  });

  it('stays quiet on a rate within the learned range or under the absolute minimum', () => {
    const key = '/usr/bin/python3';
    const busy = matureBaseline({ [key]: { endpoints: ['127.0.0.53:53/udp'], dnsRate: 30 } });
    expect(dns.detect(context({ history: queries(key, '127.0.0.53', 180), baseline: busy }), P)).toEqual([]);
    const idle = matureBaseline({ [key]: { endpoints: ['127.0.0.53:53/udp'], dnsRate: 0.1 } });
    expect(dns.detect(context({ history: queries(key, '127.0.0.53', 40), baseline: idle }), P)).toEqual([]);
  });

  it('respects allow patterns and extra resolver names', () => {
    expect(detect({ ...PY, ip: '8.8.4.4' }, matureBaseline({}, [{ ip: '8.8.4.4', port: 53 }]))).toEqual([]);
    const row = conn({ ...PY, exe: '/opt/corp/dnsproxy', name: 'dnsproxy', ip: '8.8.4.4' });
    expect(dns.detect(context({ rows: [row] }), { ...P, extraResolverNames: ['dnsproxy'] })).toEqual([]);
  });

  it('reports with an empty baseline, at lower confidence', () => {
    const [d] = detect({ ...PY, ip: '8.8.4.4' }, new FakeBaseline());
    expect(d!.confidence).toBe('Medium');
  });

  it('carries hostile strings unchanged', () => {
    const [d] = dns.detect(SCENARIOS.dns!({ name: HOSTILE, cmd: HOSTILE }), P);
    expect(d!.evidence[0]!['process']).toMatchObject({ name: HOSTILE });
  });
});
