// The one documented way every detector turns its observations into risk, confidence and a draft
// (docs/detectors.md, "Scoring"). Detectors compute a 0–1 score from their own features; everything after that is here.
import type { Connection } from '../../collectors/types.js';
import type { Transport } from '../../collectors/types.js';
import {
  UNATTRIBUTED,
  type BaselineView,
  type Confidence,
  type ConnectionEvent,
  type DetectContext,
  type DetectorSpec,
  type Evidence,
  type FindingDraft,
  type HistoryPair,
  type HistoryView,
  type ProcessKey,
  type Risk,
  type Technique,
} from './types.js';
import { isLoopback, isNonUnicast } from './net.js';

export { RISK_BANDS, clamp01, riskFromScore, round3 } from '../../core/risk.js';
import { clamp01, riskFromScore, round3 } from '../../core/risk.js';

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

// ---- Per-pair caches -------------------------------------------------------------------------------------------
// Detectors run every sample over every (process, destination) pair of the window. Most of what they ask about a
// pair does not change from one sample to the next; a view that versions its pairs and its baseline
// (HistoryPair.version, BaselineView.version) lets them remember the answers. Views without versions (test fakes)
// get every answer computed afresh, so results never depend on the caching.

/** The pair's start times, without a lookup when the view hands them out with the pair. */
export function pairStarts(ctx: DetectContext, p: HistoryPair): readonly number[] {
  return p.starts ?? ctx.history.starts(p.processKey, p.ip, p.port, p.transport);
}

/** The baseline's version, or null when it has none (then nothing is cached). */
function baselineVersion(baseline: BaselineView): number | null {
  const v = baseline.version?.();
  return v !== undefined && Number.isFinite(v) ? v : null;
}

export const PAIR_LOOPBACK = 1;
export const PAIR_NON_UNICAST = 2;
/** A known endpoint of the process (baseline.hasEndpoint). */
export const PAIR_KNOWN = 4;
/** Covered by an allow pattern (baseline.isAllowed). */
export const PAIR_ALLOWED = 8;

const factsCache = new WeakMap<HistoryPair, { baseline: BaselineView; version: number; bits: number }>();

/**
 * What detectors skip pairs for, as PAIR_* bits: loopback, non-unicast, known endpoint, allowed. Cached per pair
 * object while the baseline's version stays the same.
 */
export function pairFacts(ctx: DetectContext, p: HistoryPair): number {
  const version = p.version === undefined ? null : baselineVersion(ctx.baseline);
  if (version !== null) {
    const hit = factsCache.get(p);
    if (hit && hit.baseline === ctx.baseline && hit.version === version) return hit.bits;
  }
  const bits =
    (isLoopback(p.ip) ? PAIR_LOOPBACK : 0) |
    (isNonUnicast(p.ip) ? PAIR_NON_UNICAST : 0) |
    (ctx.baseline.hasEndpoint(p.processKey, p.ip, p.port, p.transport) ? PAIR_KNOWN : 0) |
    (ctx.baseline.isAllowed(p.processKey, p.ip, p.port, p.transport) ? PAIR_ALLOWED : 0);
  if (version !== null) {
    const hit = factsCache.get(p);
    if (hit) {
      hit.baseline = ctx.baseline;
      hit.version = version;
      hit.bits = bits;
    } else factsCache.set(p, { baseline: ctx.baseline, version, bits });
  }
  return bits;
}

interface DestinationEntry {
  /** Some process other than UNATTRIBUTED has starts to this destination. */
  owned: boolean;
  /** The UNATTRIBUTED pair of this destination. */
  unattributed: HistoryPair | null;
}

/** Pairs by destination: who owns it and its unattributed pair. Built once per pairs() array. */
export class DestinationIndex {
  private readonly byIp = new Map<string, Map<number, DestinationEntry>>();
  private readonly anyUnattributed: boolean;

  constructor(pairs: readonly HistoryPair[]) {
    let any = false;
    for (const p of pairs) {
      const e = this.entry(p.ip, p.port, p.transport, true)!;
      if (p.processKey === UNATTRIBUTED) {
        e.unattributed = p;
        any = true;
      } else e.owned = true;
    }
    this.anyUnattributed = any;
  }

  private entry(ip: string, port: number, transport: Transport, create: boolean): DestinationEntry | undefined {
    let byPort = this.byIp.get(ip);
    if (!byPort) {
      if (!create) return undefined;
      this.byIp.set(ip, (byPort = new Map()));
    }
    const code = port * 2 + (transport === 'udp' ? 1 : 0);
    let e = byPort.get(code);
    if (!e && create) byPort.set(code, (e = { owned: false, unattributed: null }));
    return e;
  }

  owned(ip: string, port: number, transport: Transport): boolean {
    return this.entry(ip, port, transport, false)?.owned ?? false;
  }

  unattributed(ip: string, port: number, transport: Transport): HistoryPair | null {
    if (!this.anyUnattributed) return null;
    return this.entry(ip, port, transport, false)?.unattributed ?? null;
  }
}

const indexCache = new WeakMap<readonly HistoryPair[], DestinationIndex>();

/** The destination index of a pairs() array (reused while the view hands out the same array). */
export function destinationIndex(pairs: readonly HistoryPair[]): DestinationIndex {
  let index = indexCache.get(pairs);
  if (!index) indexCache.set(pairs, (index = new DestinationIndex(pairs)));
  return index;
}

/**
 * The pairs in which a detector found nothing, remembered with what they were judged on: the pair's version, the
 * version of a companion pair whose starts were merged in, the baseline's version and the detector's parameters
 * (and any extra inputs, compared by identity). A pair unchanged since it was found quiet is skipped; a pair that
 * yields a draft is never remembered, so it is judged (and its finding refreshed) every sample.
 */
export class QuietPairs {
  private static readonly byView = new WeakMap<HistoryView, Map<string, QuietPairs>>();
  private quiet = new WeakMap<HistoryPair, { version: number; companion: number }>();
  private constructor(
    private baseline: BaselineView,
    private baselineVersion: number,
    private inputs: readonly unknown[],
  ) {}

  /** The memory of detector `id` for this context, or null when the views give no versions. */
  static for(id: string, ctx: DetectContext, inputs: readonly unknown[]): QuietPairs | null {
    const version = baselineVersion(ctx.baseline);
    if (version === null) return null;
    let byId = QuietPairs.byView.get(ctx.history);
    if (!byId) QuietPairs.byView.set(ctx.history, (byId = new Map()));
    let memo = byId.get(id);
    if (!memo) byId.set(id, (memo = new QuietPairs(ctx.baseline, version, inputs)));
    else if (memo.baseline !== ctx.baseline || memo.baselineVersion !== version || !sameInputs(memo.inputs, inputs)) {
      memo.quiet = new WeakMap();
      memo.baseline = ctx.baseline;
      memo.baselineVersion = version;
      memo.inputs = inputs;
    }
    return memo;
  }

  has(p: HistoryPair, companion: HistoryPair | null = null): boolean {
    if (p.version === undefined) return false;
    const hit = this.quiet.get(p);
    return hit !== undefined && hit.version === p.version && hit.companion === (companion?.version ?? -1);
  }

  add(p: HistoryPair, companion: HistoryPair | null = null): void {
    if (p.version === undefined || (companion !== null && companion.version === undefined)) return;
    const hit = this.quiet.get(p);
    const c = companion?.version ?? -1;
    if (hit) {
      hit.version = p.version;
      hit.companion = c;
    } else this.quiet.set(p, { version: p.version, companion: c });
  }

  delete(p: HistoryPair): void {
    this.quiet.delete(p);
  }
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
