// Seed 1B: a backdoor checks in with its C2 (198.51.100.66:8443) every 2–4 s with ±20–30 % jitter; each check-in
// is a 100–300 ms TCP connection that the C2 server closes: the TIME_WAIT is on the server, and on the endpoint
// only the conntrack entry (kept by its stateful firewall) remembers the connection.
//
// Attribution: a conntrack entry names no process at all, and a 100–300 ms connection is open during a 1 s sample
// only now and then. The agent names the backdoor once it has seen one of its sockets open and then infers it for
// the traces that follow; a run in which no check-in was ever caught open leaves nothing to attribute from. So the
// pid is required when the agent's own history shows it saw the backdoor (socket or inferred); otherwise the
// finding must name the destination with no process and less than High confidence.
import { expect } from 'vitest';
import { beaconSuite, BEACON_PORT } from './support/beacon-suite.js';
import { ADDR } from './support/lab.js';

beaconSuite({
  id: 'beacon-b',
  title: '1B backdoor beaconing, C2 closes (no TIME_WAIT on the endpoint: conntrack only)',
  close: 'server',
  premise: {
    title: 'leaves no TIME_WAIT on the endpoint, only conntrack flows (premise of 1B)',
    check(sockets, flows) {
      expect(sockets, 'a TIME_WAIT socket to the C2 on the endpoint').not.toMatch(/TIME-WAIT/);
      expect(flows, 'no conntrack flow to the C2 on the endpoint').toMatch(new RegExp(`dport=${BEACON_PORT} `));
    },
  },
});
