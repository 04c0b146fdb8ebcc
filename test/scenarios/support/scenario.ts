// One scenario: the test network, its servers, the benign workload, `sockhunt learn`, then `sockhunt hunt` while
// the benign workload goes on and (optionally) a malicious seed runs. The agent is the real CLI with real options
// only: `--db` in the lab's temp dir and `--config` of a YAML that says `netns: self` (so that the other namespaces
// of the test runner do not leak into the sample).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, type Started } from './lab.js';
import type { FindingDoc } from '../../../core/finding.js';

const CLI = fileURLToPath(new URL('../../../bin/sockhunt.js', import.meta.url));

/** A random 32-bit seed, or SOCKHUNT_SCENARIO_SEED to replay a run. */
export function scenarioSeed(): number {
  const fixed = process.env.SOCKHUNT_SCENARIO_SEED;
  if (fixed && /^\d+$/.test(fixed)) return Number(fixed) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

export interface MaliciousSpec {
  name: string;
  program: string;
  args: string[];
}

export interface ScenarioOptions {
  seed: number;
  /** Who closes the C2 connections (the C2 server's behaviour). */
  c2Close?: 'client' | 'server';
  c2Port?: number;
  malicious?: MaliciousSpec;
  learnFor?: string;
  huntFor?: string;
  /** How long after the hunt starts the seed is started (the agent is sampling by then). */
  seedDelayMs?: number;
  /** A command run in the endpoint namespace this long into the hunt (e.g. `ss` to check a scenario's premise). */
  probe?: { afterMs: number; command: string[] };
}

export interface AgentRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ScenarioRun {
  seed: number;
  lab: Lab;
  services: Started;
  benign: Started[];
  malicious: Started | null;
  learn: AgentRun;
  hunt: AgentRun;
  findings: FindingDoc[];
  /** Output of the probe command, when one was asked for. */
  probe: string | null;
  /** Lines of hunt stdout that were not JSON (should be none). */
  junk: string[];
  dbPath: string;
  timings: { setupMs: number; learnMs: number; huntMs: number; totalMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runScenario(lab: Lab, opts: ScenarioOptions): Promise<ScenarioRun> {
  const t0 = Date.now();
  const seed = String(opts.seed);
  lab.setUp();
  const services = await lab.start('net', 'services', 'services.mjs', [
    '--seed', seed,
    '--c2-port', String(opts.c2Port ?? 8443),
    '--c2-close', opts.c2Close ?? 'client',
  ]);
  const benign = [
    await lab.start('ep', 'poller', 'poller.mjs', ['--seed', seed]),
    await lab.start('ep', 'resolver-client', 'resolver-client.mjs', ['--seed', seed]),
    await lab.start('ep', 'ssh-client', 'ssh-client.mjs', ['--seed', seed]),
  ];
  const config = join(lab.dir, 'sockhunt.yaml');
  writeFileSync(config, '# scenario agent settings: only this namespace\nnetns: self\n');
  const dbPath = join(lab.dir, 'agent.db');
  const common = ['--db', dbPath, '--config', config];
  const setupMs = Date.now() - t0;

  const learn = await lab.exec([process.execPath, CLI, 'learn', '--for', opts.learnFor ?? '15s', ...common], 60_000);
  if (learn.code !== 0) throw new Error(`sockhunt learn exited ${learn.code ?? learn.signal}: ${learn.stderr}`);

  const findings: FindingDoc[] = [];
  const junk: string[] = [];
  let malicious: Started | null = null;
  const huntDone = lab.exec(
    [process.execPath, CLI, 'hunt', '--for', opts.huntFor ?? '40s', '--format', 'ndjson', ...common],
    75_000,
    (line) => {
      if (!line.trim()) return;
      try {
        findings.push(JSON.parse(line) as FindingDoc);
      } catch {
        junk.push(line);
      }
    },
  );
  if (opts.malicious) {
    await sleep(opts.seedDelayMs ?? 1500);
    const m = opts.malicious;
    malicious = await lab.start('ep', m.name, m.program, ['--seed', seed, ...m.args]);
  }
  let probe: string | null = null;
  if (opts.probe) {
    await sleep(Math.max(0, opts.probe.afterMs - (opts.malicious ? (opts.seedDelayMs ?? 1500) : 0)));
    const p = await lab.exec(opts.probe.command, 10_000);
    probe = p.stdout + p.stderr;
  }
  const hunt = await huntDone;
  if (malicious) await lab.stop(malicious);
  if (hunt.code !== 0) throw new Error(`sockhunt hunt exited ${hunt.code ?? hunt.signal}: ${hunt.stderr}`);
  return {
    seed: opts.seed,
    lab,
    services,
    benign,
    malicious,
    learn,
    hunt,
    findings,
    probe,
    junk,
    dbPath,
    timings: { setupMs, learnMs: learn.ms, huntMs: hunt.ms, totalMs: Date.now() - t0 },
  };
}
