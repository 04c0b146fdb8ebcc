// How every detector turns its observations into confidence (docs/detectors.md, "Scoring"): the baseline's state,
// the attribution share of the evidence and the three-term confidence. Risk comes from the score alone, with the bands
// of core/risk.ts (riskFromScore).
import type { Connection } from '../../collectors/types.js';
import type { BaselineView, Confidence, ConnectionEvent } from './types.js';

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
