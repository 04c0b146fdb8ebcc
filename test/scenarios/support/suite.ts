// The frame every scenario file shares: one lab (its own namespaces), one run of learn + hunt in beforeAll, the
// checks every scenario makes, and cleanup in afterAll even when a test or the run itself fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FindingDocSchema, type FindingDoc } from '../../../core/finding.js';
import { Lab } from './lab.js';
import { runScenario, scenarioSeed, type ScenarioOptions, type ScenarioRun } from './scenario.js';
import { CONFIDENCE_ORDER, history, namingBenign, oneLine, report, riskAtLeast, timeline } from './evidence.js';

/** learn 20 s + hunt 30 s + setup; generous for a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 110_000;

export function scenarioSuite(
  name: string,
  title: string,
  options: Omit<ScenarioOptions, 'seed'>,
  body: (run: () => ScenarioRun) => void,
): void {
  const seed = scenarioSeed();
  const lab = new Lab(name);
  let result: ScenarioRun | null = null;
  const run = (): ScenarioRun => {
    if (!result) throw new Error('the scenario did not run (see the beforeAll error)');
    return result;
  };

  describe(`${title} (seed ${seed})`, () => {
    beforeAll(async () => {
      result = await runScenario(lab, { ...options, seed });
      const t = result.timings;
      console.log(
        `scenario ${name} seed=${seed}: setup ${t.setupMs} ms, learn ${t.learnMs} ms, hunt ${t.huntMs} ms, total ${t.totalMs} ms; ` +
          `${result.findings.length} findings\n${result.findings.map((f) => `  ${oneLine(f)}`).join('\n')}`,
      );
    }, RUN_TIMEOUT_MS);

    afterAll(async () => {
      await lab.destroy();
    }, 30_000);

    it('prints one valid finding document per line (ndjson)', () => {
      expect(run().junk, 'hunt stdout lines that are not JSON').toEqual([]);
      for (const f of run().findings) {
        const parsed = FindingDocSchema.safeParse(f);
        expect(parsed.success, `finding does not fit the schema: ${JSON.stringify(f)}`).toBe(true);
      }
    });

    it('kept the benign workload running and answered throughout', () => {
      const r = run();
      const polls = r.lab.readLog('poller').filter((e) => e['kind'] === 'poll');
      const lookups = r.lab.readLog('resolver-client').filter((e) => String(e['how']).startsWith('answer'));
      const ssh = r.lab.readLog('ssh-client');
      const dead = r.benign.filter((b) => b.child.exitCode !== null || b.child.signalCode !== null);
      const detail = `polls ${polls.length}, answered lookups ${lookups.length}, ssh events ${JSON.stringify(ssh.map((e) => e['kind']))}`;
      expect(dead.map((b) => `${b.name}: ${b.stderr()}`), 'benign processes that died').toEqual([]);
      // ~50 s of learn + hunt: a poll every 2–4 s, a lookup every 4–6 s, one SSH session that never closed
      expect(polls.length, detail).toBeGreaterThanOrEqual(10);
      expect(lookups.length, detail).toBeGreaterThanOrEqual(6);
      expect(ssh.map((e) => e['kind']), detail).toEqual(['session-open']);
    });

    body(run);

    it('names no benign process in any finding', () => {
      const r = run();
      const bad = namingBenign(r.findings, r.benign);
      expect(
        bad,
        `findings name benign processes:\n${bad.map((b) => `${b.process}: ${JSON.stringify(b.finding, null, 2)}`).join('\n')}\n${report(r)}`,
      ).toEqual([]);
    });
  });
}

export interface AttackExpectation {
  /** Any of these ATT&CK technique ids. */
  techniques: string[];
  /** Only findings of these detectors count (default: any). */
  detectors?: string[];
  /** The destination the finding must name. */
  destination: (f: FindingDoc) => boolean;
  destinationText: string;
  /**
   * 'required': the malicious process owns a socket the agent can read during the hunt, so the finding must name
   * its pid. 'where-observed': its connections are too short-lived to be sure the agent ever saw one while open;
   * when the agent's own history shows it did (a socket or an inferred owner with that pid), the pid is required,
   * otherwise a finding without a process and with less than High confidence is accepted.
   */
  pid: 'required' | 'where-observed';
  destinationFilter?: { ip: string; port?: number };
}

/** Asserts that one finding carries the technique, destination, risk ≥ Medium and the malicious pid. */
export function expectAttackReported(r: ScenarioRun, e: AttackExpectation): FindingDoc {
  const mal = r.malicious!;
  const rows = e.destinationFilter ? history(r, e.destinationFilter) : [];
  const observed = rows.some((h) => h.attribution !== 'none' && h.pid === mal.pid);
  const pidRequired = e.pid === 'required' || observed;
  const context = report(r, [
    e.destinationFilter
      ? `agent history for ${e.destinationFilter.ip}${e.destinationFilter.port ? `:${e.destinationFilter.port}` : ''}: ${rows.length} starts: ${timeline(rows)}`
      : '',
    `pid ${pidRequired ? 'required' : 'not required'} (${e.pid}${e.pid === 'where-observed' ? `, observed by the agent: ${observed}` : ''})`,
  ]);

  const byTechnique = r.findings.filter(
    (f) => f.threat.technique.some((t) => e.techniques.includes(t.id)) && (!e.detectors || e.detectors.includes(f.hunt.detector)),
  );
  expect(
    byTechnique.length,
    `no finding${e.detectors ? ` from ${e.detectors.join('/')}` : ''} with technique ${e.techniques.join(' or ')}\n${context}`,
  ).toBeGreaterThan(0);
  const atDestination = byTechnique.filter(e.destination);
  expect(atDestination.length, `no ${e.techniques.join('/')} finding names ${e.destinationText}\n${context}`).toBeGreaterThan(0);
  const serious = atDestination.filter((f) => riskAtLeast(f.hunt.risk, 'Medium'));
  expect(serious.length, `the ${e.techniques.join('/')} findings for ${e.destinationText} are below Medium risk\n${context}`).toBeGreaterThan(0);

  const named = serious.filter((f) => f.process.pid === mal.pid);
  if (pidRequired) {
    expect(named.length, `no ${e.techniques.join('/')} finding (risk ≥ Medium) names the malicious pid ${mal.pid}\n${context}`).toBeGreaterThan(0);
    return named[0]!;
  }
  if (named.length > 0) return named[0]!;
  // Never observed with an owner: the finding can name no process, and must then say it is less sure.
  const anonymous = serious.filter((f) => f.process.pid === null);
  expect(anonymous.length, `no finding names pid ${mal.pid} or no process at all\n${context}`).toBeGreaterThan(0);
  const lowerConfidence = anonymous.filter((f) => CONFIDENCE_ORDER.indexOf(f.hunt.confidence) < CONFIDENCE_ORDER.indexOf('High'));
  expect(lowerConfidence.length, `an unattributed finding claims High confidence\n${context}`).toBeGreaterThan(0);
  return lowerConfidence[0]!;
}

/** Every finding that names a process at the attack's destination names the malicious one. */
export function expectOnlyMaliciousAt(r: ScenarioRun, destination: (f: FindingDoc) => boolean, destinationText: string): void {
  const mal = r.malicious!;
  const wrong = r.findings.filter((f) => destination(f) && f.process.pid !== null && f.process.pid !== mal.pid);
  expect(wrong, `findings for ${destinationText} name another process than pid ${mal.pid}\n${report(r)}`).toEqual([]);
}
