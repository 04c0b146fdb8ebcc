// Seed 3: internal reconnaissance from one process: a connect() sweep of 192.0.2.100–150 on one service port
// (black holes: the attempts stay in SYN_SENT until the scanner's 2–3 s timeout) and a sweep of 36 ports of
// 192.0.2.20 (refused at once), interleaved, 12–20 at a time. The half-open sockets are owned by the scanner while
// they wait, so the agent can read the owner: the pid is required.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported } from './support/suite.js';
import { report } from './support/evidence.js';
import { ADDR } from './support/lab.js';
import type { FindingDoc } from '../../core/finding.js';

const octet = (ip: string) => Number(ip.split('.')[3]);
const inTargets = (ip: string) =>
  ip === ADDR.refusing || (ip.startsWith('192.0.2.') && octet(ip) >= ADDR.blackHoleFirst && octet(ip) <= ADDR.blackHoleLast);

scenarioSuite('scan', '3 internal network scan (no answer from 192.0.2.100–150, refused by 192.0.2.20)', {
  malicious: { name: 'scanner', program: 'scanner.mjs', args: [] },
}, (run) => {
  it('ran the scanner seed as intended (its own log)', () => {
    const done = run().lab.readLog('scanner').find((e) => e['kind'] === 'scan-done');
    const results = (done?.['results'] ?? {}) as Record<string, number>;
    // 51 black holes time out, 36 ports of 192.0.2.20 are refused
    expect(results, 'the scanner did not finish its sweep').toEqual({ filtered: 51, closed: 36 });
  });

  it('reports T1046 for the scanned LAN at risk ≥ Medium, naming the scanner', () => {
    const f = expectAttackReported(run(), {
      techniques: ['T1046'],
      detectors: ['scan'],
      destination: (d: FindingDoc) => inTargets(d.destination.ip) && d.network.transport === 'tcp',
      destinationText: 'a target in 192.0.2.100–150 or 192.0.2.20',
      pid: 'required',
    });
    const targets = (f.hunt.evidence[0] as { targets?: { internal_share?: number; hosts?: number; top_host?: string; sample?: string[] } }).targets;
    expect(targets, `the scan finding carries no target summary\n${report(run())}`).toBeDefined();
    // the target network: the scanned hosts are internal (the endpoint's own 192.0.2.0/24) and are the ones scanned
    expect(targets!.internal_share, `scan targets not reported as internal\n${report(run())}`).toBeGreaterThanOrEqual(0.5);
    for (const t of targets!.sample ?? []) expect(inTargets(t.split(':')[0]!), `target ${t} was never scanned`).toBe(true);
  });
});
