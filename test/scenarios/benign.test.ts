// Benign only: the poller, the resolver lookups and the SSH session are learned for 20 s, then hunted for 30 s
// while they go on unchanged. Nothing they do is new, so the hunt must report nothing at all.
import { expect, it } from 'vitest';
import { scenarioSuite } from './support/suite.js';
import { history, report, timeline } from './support/evidence.js';

scenarioSuite('benign', 'benign workload only: learn, then hunt the same traffic', {}, (run) => {
  it('reports no finding at all', () => {
    const r = run();
    const why = r.findings.map((f) => {
      const rows = history(r, { ip: f.destination.ip, port: f.destination.port });
      return `${JSON.stringify(f, null, 2)}\nagent history for ${f.destination.ip}:${f.destination.port}: ${timeline(rows)}`;
    });
    expect(r.findings, `benign traffic raised ${r.findings.length} finding(s):\n${why.join('\n')}\n${report(r)}`).toEqual([]);
  });
});
