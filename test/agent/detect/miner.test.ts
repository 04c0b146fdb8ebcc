import { describe, expect, it } from 'vitest';
import { miner } from '../../../agent/detect/miner.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { FakeBaseline, context, matureBaseline } from '../../support/detect.js';
import { HOSTILE, conn, type ConnSpec } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(miner);
const BIN: ConnSpec = { pid: 777, exe: '/tmp/.cache/kswapd0', name: 'kswapd0', cmd: './kswapd0' };

function detect(spec: ConnSpec, opts: { ageMs?: number; cpu?: number; domain?: string; baseline?: FakeBaseline } = {}) {
  const row = conn({ ...BIN, ...spec });
  return miner.detect(
    context({
      rows: [row],
      ...(opts.ageMs !== undefined ? { ages: new Map([[row.socket.inode, opts.ageMs]]) } : {}),
      ...(opts.domain ? { domains: { [row.destination.ip]: opts.domain } } : {}),
      host: { processCpu: new Map(opts.cpu !== undefined ? [[777, opts.cpu]] : []) },
      ...(opts.baseline ? { baseline: opts.baseline } : {}),
    }),
    P,
  );
}

describe('miner', () => {
  it('reports a long-lived stratum connection from a busy process as Critical', () => {
    const [d] = miner.detect(SCENARIOS.miner!(), P);
    expect(d).toMatchObject({ risk: 'Critical', confidence: 'High' });
    expect(d!.technique).toEqual([{ id: 'T1496', name: 'Resource Hijacking' }]);
    expect(d!.evidence[0]!['indicators']).toMatchObject({ strong_port: true, command_line_marker: 'stratum+tcp', cpu_percent: 390 });
    expect(d!.evidence.some((e) => (e['port_and_marker_lists'] as { license?: string } | undefined)?.license === 'Apache License 2.0')).toBe(true);
  });

  it('reports a pool domain with the Sigma rule and author that listed it', () => {
    const [d] = detect({ ip: '198.51.100.30', port: 443 }, { domain: 'pool.supportxmr.com' });
    expect(d!.destination.domain).toBe('pool.supportxmr.com');
    expect(d!.risk).toBe('Medium');
    expect(d!.evidence[1]!['pool_list']).toMatchObject({
      id: 'a46c93b7-55ed-4d27-a41b-c259456c4746',
      author: 'Florian Roth (Nextron Systems)',
      license: 'Detection Rule License (DRL) 1.1',
    });
  });

  it('matches subdomains of listed pools but not look-alike names', () => {
    expect(detect({ ip: '198.51.100.30', port: 443 }, { domain: 'gulf.moneroocean.stream.' })).toHaveLength(1);
    expect(detect({ ip: '198.51.100.30', port: 443 }, { domain: 'notmoneroocean.stream' })).toEqual([]);
  });

  it('scores the port, its duration and the CPU load step by step', () => {
    expect(detect({ ip: '198.51.100.30', port: 3333 })).toEqual([]);
    expect(detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 15 * 60_000 })).toEqual([]);
    const [longer] = detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 40 * 60_000 });
    const [busy] = detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 40 * 60_000, cpu: 95 });
    expect(longer!.risk).toBe('Medium');
    expect(busy!.risk).toBe('High');
  });

  it('stays quiet on ports that ordinary services share, however busy and long-lived', () => {
    expect(detect({ ip: '198.51.100.30', port: 8080 }, { ageMs: 3_600_000, cpu: 300 })).toEqual([]);
    expect(detect({ ip: '198.51.100.30', port: 443 }, { ageMs: 3_600_000, cpu: 300 })).toEqual([]);
  });

  it('reports a stratum URL on the command line on any port', () => {
    const [d] = detect({ cmd: 'xmrig -o stratum+ssl://198.51.100.30:443 -u wallet', ip: '198.51.100.30', port: 443 });
    expect(d!.risk).toBe('Medium');
  });

  it('respects allow patterns, ignores loopback, and scores internal pool proxies and baseline endpoints lower', () => {
    const allow = matureBaseline({}, [{ key: BIN.exe!, port: 3333 }]);
    expect(detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 3_600_000, cpu: 200, baseline: allow })).toEqual([]);
    expect(detect({ ip: '127.0.0.1', port: 3333 }, { ageMs: 3_600_000, cpu: 200 })).toEqual([]);
    const [ext] = detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 3_600_000, cpu: 200 });
    const [int] = detect({ ip: '10.0.0.30', port: 3333 }, { ageMs: 3_600_000, cpu: 200 });
    const known = matureBaseline({ [BIN.exe!]: { endpoints: ['198.51.100.30:3333/tcp'] } });
    const [learned] = detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 3_600_000, cpu: 200, baseline: known });
    expect(int!.score).toBeLessThan(ext!.score);
    expect(learned!.score).toBeLessThan(ext!.score);
  });

  it('reports with an empty baseline, at lower confidence', () => {
    const [d] = detect({ ip: '198.51.100.30', port: 3333 }, { ageMs: 3_600_000, cpu: 200, baseline: new FakeBaseline() });
    expect(d!.confidence).toBe('Medium');
  });

  it('carries hostile strings unchanged', () => {
    const [d] = miner.detect(SCENARIOS.miner!({ name: HOSTILE }), P);
    expect(d!.recommendedAction).toContain(HOSTILE);
  });
});
