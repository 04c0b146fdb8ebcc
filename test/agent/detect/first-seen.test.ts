import { describe, expect, it } from 'vitest';
import { firstSeen } from '../../../agent/detect/first-seen.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { FakeBaseline, FakeHistory, context, matureBaseline, started } from '../../support/detect.js';
import { HOSTILE, NOW, conn } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(firstSeen);
const CURL = '/usr/bin/curl';
const learned = () => matureBaseline({ [CURL]: { endpoints: ['151.101.2.132:443/tcp', '10.1.2.3:8080/tcp'] } });

function detectStarted(spec: Parameters<typeof conn>[0], baseline = learned()) {
  const row = conn(spec);
  return firstSeen.detect(context({ rows: [row], started: [started(row)], baseline }), P);
}

describe('first-seen', () => {
  it('reports a process that never networked while learning, external destination → High', () => {
    const [d] = firstSeen.detect(SCENARIOS['first-seen']!(), P);
    expect(d).toMatchObject({ detector: 'first-seen', risk: 'High', confidence: 'High', processKey: '/opt/app/agent' });
    expect(d!.score).toBeCloseTo(0.65, 3);
    expect(d!.evidence[0]!['novelty']).toBe('new-process');
    expect(String(d!.evidence[0]!['summary'])).toContain('never networked');
    expect(d!.dedupeGroup).toBe('203.0.113.0/24:443/tcp');
  });

  it('scores a new network on a known port, and a new network and port higher', () => {
    const [netOnly] = detectStarted({ ip: '198.51.100.9', port: 443 });
    const [both] = detectStarted({ ip: '198.51.100.9', port: 9000 });
    expect(netOnly!.evidence[0]!['novelty']).toBe('new-network');
    expect(netOnly!.score).toBeCloseTo(0.5, 3);
    expect(netOnly!.risk).toBe('Medium');
    expect(both!.evidence[0]!['novelty']).toBe('new-network-and-port');
    expect(both!.score).toBeGreaterThan(netOnly!.score);
  });

  it('counts internal destinations lower than external ones', () => {
    const [external] = detectStarted({ ip: '198.51.100.9', port: 9000 });
    const [internal] = detectStarted({ ip: '10.9.9.9', port: 9000 });
    expect(internal!.score).toBeLessThan(external!.score);
    expect(internal!.evidence[0]!['destination']).toMatchObject({ internal: true });
  });

  it('stays quiet on the near miss: a new address in a known /24 on a known port (CDN rotation)', () => {
    expect(detectStarted({ ip: '151.101.2.140', port: 443 })).toEqual([]);
  });

  it('ignores known endpoints, loopback, multicast and accepted (ingress) connections', () => {
    expect(detectStarted({ ip: '151.101.2.132', port: 443 })).toEqual([]);
    expect(detectStarted({ ip: '127.0.0.1', port: 9999 })).toEqual([]);
    expect(detectStarted({ ip: '::1', port: 9999 })).toEqual([]);
    expect(detectStarted({ ip: '239.255.255.250', port: 1900, transport: 'udp', direction: null })).toEqual([]);
    expect(detectStarted({ ip: '198.51.100.9', port: 51000, direction: 'ingress' })).toEqual([]);
  });

  it('respects allow patterns', () => {
    const baseline = matureBaseline({ [CURL]: { endpoints: ['151.101.2.132:443/tcp'] } }, [{ key: CURL, ip: '198.51.100.9' }]);
    expect(detectStarted({ ip: '198.51.100.9', port: 443 }, baseline)).toEqual([]);
  });

  it('with an empty baseline reports only external destinations, with Low confidence and a lower score', () => {
    const empty = new FakeBaseline();
    const [external] = detectStarted({ exe: '/opt/app/agent', ip: '203.0.113.50', port: 443 }, empty);
    const [mature] = firstSeen.detect(SCENARIOS['first-seen']!(), P);
    expect(external!.confidence).toBe('Low');
    expect(external!.score).toBeLessThan(mature!.score);
    expect(external!.evidence[0]!['baseline']).toBe('empty');
    expect(detectStarted({ exe: '/opt/app/agent', ip: '10.0.0.7', port: 443 }, empty)).toEqual([]);
  });

  it('raises long-lived connections (hours) to new external destinations', () => {
    const row = conn({ ip: '198.51.100.9', port: 443 });
    const fresh = firstSeen.detect(context({ rows: [row], started: [started(row)], baseline: learned() }), P);
    const old = firstSeen.detect(
      context({ rows: [row], baseline: learned(), ages: new Map([[row.socket.inode, 3 * 3_600_000]]) }),
      P,
    );
    expect(old).toHaveLength(1);
    expect(old[0]!.score).toBeGreaterThan(fresh[0]!.score + 0.15);
    expect(String(old[0]!.evidence[0]!['summary'])).toContain('open for 3.0h');
    // an open socket younger than the threshold is not re-reported from the sample
    const young = firstSeen.detect(
      context({ rows: [row], baseline: learned(), ages: new Map([[row.socket.inode, 10 * 60_000]]) }),
      P,
    );
    expect(young).toEqual([]);
  });

  it('infers a long-lived socket from a single recorded start when the loop gives no ages', () => {
    const row = conn({ ip: '198.51.100.9', port: 443 });
    const history = new FakeHistory([{ key: CURL, ip: '198.51.100.9', port: 443, ts: [NOW - 2 * 3_600_000] }]);
    const [d] = firstSeen.detect(context({ rows: [row], history, baseline: learned() }), P);
    expect(d!.evidence[0]!['connection']).toMatchObject({ age_ms: 2 * 3_600_000 });
  });

  it('damps browsers, whose job is reaching new sites', () => {
    const [browser] = detectStarted({ exe: '/usr/lib/firefox/firefox', name: 'firefox', ip: '198.51.100.9', port: 443 });
    expect(browser).toBeUndefined();
  });

  it('one finding per process and destination network in a sample', () => {
    const rows = [1, 2, 3].map((i) => conn({ ip: `198.51.100.${i}`, port: 443 }));
    const out = firstSeen.detect(context({ rows, started: rows.map((r) => started(r)), baseline: learned() }), P);
    expect(out).toHaveLength(1);
  });

  it('lowers confidence for owners inferred from traces', () => {
    const row = conn({ ip: '198.51.100.9', port: 443 });
    const [d] = firstSeen.detect(context({ started: [started(row, NOW, 'inferred')], baseline: learned() }), P);
    expect(d!.confidence).toBe('Medium');
  });

  it('skips rows without a process key (owner unknown)', () => {
    const row = conn({ pid: null, ip: '198.51.100.9', port: 443 });
    expect(firstSeen.detect(context({ rows: [row], started: [started(row, NOW, 'none')] }), P)).toEqual([]);
  });

  it('carries hostile strings into evidence and action unchanged', () => {
    const [d] = firstSeen.detect(SCENARIOS['first-seen']!({ name: HOSTILE, cmd: HOSTILE }), P);
    expect(d!.recommendedAction).toContain(HOSTILE);
    expect(d!.evidence[0]!['process']).toMatchObject({ name: HOSTILE, command_line: HOSTILE });
  });

  it('applies minScore', () => {
    const row = conn({ ip: '198.51.100.9', port: 443 });
    const ctx = context({ rows: [row], started: [started(row)], baseline: learned() });
    expect(firstSeen.detect(ctx, { ...P, minScore: 0.9 })).toEqual([]);
  });
});
