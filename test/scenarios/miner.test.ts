// Seed 4: a cryptominer: one long-lived stratum connection to the pool 203.0.113.77:3333 (subscribe, authorize,
// jobs pushed every few seconds, shares submitted) and a hashing loop busy ~85 % of a core in the same process. The
// pool is given as host:port (no stratum+tcp URL on the command line). The connection is owned for its whole life,
// so the pid is required.
import { expect, it } from 'vitest';
import { scenarioSuite, expectAttackReported, expectOnlyMaliciousAt } from './support/suite.js';
import { ADDR } from './support/lab.js';
import type { FindingDoc } from '../../core/finding.js';

const atPool = (f: FindingDoc) => f.destination.ip === ADDR.pool && f.destination.port === 3333 && f.network.transport === 'tcp';

scenarioSuite('miner', '4 cryptominer: stratum to a pool port and CPU burn', {
  malicious: { name: 'miner', program: 'miner.mjs', args: ['--pool', `${ADDR.pool}:3333`] },
}, (run) => {
  it('ran the miner seed as intended (its own log)', () => {
    const status = run().lab.readLog('miner').filter((e) => e['kind'] === 'status');
    const last = status[status.length - 1] ?? {};
    expect(last['jobs'] as number, JSON.stringify(status)).toBeGreaterThanOrEqual(3);
    expect(last['hashes'] as number, JSON.stringify(status)).toBeGreaterThan(0);
  });

  it('reports T1496 for the pool at risk ≥ Medium, naming the miner', () => {
    expectAttackReported(run(), {
      techniques: ['T1496'],
      destination: atPool,
      destinationText: `${ADDR.pool}:3333/tcp`,
      pid: 'required',
      destinationFilter: { ip: ADDR.pool, port: 3333 },
    });
  });

  it('names no other process at the pool', () => {
    expectOnlyMaliciousAt(run(), atPool, `${ADDR.pool}:3333`);
  });
});
