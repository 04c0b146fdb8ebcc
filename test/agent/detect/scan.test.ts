import { describe, expect, it } from 'vitest';
import { scan } from '../../../agent/detect/scan.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { dedupeKey } from '../../../core/finding.js';
import { FakeBaseline, FakeHistory, context, matureBaseline, started } from '../../support/detect.js';
import { HOSTILE, NOW, conn, type ConnSpec } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(scan);
const NMAP: ConnSpec = { exe: '/usr/bin/nmap', name: 'nmap' };

function sweep(from: number, count: number, spec: ConnSpec = {}) {
  return Array.from({ length: count }, (_, i) => conn({ ...NMAP, ip: `10.0.3.${from + i}`, port: 445, state: 'SYN_SENT', ...spec }));
}

describe('scan', () => {
  it('reports an internal horizontal sweep of half-open connections as one high-risk finding', () => {
    const out = scan.detect(SCENARIOS.scan!(), P);
    expect(out).toHaveLength(1);
    const [d] = out;
    expect(d!.technique).toEqual([{ id: 'T1046', name: 'Network Service Discovery' }]);
    expect(d!.risk).toBe('Critical');
    expect(d!.confidence).toBe('High');
    expect(d!.dedupeGroup).toBe('horizontal:internal:445');
    expect(d!.destination.port).toBe(445);
    expect(d!.evidence[0]!['targets']).toMatchObject({ hosts: 30, half_open: 30, internal_share: 1, port_class: '445' });
  });

  it('reports a vertical scan of one external host from the history window', () => {
    const history = new FakeHistory(
      Array.from({ length: 40 }, (_, i) => ({ key: '/usr/bin/nmap', ip: '198.51.100.20', port: 1000 + i, ts: [NOW - 20_000 + i * 100] })),
    );
    const [d] = scan.detect(context({ history }), P);
    expect(d!.dedupeGroup).toBe('vertical:198.51.100.20:mixed');
    expect(d!.destination.ip).toBe('198.51.100.20');
    expect(d!.risk).toBe('High');
    expect(String(d!.evidence[0]!['summary'])).toContain('vertical scan of external targets');
  });

  it('keeps one scan one finding across samples (same dedupe key as targets move on)', () => {
    const first = scan.detect(context({ rows: sweep(1, 25) }), P);
    const later = scan.detect(context({ rows: sweep(100, 25) }), P);
    expect(dedupeKey(first[0]!)).toBe(dedupeKey(later[0]!));
  });

  it('stays quiet on a browser loading a page from 25 external hosts that all answer', () => {
    const history = new FakeHistory(
      Array.from({ length: 25 }, (_, i) => ({ key: '/usr/lib/firefox/firefox', ip: `198.51.${100 + i}.7`, port: 443, ts: [NOW - 5_000] })),
    );
    expect(scan.detect(context({ history }), P)).toEqual([]);
  });

  it('stays quiet below the thresholds and outside the window', () => {
    expect(scan.detect(context({ rows: sweep(1, 8) }), P)).toEqual([]);
    const old = new FakeHistory(
      Array.from({ length: 40 }, (_, i) => ({ key: '/usr/bin/nmap', ip: '198.51.100.20', port: 1000 + i, ts: [NOW - 5 * 60_000] })),
    );
    expect(scan.detect(context({ history: old }), P)).toEqual([]);
  });

  it('does not count endpoints known from the baseline (a monitoring poller) or allowed ones', () => {
    const rows = sweep(1, 25, { exe: '/usr/bin/prometheus', name: 'prometheus', state: 'ESTABLISHED', port: 9100 });
    const known = matureBaseline({ '/usr/bin/prometheus': { endpoints: rows.map((r) => `${r.destination.ip}:9100/tcp`) } });
    expect(scan.detect(context({ rows: sweep(1, 25), baseline: matureBaseline({}, [{ key: '/usr/bin/nmap' }]) }), P)).toEqual([]);
    expect(scan.detect(context({ rows, started: rows.map((r) => started(r)), baseline: known }), P)).toEqual([]);
  });

  it('reports a scan whose sockets die between samples from the host TCP counters, unattributed → Low confidence', () => {
    const [d] = scan.detect(context({ host: { tcpCounterDelta: { activeOpens: 400, attemptFails: 380, outRsts: 5 } } }), P);
    expect(d).toMatchObject({ processKey: null, confidence: 'Low', dedupeGroup: 'host-counters' });
    expect(d!.row.process.pid).toBeNull();
    expect(d!.evidence[1]!['host_tcp_counters']).toMatchObject({ attempt_fails_per_sec: 380 });
  });

  it('attributes counter evidence to the process with the most half-open targets', () => {
    const rows = [...sweep(1, 3), conn({ exe: '/usr/bin/curl', ip: '198.51.100.1', port: 443 })];
    const [d] = scan.detect(context({ rows, host: { tcpCounterDelta: { activeOpens: 400, attemptFails: 380, outRsts: 0 } } }), P);
    expect(d!.processKey).toBe('/usr/bin/nmap');
    expect(d!.confidence).not.toBe('High');
  });

  it('adds counter evidence to a process-level finding instead of a second finding', () => {
    const base = scan.detect(context({ rows: sweep(1, 25) }), P);
    const withCounters = scan.detect(context({ rows: sweep(1, 25), host: { tcpCounterDelta: { activeOpens: 90, attemptFails: 80, outRsts: 0 } } }), P);
    expect(withCounters).toHaveLength(1);
    expect(withCounters[0]!.score).toBeGreaterThan(base[0]!.score);
    expect(withCounters[0]!.evidence.some((e) => 'host_tcp_counters' in e)).toBe(true);
  });

  it('normalises counter deltas by the sampling interval', () => {
    const facts = { tcpCounterDelta: { activeOpens: 50, attemptFails: 50, outRsts: 0 } };
    expect(scan.detect(context({ host: facts }), P)).toHaveLength(1);
    expect(scan.detect(context({ host: facts, sampleIntervalMs: 10_000 }), P)).toEqual([]);
  });

  it('reports a sweep made of unattributed traces (conntrack) with lowered confidence', () => {
    const history = new FakeHistory(
      Array.from({ length: 30 }, (_, i) => ({ key: 'unattributed', ip: `10.0.4.${i + 1}`, port: 22, ts: [NOW - 10_000], attribution: ['none' as const] })),
    );
    const [d] = scan.detect(context({ history }), P);
    expect(d!.dedupeGroup).toBe('horizontal:internal:22');
    expect(d!.confidence).toBe('Medium');
  });

  it('scores internal targets above external ones', () => {
    const ext = Array.from({ length: 30 }, (_, i) => conn({ ...NMAP, ip: `198.51.100.${i + 1}`, port: 445, state: 'SYN_SENT' }));
    const [internal] = scan.detect(context({ rows: sweep(1, 30) }), P);
    const [external] = scan.detect(context({ rows: ext }), P);
    expect(internal!.score).toBeGreaterThan(external!.score);
  });

  it('reports with an empty baseline, at lower confidence', () => {
    const [d] = scan.detect(context({ rows: sweep(1, 30), baseline: new FakeBaseline() }), P);
    expect(d!.confidence).toBe('Medium');
  });

  it('carries hostile strings unchanged', () => {
    const [d] = scan.detect(SCENARIOS.scan!({ name: HOSTILE, cmd: HOSTILE }), P);
    expect(d!.recommendedAction).toContain(HOSTILE);
  });
});
