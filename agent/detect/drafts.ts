// Drafts: the FindingDraft every detector returns (rule, risk from the score, confidence), the process evidence and
// the rows that represent a finding when no socket does, and the formatting of the finding text.
import type { Connection } from '../../collectors/types.js';
import { clamp01, riskFromScore, round3 } from '../../core/risk.js';
import type { DetectContext, DetectorSpec, Evidence, FindingDraft, ProcessKey, Technique } from './types.js';
import { confidenceFrom, type ConfidenceInput } from './scoring.js';

export interface DraftInput {
  technique?: Technique[];
  processKey: ProcessKey | null;
  row: Connection;
  destination?: FindingDraft['destination'];
  score: number;
  confidence: ConfidenceInput;
  recommendedAction: string;
  /** evidence[0] carries `summary`, the one line the text report prints. */
  evidence: Evidence[];
  /** Extra references (e.g. the Sigma rule a shipped list comes from). */
  references?: string[];
  dedupeGroup?: string;
}

export function makeDraft<P>(spec: DetectorSpec<P>, input: DraftInput): FindingDraft {
  const score = round3(clamp01(input.score));
  const draft: FindingDraft = {
    detector: spec.id,
    technique: input.technique ?? spec.technique,
    rule: {
      id: spec.id,
      name: spec.name,
      author: 'sockhunt',
      reference: [...new Set([...spec.references, ...(input.references ?? [])])],
      ruleset: 'sockhunt',
    },
    processKey: input.processKey,
    row: input.row,
    destination: input.destination ?? { ip: input.row.destination.ip, port: input.row.destination.port },
    risk: riskFromScore(score),
    confidence: confidenceFrom(input.confidence),
    score,
    recommendedAction: input.recommendedAction,
    evidence: input.evidence,
  };
  if (input.dedupeGroup !== undefined) draft.dedupeGroup = input.dedupeGroup;
  return draft;
}

export function processEvidence(row: Connection, key: ProcessKey | null): Evidence {
  return {
    pid: row.process.pid,
    name: row.process.name,
    executable: row.process.executable,
    command_line: row.process.command_line,
    user: row.user.name ?? row.user.id,
    key,
  };
}

/**
 * The row that best represents a (process, destination) pair: a live socket, a connection that just started,
 * the store's last row for the pair, another socket of the same process, or — when the process has no socket left —
 * a row built from the process key alone.
 */
export function representativeRow(
  ctx: DetectContext,
  key: ProcessKey,
  ip: string,
  port: number,
  transport: Connection['network']['transport'],
): Connection {
  const same = (r: Connection) =>
    r.destination.ip === ip && r.destination.port === port && r.network.transport === transport;
  const live = ctx.rows.find((r) => same(r) && ctx.keyOf(r) === key);
  if (live) return live;
  const started = ctx.started.find((e) => e.processKey === key && same(e.row));
  if (started) return started.row;
  const stored = ctx.history.lastRow?.(key, ip, port, transport);
  if (stored) return stored;
  const sibling = ctx.rows.find((r) => ctx.keyOf(r) === key) ?? ctx.started.find((e) => e.processKey === key)?.row;
  const base = sibling ?? hostRow(ctx, key);
  return {
    ...base,
    destination: { ip, port },
    network: { ...base.network, transport, type: ip.includes(':') ? 'ipv6' : 'ipv4', direction: 'egress' },
  };
}

/** A row for a finding that no socket represents (host counters, or a process known only by its key). */
export function hostRow(ctx: DetectContext, key: ProcessKey | null = null): Connection {
  const exe = key && key.startsWith('/') ? key.split(/\s|\|/)[0] ?? null : null;
  return {
    '@timestamp': isoTime(ctx.now),
    host: { name: ctx.host.hostName },
    process: {
      pid: null,
      name: exe ? exe.split('/').pop() ?? null : key,
      executable: exe,
      command_line: null,
      parent: { pid: null, name: null },
    },
    user: { name: null, id: null },
    source: { ip: '0.0.0.0', port: 0 },
    destination: { ip: '0.0.0.0', port: 0 },
    network: { transport: 'tcp', type: 'ipv4' },
    socket: { state: 'UNKNOWN', inode: 0, family: 'inet', owner_pids: [] },
  };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A span in the detectors' finding text: whole seconds under 120 s, whole minutes under 2 h, then hours to one
 * decimal ("45s", "90m", "2.5h"). Not core/duration.ts's formatDuration (CLI and log lines: milliseconds under 1 s,
 * then one unit with up to one decimal at every scale, "1.5s", "1.5m", "2.5h"): finding summaries have always read
 * in whole seconds and minutes, and their text is part of the evidence the tests and users compare.
 */
export function formatSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
