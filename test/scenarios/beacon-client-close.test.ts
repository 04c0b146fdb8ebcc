// Seed 1A: a backdoor checks in with its C2 (198.51.100.66:8443) every 2–4 s with ±20–30 % jitter; each check-in
// is a 100–300 ms TCP connection that the implant closes, so its TIME_WAIT stays on the endpoint.
//
// Attribution: a TIME_WAIT socket has no owner (inode 0), and a 100–300 ms connection is open during a 1 s sample
// only now and then. The agent names the backdoor once it has seen one of its sockets open and then infers it for
// the traces that follow; a run in which no check-in was ever caught open leaves nothing to attribute from. So the
// pid is required when the agent's own history shows it saw the backdoor (socket or inferred); otherwise the
// finding must name the destination with no process and less than High confidence.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './support/suite.js';
import { beaconDiagnosis, report } from './support/evidence.js';
import { ADDR } from './support/lab.js';
import type { FindingDoc } from '../../agent/findings.js';

const PORT = 8443;
// What the endpoint itself keeps of the check-ins, 20 s into the hunt: its TCP sockets and its conntrack flows.
const PROBE = ['sh', '-c', `ss -tan dst ${ADDR.c2}; echo ---conntrack---; grep 'dst=${ADDR.c2} ' /proc/net/nf_conntrack || true`];
const atC2 = (f: FindingDoc) => f.destination.ip === ADDR.c2 && f.destination.port === PORT && f.network.transport === 'tcp';

scenarioSuite(
  'beacon-a',
  '1A backdoor beaconing, implant closes (TIME_WAIT on the endpoint)',
  { c2Close: 'client', c2Port: PORT, probe: { afterMs: 20_000, command: PROBE }, malicious: { name: 'backdoor', program: 'backdoor.mjs', args: ['--c2', `${ADDR.c2}:${PORT}`, '--close', 'client'] } },
  (run) => {
    it('leaves the check-ins in TIME_WAIT on the endpoint (premise of 1A)', () => {
      const [sockets = ''] = (run().probe ?? '').split('---conntrack---');
      expect(sockets, 'no TIME_WAIT socket to the C2 on the endpoint').toMatch(new RegExp(`TIME-WAIT.*${ADDR.c2.replace(/\./g, '\\.')}:${PORT}`));
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
        destinationText: `${ADDR.c2}:${PORT}/tcp`,
        pid: 'where-observed',
        destinationFilter: { ip: ADDR.c2, port: PORT },
      });
    });

    it('the beacon detector recognises the check-in rhythm', async () => {
      const r = run();
      const found = r.findings.filter((f) => f.hunt.detector === 'beacon' && atC2(f));
      const checkIns = r.lab.readLog('backdoor').map((e) => e['start'] as number);
      const truth = `the backdoor's own log: ${checkIns.length} check-ins, intervals ${checkIns.slice(1).map((t, i) => t - checkIns[i]!).join(',')} ms`;
      expect(found.length, `no beacon finding for ${ADDR.c2}:${PORT}\n${truth}\n${await beaconDiagnosis(r, ADDR.c2, PORT, checkIns)}\n${report(r)}`).toBeGreaterThan(0);
    });

    it('names no other process at the C2', () => {
      expectOnlyMaliciousAt(run(), atC2, `${ADDR.c2}:${PORT}`);
    });
  },
);
