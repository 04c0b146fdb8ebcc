// Risk and confidence: the names every finding carries, the score bands that map a 0–1 score to a risk (the same
// for every detector and for the server's fleet re-scoring), and how the command line reads a risk name.
import { SockhuntError } from './errors.js';

export type Risk = 'Critical' | 'High' | 'Medium' | 'Low';
export type Confidence = 'High' | 'Medium' | 'Low';
/** Lowest first. */
export const RISKS: readonly Risk[] = ['Low', 'Medium', 'High', 'Critical'];
export const CONFIDENCES: readonly Confidence[] = ['Low', 'Medium', 'High'];

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

/** Scores travel rounded to three decimals. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function riskFromScore(score: number): Risk {
  const s = clamp01(score);
  return RISK_BANDS.find((b) => s >= b.min)?.risk ?? 'Low';
}

/** A risk name in any case (`--fail-on high`); SOCKHUNT_E_USAGE otherwise. */
export function parseRisk(text: string): Risk {
  const t = text.trim().toLowerCase();
  const risk = RISKS.find((r) => r.toLowerCase() === t);
  if (!risk) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `unknown risk level "${text}" (expected ${RISKS.join(', ')}, any case)`);
  }
  return risk;
}

export function riskAtLeast(a: Risk, b: Risk): boolean {
  return RISKS.indexOf(a) >= RISKS.indexOf(b);
}
