// One positive scenario per detector, shared by the detector tests and the finding-document tests.
// `name` lets a test give every process a hostile name.
import type { DetectContext } from '../../../agent/detect/types.js';
import { FakeHistory, context, matureBaseline, started } from '../../support/detect.js';
import { NOW, conn, type ConnSpec } from '../../support/rows.js';

export interface ScenarioOptions {
  name?: string;
  cmd?: string;
}

function who(o: ScenarioOptions, base: ConnSpec): ConnSpec {
  return { ...base, ...(o.name !== undefined ? { name: o.name, pname: o.name } : {}), ...(o.cmd !== undefined ? { cmd: o.cmd } : {}) };
}

/** Steady 30 s check-ins with ±10% jitter, 12 starts. */
export function beaconStarts(n = 12, period = 30_000, end = NOW - 1_000): number[] {
  const jitter = [0.04, -0.08, 0.1, -0.02, 0.06, -0.1, 0.03, -0.05, 0.09, -0.07, 0.01, -0.03];
  const out: number[] = [];
  let t = end;
  for (let i = 0; i < n; i++) {
    out.unshift(Math.ceil(t / 1000) * 1000);
    t -= period * (1 + jitter[i % jitter.length]!);
  }
  return out;
}

export const SCENARIOS: Record<string, (o?: ScenarioOptions) => DetectContext> = {
  'first-seen': (o = {}) => {
    const row = conn(who(o, { exe: '/opt/app/agent', name: 'agent', ip: '203.0.113.50', port: 443 }));
    return context({ rows: [row], started: [started(row)] });
  },
  'nonstandard-port': (o = {}) => {
    const row = conn(who(o, { exe: '/usr/bin/ssh', name: 'ssh', cmd: 'ssh -p 2222 root@203.0.113.9', ip: '203.0.113.9', port: 2222 }));
    return context({ rows: [row], started: [started(row)] });
  },
  beacon: (o = {}) => {
    const row = conn(who(o, { exe: '/tmp/.x/updater', name: 'updater', ip: '198.51.100.7', port: 443, state: 'TIME_WAIT' }));
    const history = new FakeHistory([{ key: '/tmp/.x/updater', ip: '198.51.100.7', port: 443, ts: beaconStarts() }]);
    return context({ history, started: [started(row, NOW - 1000)] });
  },
  scan: (o = {}) => {
    const rows = Array.from({ length: 30 }, (_, i) =>
      conn(who(o, { exe: '/usr/bin/nmap', name: 'nmap', ip: `10.0.3.${i + 1}`, port: 445, state: 'SYN_SENT' })),
    );
    return context({ rows, started: rows.map((r) => started(r)) });
  },
  dns: (o = {}) => {
    const row = conn(who(o, { exe: '/usr/bin/iodine', name: 'iodine', ip: '198.51.100.53', port: 53, transport: 'udp', direction: null }));
    return context({ rows: [row], ages: new Map([[row.socket.inode, 20 * 60_000]]) });
  },
  miner: (o = {}) => {
    const row = conn(who(o, { pid: 777, exe: '/tmp/.cache/kswapd0', name: 'kswapd0', cmd: './kswapd0 -o stratum+tcp://45.9.148.1:3333', ip: '45.9.148.1', port: 3333 }));
    return context({
      rows: [row],
      ages: new Map([[row.socket.inode, 45 * 60_000]]),
      host: { processCpu: new Map([[777, 390]]) },
    });
  },
  rate: (o = {}) => {
    const row = conn(who(o, { exe: '/usr/bin/python3', name: 'python3', ip: '203.0.113.25', port: 25 }));
    const ts = Array.from({ length: 240 }, (_, i) => NOW - 59_000 + i * 240);
    const history = new FakeHistory(
      Array.from({ length: 8 }, (_, d) => ({ key: '/usr/bin/python3', ip: `203.0.113.${20 + d}`, port: 25, ts: ts.filter((_, i) => i % 8 === d) })),
    );
    return context({
      rows: [row],
      history,
      baseline: matureBaseline({ '/usr/bin/python3': { endpoints: ['151.101.0.223:443/tcp'], connectionRate: 3 } }),
    });
  },
};
