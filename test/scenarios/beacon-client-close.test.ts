// Seed 1A: a backdoor checks in with its C2 (198.51.100.66:8443) every 2–4 s with ±20–30 % jitter; each check-in
// is a 100–300 ms TCP connection that the implant closes, so its TIME_WAIT stays on the endpoint.
//
// Attribution: a TIME_WAIT socket has no owner (inode 0), and a 100–300 ms connection is open during a 1 s sample
// only now and then. The agent names the backdoor once it has seen one of its sockets open and then infers it for
// the traces that follow; a run in which no check-in was ever caught open leaves nothing to attribute from. So the
// pid is required when the agent's own history shows it saw the backdoor (socket or inferred); otherwise the
// finding must name the destination with no process and less than High confidence.
import { expect } from 'vitest';
import { beaconSuite, BEACON_PORT } from './support/beacon-suite.js';
import { ADDR } from './support/lab.js';

beaconSuite({
  id: 'beacon-a',
  title: '1A backdoor beaconing, implant closes (TIME_WAIT on the endpoint)',
  close: 'client',
  premise: {
    title: 'leaves the check-ins in TIME_WAIT on the endpoint (premise of 1A)',
    check(sockets) {
      expect(sockets, 'no TIME_WAIT socket to the C2 on the endpoint').toMatch(new RegExp(`TIME-WAIT.*${ADDR.c2.replace(/\./g, '\\.')}:${BEACON_PORT}`));
    },
  },
});
