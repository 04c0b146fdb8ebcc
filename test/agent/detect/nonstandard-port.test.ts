import { describe, expect, it } from 'vitest';
import { nonstandardPort } from '../../../agent/detect/nonstandard-port.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { FakeBaseline, context, matureBaseline, started } from '../../support/detect.js';
import { HOSTILE, conn, type ConnSpec } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(nonstandardPort);

function detect(spec: ConnSpec, baseline = matureBaseline(), params = P) {
  const row = conn(spec);
  return nonstandardPort.detect(context({ rows: [row], started: [started(row)], baseline }), params);
}

const SSH: ConnSpec = { exe: '/usr/bin/ssh', name: 'ssh', cmd: 'ssh -p 2222 root@203.0.113.9' };
const CURL: ConnSpec = { exe: '/usr/bin/curl', name: 'curl' };
const PY: ConnSpec = { exe: '/usr/bin/python3', name: 'python3', cmd: 'python3 /tmp/x.py' };

describe('nonstandard-port', () => {
  it('reports an ssh client on 2222 to an external host, with the Sigma list attribution', () => {
    const [d] = nonstandardPort.detect(SCENARIOS['nonstandard-port']!(), P);
    expect(d).toMatchObject({ detector: 'nonstandard-port', risk: 'High', confidence: 'High' });
    expect(d!.technique).toEqual([{ id: 'T1571', name: 'Non-Standard Port' }]);
    expect(d!.score).toBeCloseTo(0.8, 3);
    expect(String(d!.evidence[0]!['summary'])).toContain('SSH client on tcp/2222 (usual: 22)');
    expect(d!.evidence[1]!['c2_port_list']).toMatchObject({
      id: 'dbfc7c98-04ab-4ab7-aa94-c74d22aa7376',
      author: 'hasselj',
      license: 'Detection Rule License (DRL) 1.1',
    });
    expect(d!.rule.reference).toContain(
      'https://github.com/SigmaHQ/sigma/blob/8eaafff1f2845a696050e05e72ba1140ee190698/rules/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml',
    );
  });

  it('reports an http client on 4444', () => {
    const [d] = detect({ ...CURL, ip: '198.51.100.4', port: 4444 });
    expect(d!.risk).toBe('High');
    expect(String(d!.evidence[0]!['summary'])).toContain('HTTP client on tcp/4444');
  });

  it('reports any process calling back to an external port on the call-back lists, lower than a family mismatch', () => {
    const [unknown] = detect({ ...PY, ip: '198.51.100.4', port: 4444 });
    const [curl] = detect({ ...CURL, ip: '198.51.100.4', port: 4444 });
    expect(unknown!.risk).toBe('Medium');
    expect(unknown!.score).toBeLessThan(curl!.score);
    const [medium] = detect({ ...PY, ip: '198.51.100.4', port: 8888 });
    expect(medium!.evidence[1]!['c2_port_list']).toMatchObject({ level: 'medium', author: 'Florian Roth (Nextron Systems)' });
    expect(medium!.score).toBeLessThan(unknown!.score);
  });

  it('stays quiet on usual ports and unknown processes on unlisted ports', () => {
    expect(detect({ ...CURL, ip: '198.51.100.4', port: 443 })).toEqual([]);
    expect(detect({ ...SSH, ip: '198.51.100.4', port: 22 })).toEqual([]);
    expect(detect({ exe: '/usr/bin/firefox', name: 'firefox', ip: '198.51.100.4', port: 443, transport: 'udp', direction: null })).toEqual([]);
    expect(detect({ exe: '/usr/sbin/chronyd', name: 'chronyd', ip: '162.159.200.123', port: 123, transport: 'udp', direction: null })).toEqual([]);
    expect(detect({ ...PY, ip: '198.51.100.4', port: 8443 })).toEqual([]);
    expect(detect({ exe: '/usr/bin/psql', name: 'psql', ip: '10.0.0.5', port: 5432 })).toEqual([]);
  });

  it('follows the Sigma rules in ignoring call-back ports on private destinations', () => {
    expect(detect({ ...PY, ip: '10.0.0.4', port: 4444 })).toEqual([]);
    // a family mismatch still counts internally, but only just
    const [ssh] = detect({ ...SSH, ip: '10.0.0.4', port: 2222 });
    expect(ssh!.risk).toBe('Low');
  });

  it('is silent when the process used that port while learning, or an allow pattern covers it', () => {
    expect(detect({ ...SSH, ip: '203.0.113.9', port: 2222 }, matureBaseline({ '/usr/bin/ssh': { endpoints: ['198.51.100.1:2222/tcp'] } }))).toEqual([]);
    expect(detect({ ...SSH, ip: '203.0.113.9', port: 2222 }, matureBaseline({}, [{ key: '/usr/bin/ssh', port: 2222 }]))).toEqual([]);
  });

  it('still judges by process family with an empty baseline, at lower confidence', () => {
    const [d] = detect({ ...SSH, ip: '203.0.113.9', port: 2222 }, new FakeBaseline());
    expect(d!.confidence).toBe('Medium');
    expect(d!.risk).toBe('High');
  });

  it('takes site call-back ports and ignored ports from params', () => {
    expect(detect({ ...PY, ip: '198.51.100.4', port: 31337 })).toEqual([]);
    expect(detect({ ...PY, ip: '198.51.100.4', port: 31337 }, matureBaseline(), { ...P, extraC2Ports: [31337] })).toHaveLength(1);
    expect(detect({ ...CURL, ip: '198.51.100.4', port: 4444 }, matureBaseline(), { ...P, ignorePorts: [4444] })).toEqual([]);
  });

  it('reports one finding per socket even when it is both started and in the sample', () => {
    expect(nonstandardPort.detect(SCENARIOS['nonstandard-port']!(), P)).toHaveLength(1);
  });

  it('matches families by executable basename and strips .exe', () => {
    expect(detect({ exe: 'C:\\Windows\\System32\\OpenSSH\\ssh.exe', name: 'ssh.exe', ip: '203.0.113.9', port: 2222 })).toHaveLength(1);
  });

  it('carries hostile names and command lines unchanged into evidence and action', () => {
    // the family still comes from the executable path, whatever the process calls itself
    const [d] = nonstandardPort.detect(SCENARIOS['nonstandard-port']!({ name: HOSTILE, cmd: HOSTILE }), P);
    expect(d!.evidence[0]!['family']).toBe('ssh');
    expect(d!.recommendedAction).toContain(HOSTILE);
    expect(String(d!.evidence[0]!['summary'])).toContain(HOSTILE);
  });
});
