// Seed 4B: a cryptominer that reaches its pool by name — pool.supportxmr.com, on the shipped pool-domain lists — on
// port 443 (stratum on a web port, to get through egress filters), with the pool given base64-encoded, so that
// neither the port nor the command line gives it away. The endpoint resolves the name through the LAN resolver like
// any program; the agent names the destination from that DNS answer (the DNS tap) and the pool domain list does the
// rest. The connection is owned for its whole life, so the pid is required.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './support/suite.js';
import { ADDR } from './support/lab.js';
import { report } from './support/evidence.js';
import type { FindingDoc } from '../../core/finding.js';

const POOL_NAME = 'pool.supportxmr.com';
const atPool = (f: FindingDoc) => f.destination.ip === ADDR.pool && f.destination.port === 443 && f.network.transport === 'tcp';

scenarioSuite('miner-domain', '4B cryptominer: a pool domain on port 443, nothing on the command line', {
  malicious: { name: 'miner', program: 'miner.mjs', args: ['--pool-b64', Buffer.from(`${POOL_NAME}:443`).toString('base64')] },
}, (run) => {
  it('ran the miner seed as intended: resolved the pool by name and mined (its own log)', () => {
    const log = run().lab.readLog('miner');
    expect(log.find((e) => e['kind'] === 'connected'), JSON.stringify(log)).toMatchObject({ pool: `${POOL_NAME}:443`, address: ADDR.pool });
    const status = log.filter((e) => e['kind'] === 'status');
    expect((status[status.length - 1] ?? {})['jobs'] as number, JSON.stringify(status)).toBeGreaterThanOrEqual(3);
  });

  it('reports T1496 for the pool at risk ≥ Medium, naming the miner and the pool domain', () => {
    const r = run();
    expectAttackReported(r, {
      techniques: ['T1496'],
      destination: atPool,
      destinationText: `${ADDR.pool}:443/tcp`,
      pid: 'required',
      destinationFilter: { ip: ADDR.pool, port: 443 },
    });
    const miner = r.findings.filter((f) => f.hunt.detector === 'miner' && atPool(f));
    expect(miner.map((f) => f.destination.domain), report(r)).toContain(POOL_NAME);
  });

  it('names no other process at the pool', () => {
    expectOnlyMaliciousAt(run(), atPool, `${ADDR.pool}:443`);
  });
});
