// Applies fleet policy given as data (PrevalenceRule, decided by server/fleet.ts): which modifier a destination's
// host count gives, and the score a finding then has. The store persists what this says; it decides nothing.
import { clamp01, riskFromScore, round3, type Risk } from '../../core/risk.js';
import type { PrevalenceRule } from './contract.js';

export function modifierFor(rules: readonly PrevalenceRule[], hosts: number, fleetSize: number): number {
  const size = Math.max(fleetSize, hosts, 1);
  const share = Math.max(hosts, 1) / size;
  for (const r of rules) {
    if (r.share === 'atMost' ? share <= r.at : share >= r.at) return size >= r.minFleet ? r.modifier : 0;
  }
  return 0;
}

/** The finding's score and risk after the modifier (SQL twin: ADJUSTED in store/server/sqlite.ts). */
export function withModifier(endpointScore: number, endpointRisk: Risk, modifier: number): { score: number; risk: Risk } {
  if (modifier === 0) return { score: endpointScore, risk: endpointRisk };
  const score = round3(clamp01(endpointScore + modifier));
  return { score, risk: riskFromScore(score) };
}
