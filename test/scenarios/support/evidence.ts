// Reading a scenario's outcome: findings in one line each, which findings name a benign process, and what the agent
// itself recorded (its database's connection history and baseline) — so a failing assertion says why.
import Database from 'better-sqlite3';
import type { FindingDoc } from '../../../core/finding.js';
import type { Started } from './lab.js';
import type { ScenarioRun } from './scenario.js';

export const RISK_ORDER = ['Low', 'Medium', 'High', 'Critical'] as const;
export const CONFIDENCE_ORDER = ['Low', 'Medium', 'High'] as const;

export function riskAtLeast(risk: string, min: (typeof RISK_ORDER)[number]): boolean {
  return RISK_ORDER.indexOf(risk as (typeof RISK_ORDER)[number]) >= RISK_ORDER.indexOf(min);
}

/** The lab's temp dir in paths makes lines long and says nothing. */
function shorten(text: string | null | undefined): string {
  return (text ?? 'null').replace(/\/tmp\/sockhunt-scenario-[^/]+\//g, '…/');
}

export function oneLine(f: FindingDoc): string {
  const summary = f.hunt.evidence.map((e) => e['summary']).find((s) => typeof s === 'string') as string | undefined;
  return (
    `${f.hunt.detector} ${f.threat.technique.map((t) => t.id).join('+')} risk=${f.hunt.risk} confidence=${f.hunt.confidence} ` +
    `pid=${f.process.pid} dest=${f.destination.ip}:${f.destination.port}/${f.network.transport} ` +
    `cmd=${shorten(f.process.command_line)} — ${shorten(summary ?? '')}`
  );
}

export function listFindings(findings: readonly FindingDoc[]): string {
  return findings.length === 0 ? '(no findings)' : findings.map((f, i) => `  [${i}] ${oneLine(f)}`).join('\n');
}

/** The process key the product gives a node script: executable and script path. */
function keyOf(p: Started): string {
  return `${process.execPath} ${p.script}`;
}

/** Findings that name one of the benign processes, by pid, command line, executable+script or evidence key. */
export function namingBenign(findings: readonly FindingDoc[], benign: readonly Started[]): Array<{ finding: FindingDoc; process: string }> {
  const out: Array<{ finding: FindingDoc; process: string }> = [];
  for (const f of findings) {
    const keys = f.hunt.evidence.map((e) => (e['process'] as { key?: unknown } | undefined)?.key).filter((k): k is string => typeof k === 'string');
    const hit = benign.find(
      (b) =>
        f.process.pid === b.pid ||
        (f.process.command_line ?? '').includes(b.script) ||
        keys.some((k) => k === keyOf(b) || k.includes(b.script)),
    );
    if (hit) out.push({ finding: f, process: `${hit.name} (pid ${hit.pid})` });
  }
  return out;
}

export interface HistoryRow {
  process_key: string | null;
  ip: string;
  port: number;
  transport: string;
  pid: number | null;
  attribution: 'socket' | 'inferred' | 'none';
  started_at: number;
}

/** The agent's own record of connection starts (its database), oldest first. */
export function history(run: ScenarioRun, filter: { ip?: string; port?: number } = {}): HistoryRow[] {
  const db = new Database(run.dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT process_key, ip, port, transport, pid, attribution, started_at FROM connection_history ORDER BY started_at, id')
      .all() as HistoryRow[];
    return rows.filter((r) => (filter.ip === undefined || r.ip === filter.ip) && (filter.port === undefined || r.port === filter.port));
  } finally {
    db.close();
  }
}

/** Process keys the baseline learned, with their connection counts. */
export function baselineProcesses(run: ScenarioRun): Array<{ process_key: string; connections: number }> {
  const db = new Database(run.dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT process_key, connections FROM baseline_process ORDER BY process_key').all() as Array<{
      process_key: string;
      connections: number;
    }>;
  } finally {
    db.close();
  }
}

/** The history of one destination as a compact timeline: seconds since the first start, attribution, pid. */
export function timeline(rows: readonly HistoryRow[]): string {
  const t0 = rows[0]?.started_at ?? 0;
  return rows.map((r) => `+${((r.started_at - t0) / 1000).toFixed(1)}s ${r.attribution}${r.pid === null ? '' : `:${r.pid}`}`).join(', ');
}

/** Everything a reader needs when a scenario assertion fails. */
export function report(run: ScenarioRun, extra: string[] = []): string {
  const learned = baselineProcesses(run)
    .map((p) => `${shorten(p.process_key)} (${p.connections} connections)`)
    .join('; ');
  return [
    `seed ${run.seed}; benign pids ${run.benign.map((b) => `${b.name}=${b.pid}`).join(', ')}` +
      (run.malicious ? `; malicious ${run.malicious.name}=${run.malicious.pid} ${JSON.stringify(run.malicious.ready)}` : ''),
    `findings:\n${listFindings(run.findings)}`,
    `baseline processes: ${learned}`,
    ...extra,
    `hunt stderr: ${run.hunt.stderr.trim()}`,
  ].join('\n');
}

/**
 * What the beacon detector sees for one destination, replayed from the agent's history with the product's own
 * analysis and default parameters: per process key, and as if every start had been attributed to one process.
 */
export async function beaconDiagnosis(run: ScenarioRun, ip: string, port: number, truth: number[] = []): Promise<string> {
  const { analyseStarts, beacon } = await import('../../../agent/detect/beacon.js');
  const { resolveParams } = await import('../../../agent/detect/index.js');
  const params = resolveParams(beacon, {});
  const rows = history(run, { ip, port });
  const byKey = new Map<string, number[]>();
  for (const r of rows) {
    const k = shorten(r.process_key ?? 'unattributed');
    byKey.set(k, [...(byKey.get(k) ?? []), r.started_at]);
  }
  const lines = [...byKey, ['all starts together (perfect attribution)', rows.map((r) => r.started_at)] as [string, number[]]].map(([k, starts]) => {
    const a = analyseStarts(starts, params, 1000);
    const intervals = starts.slice(1).map((t, i) => t - starts[i]!);
    return (
      `  ${k}: ${starts.length} starts, intervals ${intervals.join(',')} ms → ` +
      (a
        ? `cv ${a.cv.toFixed(3)}, random-look-alike chance ${a.randomChance.toExponential(1)} (gate ${params.maxRandomChance}), score ${a.score.toFixed(2)}`
        : 'not judged (too few starts or too fast)')
    );
  });
  if (truth.length > 0) {
    // The same analysis on the implant's own check-in times at 10 ms resolution (what a TIME_WAIT timer or a
    // finer clock would give the agent) shows how much the 1 s sampling grid costs.
    const a = analyseStarts(truth, params, 10);
    lines.push(
      `  true check-in times (10 ms resolution): ${truth.length} starts → ` +
        (a ? `cv ${a.cv.toFixed(3)}, random-look-alike chance ${a.randomChance.toExponential(1)}, score ${a.score.toFixed(2)}` : 'not judged'),
    );
  }
  return `beacon view of ${ip}:${port} (timeline ${timeline(rows)}):\n${lines.join('\n')}`;
}
