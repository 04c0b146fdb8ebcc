// Fleet prevalence (RITA's prevalence modifier): the share of enrolled hosts that talk to a destination.
// A destination that few hosts talk to is more suspicious than one half the fleet uses. The endpoint's score
// is moved by the modifier and the risk re-banded with the bands every detector uses (core/risk.ts).
import { clamp01, riskFromScore, round3 } from '../core/risk.js';
import type { Risk } from '../core/risk.js';
import type { FindingRecord, PrevalenceRule } from '../store/server/contract.js';

export interface FleetParams {
  /** Prevalence at or below which the score is raised (RITA: prevalence_increase_threshold). */
  rareAtMost: number;
  rareIncrease: number;
  /** Prevalence at or above which the score is lowered (RITA: prevalence_decrease_threshold). */
  commonAtLeast: number;
  commonDecrease: number;
  /** Fewer enrolled hosts than this and prevalence lowers nothing: one host is "100 %" of a fleet of one. */
  minHostsToLower: number;
}

export const DEFAULT_FLEET_PARAMS: FleetParams = {
  rareAtMost: 0.02,
  rareIncrease: 0.15,
  commonAtLeast: 0.5,
  commonDecrease: 0.15,
  minHostsToLower: 5,
};

/** The `hunt.fleet` object of a finding. */
export interface FleetAssessment {
  /** Hosts that talk to the destination. */
  hosts: number;
  prevalence: number;
  modifier: number;
  reason: string;
}

function pct(x: number): string {
  const p = x * 100;
  return `${p >= 10 || Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** How the fleet moves the score of a finding whose destination `hosts` of `fleetSize` hosts talk to. */
export function assessPrevalence(hosts: number, fleetSize: number, params: FleetParams = DEFAULT_FLEET_PARAMS): FleetAssessment {
  const size = Math.max(fleetSize, hosts, 1);
  const n = Math.max(hosts, 1);
  const prevalence = round3(n / size);
  const seen = `seen from ${n} of ${size} host${size === 1 ? '' : 's'} (${pct(n / size)})`;
  if (n / size <= params.rareAtMost) {
    return { hosts: n, prevalence, modifier: params.rareIncrease, reason: `${seen}: rare in the fleet (≤ ${pct(params.rareAtMost)}), score +${params.rareIncrease}` };
  }
  if (n / size >= params.commonAtLeast) {
    if (size < params.minHostsToLower) {
      return {
        hosts: n,
        prevalence,
        modifier: 0,
        reason: `${seen}: prevalence needs ≥ ${params.minHostsToLower} hosts before it lowers anything, score unchanged`,
      };
    }
    return { hosts: n, prevalence, modifier: -params.commonDecrease, reason: `${seen}: common in the fleet (≥ ${pct(params.commonAtLeast)}), score −${params.commonDecrease}` };
  }
  const rareFleet = Math.ceil(1 / params.rareAtMost);
  const note = size < rareFleet ? `; a destination counts as rare (≤ ${pct(params.rareAtMost)}) only in fleets of ≥ ${rareFleet} hosts` : '';
  return { hosts: n, prevalence, modifier: 0, reason: `${seen}: neither rare nor common, score unchanged${note}` };
}

export interface Rescored {
  score: number;
  risk: Risk;
}

/** The finding's score and risk after the fleet modifier; an unmodified finding keeps the agent's risk. */
export function rescore(endpointScore: number, endpointRisk: Risk, fleet: FleetAssessment): Rescored {
  if (fleet.modifier === 0) return { score: endpointScore, risk: endpointRisk };
  const score = round3(clamp01(endpointScore + fleet.modifier));
  return { score, risk: riskFromScore(score) };
}

/**
 * The `hunt.fleet` a stored finding shows: today's host count and fleet size, and the modifier its score was
 * computed with (they differ only until the background re-scoring reaches the finding).
 */
export function fleetView(hosts: number, fleetSize: number, appliedModifier: number, params: FleetParams = DEFAULT_FLEET_PARAMS): FleetAssessment {
  const live = assessPrevalence(hosts, fleetSize, params);
  if (live.modifier === appliedModifier) return live;
  return { ...live, modifier: appliedModifier, reason: `${live.reason} (re-scoring pending)` };
}

/**
 * The policy as the store applies it (store/server/prevalence.ts): the same modifiers as assessPrevalence, as data,
 * so that the store persists scores without knowing the policy and its thread can take them.
 */
export function prevalenceRules(params: FleetParams = DEFAULT_FLEET_PARAMS): PrevalenceRule[] {
  return [
    { share: 'atMost', at: params.rareAtMost, minFleet: 0, modifier: params.rareIncrease },
    { share: 'atLeast', at: params.commonAtLeast, minFleet: params.minHostsToLower, modifier: -params.commonDecrease },
  ];
}

/** The `hunt.fleet` of a stored finding, from the counts the store keeps. */
export function findingFleet(f: Pick<FindingRecord, 'prevalence'>, params: FleetParams = DEFAULT_FLEET_PARAMS): FleetAssessment {
  return fleetView(f.prevalence.hosts, f.prevalence.fleetSize, f.prevalence.modifier, params);
}
