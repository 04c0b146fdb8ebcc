// Beaconing: a process opening connections to one destination at regular intervals (C2 check-ins).
// Regularity is scored in the spirit of RITA (timestamp Bowley skewness + MAD/median, connection count,
// persistence); the gate is the chance that Poisson (random) connections would look at least as regular. A short
// series (4–8 check-ins) passes a looser gate as an early, Low-confidence finding that is raised once the series
// reaches the strict gate. See docs/detectors.md.
import { type Detector, UNATTRIBUTED } from './types.js';
import { clamp01, round3 } from '../../core/risk.js';
import { attributionShare, baselineState, type Attribution } from './scoring.js';
import { formatSpan, isoTime, makeDraft, processEvidence, representativeRow } from './drafts.js';
import {
  destinationIndex,
  PAIR_ALLOWED,
  PAIR_KNOWN,
  PAIR_LOOPBACK,
  PAIR_NON_UNICAST,
  pairFacts,
  QuietPairs,
} from './pairs.js';
import { endpointLabel, isInternal } from './net.js';
import { bowleySkew, mad, median, poissonRegularityChance } from './stats.js';
import { processLabel } from './families.js';

export type BeaconParams = {
  minStarts: number;
  maxStarts: number;
  minIntervalMs: number;
  maxRandomChance: number;
  earlyMaxStarts: number;
  earlyRandomChance: number;
  targetStarts: number;
  persistenceMs: number;
  webPorts: number[];
};

/** Share of check-ins that must open the same number of connections. */
const MIN_ALIKE_SHARE = 0.9;
/** An early (few check-ins) finding stays below High risk and at Low confidence until the series confirms it. */
const EARLY_SCORE_CAP = 0.6;

const T1071 = { id: 'T1071', name: 'Application Layer Protocol' };
const T1095 = { id: 'T1095', name: 'Non-Application Layer Protocol' };

export interface BeaconAnalysis {
  starts: number;
  meanIntervalMs: number;
  medianIntervalMs: number;
  cv: number;
  randomChance: number;
  skew: number;
  tsScore: number;
  countScore: number;
  persistenceScore: number;
  significance: number;
  score: number;
}

interface Regularity {
  /** Distinct start times (check-ins), oldest first. */
  ts: number[];
  intervals: number[];
  mean: number;
  cv: number;
  randomChance: number;
}

/** The cheap part, run on every pair each sample: check-ins, intervals and the random-look-alike chance. */
function regularity(raw: readonly number[], params: BeaconParams, resolutionMs: number): Regularity | null {
  const recent = raw.length > params.maxStarts ? raw.slice(-params.maxStarts) : raw;
  const sorted = recent.every((t, i) => i === 0 || t >= recent[i - 1]!) ? recent : [...recent].sort((a, b) => a - b);
  // Starts seen in the same sample are one check-in (a beacon may open two sockets per callback), but check-ins
  // must look alike: random traffic at a few seconds' mean piles 1, 2 or 3 starts into a sample at random.
  const ts: number[] = [];
  const checkInsBySize = [0, 0, 0, 0, 0]; // [_, one start, two, three, four or more]
  let size = 0;
  for (let i = 0; i <= sorted.length; i++) {
    const t = sorted[i];
    if (i > 0 && t === sorted[i - 1]) {
      size++;
      continue;
    }
    if (size > 0) checkInsBySize[Math.min(size, 4)]!++;
    if (t !== undefined) ts.push(t);
    size = 1;
  }
  if (ts.length < params.minStarts) return null;
  if (Math.max(...checkInsBySize) / ts.length < MIN_ALIKE_SHARE) return null;
  const k = ts.length - 1;
  const mean = (ts[k]! - ts[0]!) / k;
  if (mean < Math.max(params.minIntervalMs, 1.5 * resolutionMs)) return null;
  const intervals = ts.slice(1).map((t, i) => t - ts[i]!);

  // Quantisation to the sampling grid adds variance q²/6 to every interval; counting it in (rather than
  // subtracting it) keeps coarse-grained random traffic from looking regular.
  const variance = intervals.reduce((s, d) => s + (d - mean) ** 2, 0) / k + (resolutionMs * resolutionMs) / 6;
  const cv = Math.sqrt(variance) / mean;
  return { ts, intervals, mean, cv, randomChance: poissonRegularityChance(k, cv) };
}

function scoreRegularity(r: Regularity, params: BeaconParams, resolutionMs: number): BeaconAnalysis {
  const { ts, intervals, mean, cv, randomChance } = r;
  const span = ts[ts.length - 1]! - ts[0]!;
  const med = median(intervals);
  const skew = bowleySkew(intervals, resolutionMs);
  const madScore = clamp01(med > 0 ? (med - mad(intervals)) / med : 0);
  const tsScore = (1 - Math.abs(skew) + madScore) / 2;
  const countScore = clamp01(ts.length / params.targetStarts);
  const persistenceScore = clamp01(span / params.persistenceMs);
  const significance = clamp01(Math.log10(1 / Math.max(randomChance, 1e-300)) / 10);
  return {
    starts: ts.length,
    meanIntervalMs: mean,
    medianIntervalMs: med,
    cv,
    randomChance,
    skew,
    tsScore,
    countScore,
    persistenceScore,
    significance,
    score: 0.4 * tsScore + 0.2 * significance + 0.2 * countScore + 0.2 * persistenceScore,
  };
}

/** Scores a series of start times; null when it is too short or too fast to judge. Exported for tests and docs. */
export function analyseStarts(raw: readonly number[], params: BeaconParams, resolutionMs: number): BeaconAnalysis | null {
  const r = regularity(raw, params, resolutionMs);
  return r ? scoreRegularity(r, params, resolutionMs) : null;
}

export const beacon: Detector<BeaconParams> = {
  spec: {
    id: 'beacon',
    name: 'Periodic connections (beaconing)',
    technique: [T1071, T1095],
    description:
      'A process connects to one destination it did not use in the baseline at regular intervals, jitter included: ' +
      'the rhythm of a command-and-control check-in.',
    references: [
      'https://attack.mitre.org/techniques/T1071/',
      'https://attack.mitre.org/techniques/T1095/',
      'https://github.com/activecm/rita',
    ],
    params: {
      minStarts: { type: 'integer', default: 4, min: 3, description: 'Fewest distinct connection start times judged.' },
      maxStarts: { type: 'integer', default: 200, min: 4, description: 'Most recent start times analysed per pair.' },
      minIntervalMs: {
        type: 'number',
        default: 1500,
        min: 0,
        description: 'Shortest mean interval judged (also at least 1.5 sampling intervals).',
      },
      maxRandomChance: {
        type: 'number',
        default: 1e-5,
        min: 0,
        max: 1,
        description: 'Report only when random (Poisson) connections would look this regular with at most this chance.',
      },
      earlyMaxStarts: {
        type: 'integer',
        default: 8,
        min: 0,
        description: 'Up to this many check-ins, a looser gate (earlyRandomChance) gives an early, Low-confidence finding; 0 turns it off.',
      },
      earlyRandomChance: {
        type: 'number',
        default: 1e-3,
        min: 0,
        max: 1,
        description: 'Random-look-alike chance accepted for an early finding (at most earlyMaxStarts check-ins).',
      },
      targetStarts: { type: 'integer', default: 20, min: 1, description: 'Start count at which the count score is full.' },
      persistenceMs: {
        type: 'number',
        default: 15 * 60_000,
        min: 1,
        description: 'Beaconing duration at which the persistence score is full.',
      },
      webPorts: {
        type: 'number[]',
        default: [80, 443, 8000, 8080, 8443, 8888],
        min: 1,
        max: 65535,
        description: 'TCP ports mapped to T1071 (application layer); anything else is T1095.',
      },
    },
  },

  detect(ctx, params) {
    const resolution = ctx.sampleIntervalMs ?? 1000;
    const state = baselineState(ctx.baseline);
    const drafts = [];
    const pairs = ctx.history.pairs();
    // Destinations that some known process talks to: their unattributed starts join that process's pair.
    const index = destinationIndex(pairs);
    // A pair found quiet is judged again only when its starts (or its unattributed companion's), the baseline or
    // the parameters change; a pair with a finding is judged every sample (QuietPairs in pairs.ts).
    const quiet = QuietPairs.for(beacon.spec.id, ctx, [params, resolution]);
    for (const pair of pairs) {
      const { processKey: key, ip, port, transport } = pair;
      if (key === UNATTRIBUTED && index.owned(ip, port, transport)) continue;
      // Cheap exclusions before the statistics: most pairs on a steady host are known endpoints.
      if (pairFacts(ctx, pair) & (PAIR_LOOPBACK | PAIR_NON_UNICAST | PAIR_KNOWN | PAIR_ALLOWED)) continue;
      const companion = key === UNATTRIBUTED ? null : index.unattributed(ip, port, transport);
      if (quiet?.has(pair, companion)) continue;
      quiet?.add(pair, companion); // until a draft is made below
      let starts = ctx.history.starts(key, ip, port, transport);
      let events = ctx.history.events?.(key, ip, port, transport);
      if (key !== UNATTRIBUTED) {
        // Traces seen before the owner was (or between its sockets) carry no process: when they go to the same
        // destination they are most likely the same rhythm; the attribution share keeps the confidence honest.
        const extra = ctx.history.starts(UNATTRIBUTED, ip, port, transport);
        if (extra.length > 0) {
          starts = [...starts, ...extra].sort((x, y) => x - y);
          const extraEvents = ctx.history.events?.(UNATTRIBUTED, ip, port, transport) ?? [];
          events = events ? [...events, ...extraEvents].sort((x, y) => x.ts - y.ts) : events;
        }
      }
      if (starts.length < params.minStarts) continue;
      const r = regularity(starts, params, resolution);
      if (!r) continue;
      // 4–6 jittered check-ins cannot reach the strict gate (docs/detectors.md): while the series is short a looser
      // gate reports it early, capped, and the same finding is raised once the series confirms the rhythm.
      const early = r.randomChance > params.maxRandomChance;
      if (early && (r.ts.length > params.earlyMaxStarts || r.randomChance > params.earlyRandomChance)) continue;
      const a = scoreRegularity(r, params, resolution);

      const internal = isInternal(ip, ctx.host.internalNetworks);
      // internal pollers (monitoring, service discovery) are the commonest benign beacons
      const rawScore = a.score * (internal ? 0.85 : 1);
      const findingScore = early ? Math.min(rawScore, EARLY_SCORE_CAP) : rawScore;
      const attribution: Attribution[] = events ? events.map((e) => e.attribution) : ['socket'];
      const row = representativeRow(ctx, key, ip, port, transport);
      const jitterPct = Math.round(a.cv * Math.sqrt(3) * 100);
      const period = formatSpan(a.meanIntervalMs);
      const dest = endpointLabel(ip, port, transport);
      const web = transport === 'tcp' && params.webPorts.includes(port);
      drafts.push(
        makeDraft(beacon.spec, {
          technique: [web ? T1071 : T1095],
          processKey: key,
          row,
          score: findingScore,
          confidence: {
            attribution: attributionShare(attribution),
            evidence: clamp01(Math.log10(1 / Math.max(a.randomChance, 1e-300)) / 8),
            baseline: state,
            ...(early ? { cap: 'Low' as const } : {}),
          },
          recommendedAction:
            `Find out why ${processLabel(row)} checks in with ${dest} every ~${period}: verify the executable ` +
            `${row.process.executable ?? '(unknown path)'} (package, signature, hash reputation) and look the destination up ` +
            `in threat intel. If it is not explained, block egress to ${ip} and isolate the host; if it is a known ` +
            `service, add an allow entry (sockhunt baseline allow).`,
          evidence: [
            {
              summary:
                `${early ? 'possible beacon (early, few check-ins): ' : ''}` +
                `${processLabel(row)} → ${dest} (${internal ? 'internal' : 'external'}): ${a.starts} connections ` +
                `every ~${period} (±${jitterPct}%) over ${formatSpan(a.meanIntervalMs * (a.starts - 1))}; ` +
                `random traffic this regular: p≈${a.randomChance.toExponential(1)}`,
              process: processEvidence(row, key),
              destination: { ip, port, transport, internal },
            },
            {
              timings: {
                first_seen: isoTime(starts[0] ?? ctx.now),
                last_seen: isoTime(starts[starts.length - 1] ?? ctx.now),
                stage: early ? 'early' : 'confirmed',
                starts: a.starts,
                mean_interval_ms: Math.round(a.meanIntervalMs),
                median_interval_ms: Math.round(a.medianIntervalMs),
                cv: round3(a.cv),
                bowley_skew: round3(a.skew),
                ts_score: round3(a.tsScore),
                count_score: round3(a.countScore),
                persistence_score: round3(a.persistenceScore),
                random_chance: a.randomChance,
                attribution_share: round3(attributionShare(attribution)),
              },
            },
          ],
        }),
      );
      quiet?.delete(pair);
    }
    return drafts;
  },
};
