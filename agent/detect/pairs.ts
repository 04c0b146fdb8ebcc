// Window helpers and per-pair caches: counting starts, a socket's age, and the answers detectors remember per
// (process, destination) pair while the views' versions say nothing changed (docs/detectors.md, "Caching").
import type { Connection, Transport } from '../../collectors/types.js';
import { isLoopback } from '../../core/ip.js';
import {
  UNATTRIBUTED,
  type BaselineView,
  type DetectContext,
  type HistoryPair,
  type HistoryView,
  type ProcessKey,
} from './types.js';
import { isNonUnicast } from './net.js';

/** Starts in (from, to] of an oldest-first list, counted from the newest end. */
export function countInWindow(starts: readonly number[], from: number, to = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (let i = starts.length - 1; i >= 0 && starts[i]! > from; i--) if (starts[i]! <= to) n++;
  return n;
}

/** Age of a socket: the loop's inode tracking when present, else one recorded start for a still-open pair. */
export function socketAge(ctx: DetectContext, row: Connection, key: ProcessKey | null): number | null {
  const fromLoop = ctx.ageOf?.(row);
  if (fromLoop !== undefined && fromLoop !== null) return fromLoop;
  if (key === null) return null;
  const starts = ctx.history.starts(key, row.destination.ip, row.destination.port, row.network.transport);
  return starts.length === 1 ? ctx.now - starts[0]! : null;
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
