// The one documented way every detector turns its observations into risk, confidence and a draft
// (docs/detectors.md, "Scoring"). Detectors compute a 0–1 score from their own features; everything after that is here.
import type { Connection } from '../../collectors/types.js';
import type {
  BaselineView,
  Confidence,
  ConnectionEvent,
  DetectContext,
  DetectorSpec,
  Evidence,
  FindingDraft,
  ProcessKey,
  Risk,
  Technique,
} from './types.js';

/** Score → risk bands, the same for every detector. */
export const RISK_BANDS: ReadonlyArray<{ min: number; risk: Risk }> = [
  { min: 0.85, risk: 'Critical' },
  { min: 0.65, risk: 'High' },
  { min: 0.4, risk: 'Medium' },
  { min: 0, risk: 'Low' },
];

export function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

export function riskFromScore(score: number): Risk {
  const s = clamp01(score);
  return RISK_BANDS.find((b) => s >= b.min)?.risk ?? 'Low';
}

/** How much the baseline can be trusted: empty (nothing learned), thin (fewer than 5 processes), mature. */
export type BaselineState = 'empty' | 'thin' | 'mature';
export const MATURE_BASELINE_PROCESSES = 5;

export function baselineState(baseline: BaselineView): BaselineState {
  const n = baseline.processCount();
  if (n === 0) return 'empty';
  return n < MATURE_BASELINE_PROCESSES ? 'thin' : 'mature';
}

export type Attribution = ConnectionEvent['attribution'];

/** Share of evidence attributed through the socket's own fd link; 'inferred' counts half, 'none' nothing. */
export function attributionShare(list: readonly Attribution[]): number {
  if (list.length === 0) return 0;
  const pts = list.reduce((sum, a) => sum + (a === 'socket' ? 1 : a === 'inferred' ? 0.5 : 0), 0);
  return pts / list.length;
}

/** A row read from the socket table carries its owner from the fd link, or no owner at all. */
export function rowAttribution(row: Connection): Attribution {
  return row.process.pid === null ? 'none' : 'socket';
}

export interface ConfidenceInput {
  /** 0–1, see attributionShare. */
  attribution: number;
  /** 0–1: evidence gathered relative to what the detector calls conclusive (sample count, duration, …). */
  evidence: number;
  baseline: BaselineState;
  /** Upper bound, for detectors whose finding means little without a baseline (first-seen). */
  cap?: Confidence;
}

const CONFIDENCE_ORDER: readonly Confidence[] = ['Low', 'Medium', 'High'];

/** Two points each for attribution, evidence and baseline; 5–6 with full attribution → High, 3+ → Medium, else Low. */
export function confidenceFrom(input: ConfidenceInput): Confidence {
  const a = input.attribution >= 0.9 ? 2 : input.attribution >= 0.5 ? 1 : 0;
  const e = input.evidence >= 1 ? 2 : input.evidence >= 0.5 ? 1 : 0;
  const b = input.baseline === 'mature' ? 2 : input.baseline === 'thin' ? 1 : 0;
  const pts = a + e + b;
  // High also needs the owner read from the socket itself: an inferred owner may be the wrong process
  const c: Confidence = pts >= 5 && a === 2 ? 'High' : pts >= 3 ? 'Medium' : 'Low';
  if (input.cap && CONFIDENCE_ORDER.indexOf(c) > CONFIDENCE_ORDER.indexOf(input.cap)) return input.cap;
  return c;
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

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

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

/** Egress sockets with a real peer: what "a process connects to a destination" means for the detectors. */
export function isOutbound(row: Connection): boolean {
  if (row.network.direction !== undefined) return row.network.direction === 'egress';
  // UDP sockets carry no direction; a connected one with a peer is outbound
  return row.network.transport === 'udp' && row.socket.state === 'ESTABLISHED' && row.destination.port !== 0;
}

/** Age of a socket: the loop's inode tracking when present, else one recorded start for a still-open pair. */
export function socketAge(ctx: DetectContext, row: Connection, key: ProcessKey | null): number | null {
  const fromLoop = ctx.ageOf?.(row);
  if (fromLoop !== undefined && fromLoop !== null) return fromLoop;
  if (key === null) return null;
  const starts = ctx.history.starts(key, row.destination.ip, row.destination.port, row.network.transport);
  return starts.length === 1 ? ctx.now - starts[0]! : null;
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

/** Starts in (from, to] of an oldest-first list, counted from the newest end. */
export function countInWindow(starts: readonly number[], from: number, to = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (let i = starts.length - 1; i >= 0 && starts[i]! > from; i--) if (starts[i]! <= to) n++;
  return n;
}
