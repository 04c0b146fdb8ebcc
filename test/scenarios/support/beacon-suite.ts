// The two beacon seeds (1A: the implant closes, 1B: the C2 closes) differ only in who closes each check-in and in
// what that leaves on the endpoint; everything else they assert is here.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './suite.js';
import { beaconDiagnosis, report } from './evidence.js';
import { ADDR } from './lab.js';
import type { FindingDoc } from '../../../core/finding.js';

export const BEACON_PORT = 8443;
// What the endpoint itself keeps of the check-ins, 20 s into the hunt: its TCP sockets and its conntrack flows.
const PROBE = ['sh', '-c', `ss -tan dst ${ADDR.c2}; echo ---conntrack---; grep 'dst=${ADDR.c2} ' /proc/net/nf_conntrack || true`];
const atC2 = (f: FindingDoc) => f.destination.ip === ADDR.c2 && f.destination.port === BEACON_PORT && f.network.transport === 'tcp';

export interface BeaconSeed {
  id: string;
  title: string;
  close: 'client' | 'server';
  /** What the close leaves on the endpoint: checked on the probe's sockets and conntrack flows. */
  premise: { title: string; check(sockets: string, flows: string): void };
}

export function beaconSuite(seed: BeaconSeed): void {
  scenarioSuite(
    seed.id,
    seed.title,
    {
      c2Close: seed.close,
      c2Port: BEACON_PORT,
      probe: { afterMs: 20_000, command: PROBE },
      malicious: { name: 'backdoor', program: 'backdoor.mjs', args: ['--c2', `${ADDR.c2}:${BEACON_PORT}`, '--close', seed.close] },
    },
    (run) => {
      it(seed.premise.title, () => {
        const [sockets = '', flows = ''] = (run().probe ?? '').split('---conntrack---');
        seed.premise.check(sockets, flows);
      });

      it('ran the backdoor seed as intended (its own log)', () => {
        const checkIns = run().lab.readLog('backdoor').filter((e) => e['kind'] === 'check-in');
        expect(checkIns.length, 'check-ins during the hunt').toBeGreaterThanOrEqual(6);
        expect(checkIns.every((e) => (e['ms'] as number) >= 90 && (e['ms'] as number) <= 400), JSON.stringify(checkIns)).toBe(true);
      });

      it('reports the C2 (T1071/T1095 or T1571) at risk ≥ Medium, naming the backdoor where the agent saw it', () => {
        expectAttackReported(run(), {
          techniques: ['T1071', 'T1095', 'T1571'],
          destination: atC2,
          destinationText: `${ADDR.c2}:${BEACON_PORT}/tcp`,
          pid: 'where-observed',
          destinationFilter: { ip: ADDR.c2, port: BEACON_PORT },
        });
      });

      it('the beacon detector recognises the check-in rhythm', async () => {
        const r = run();
        const found = r.findings.filter((f) => f.hunt.detector === 'beacon' && atC2(f));
        const checkIns = r.lab.readLog('backdoor').map((e) => e['start'] as number);
        const truth = `the backdoor's own log: ${checkIns.length} check-ins, intervals ${checkIns.slice(1).map((t, i) => t - checkIns[i]!).join(',')} ms`;
        expect(found.length, `no beacon finding for ${ADDR.c2}:${BEACON_PORT}\n${truth}\n${await beaconDiagnosis(r, ADDR.c2, BEACON_PORT, checkIns)}\n${report(r)}`).toBeGreaterThan(0);
      });

      it('names no other process at the C2', () => {
        expectOnlyMaliciousAt(run(), atC2, `${ADDR.c2}:${BEACON_PORT}`);
      });
    },
  );
}
