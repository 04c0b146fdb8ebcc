// Benchmark (not a test): the beacon detector's detection and false-alarm rates on seeded synthetic series, by stage.
//   npm run bench:beacon            (BEACON_SEEDS=5000 by default)
// Series come from test/agent/detect/traffic.ts (start times quantised to the 1 s sampling grid). True beacons are judged on
// their full series; near misses after every start, as the loop judges them. Prints the table in docs/detectors.md.
import { beacon } from '../../agent/detect/beacon.js';
import { resolveParams } from '../../agent/detect/index.js';
import { FakeHistory, context } from '../support/detect.js';
import { prng } from '../support/prng.js';
import * as traffic from '../agent/detect/traffic.js';

const SEEDS = Number(process.env['BEACON_SEEDS'] ?? 5000);
const P = resolveParams(beacon);
type Rand = () => number;
const uniform = (r: Rand, lo: number, hi: number) => lo + r() * (hi - lo);

function stage(ts: number[], upTo: number): 'early' | 'confirmed' | null {
  const [d] = beacon.detect(context({ now: upTo, history: new FakeHistory([{ key: '/tmp/.x/updater', ip: '198.51.100.7', port: 443, ts }], upTo) }), P);
  if (!d) return null;
  return (d.evidence[1]!['timings'] as Record<string, unknown>)['stage'] as 'early' | 'confirmed';
}
const pct = (n: number) => `${((100 * n) / SEEDS).toFixed(1)} %`;

console.log(`beacon detector, ${SEEDS} seeds per row, gates: confirmed ≤ ${P.maxRandomChance}, early ≤ ${P.earlyRandomChance} up to ${P.earlyMaxStarts} check-ins\n`);
console.log('| true beacon | starts | detected (any stage) | confirmed |\n| --- | --- | --- | --- |');
const beacons: Array<[string, (r: Rand, n: number) => number[], number[]]> = [
  ['steady ±2 %, 5–60 s', (r, n) => traffic.jitteredBeacon(r, uniform(r, 5_000, 60_000), 0.02, n), [4, 5, 6]],
  ['±20 % uniform jitter, 5–60 s', (r, n) => traffic.jitteredBeacon(r, uniform(r, 5_000, 60_000), 0.2, n), [5, 6, 7, 8, 10]],
  ['±20 % uniform jitter, 30–300 s', (r, n) => traffic.jitteredBeacon(r, uniform(r, 30_000, 300_000), 0.2, n), [6, 8]],
  ['Cobalt Strike 30 %, 5–60 s', (r, n) => traffic.cobaltBeacon(r, uniform(r, 5_000, 60_000), 0.3, n), [6, 8, 10]],
  ['±50 % uniform jitter, 5–60 s', (r, n) => traffic.jitteredBeacon(r, uniform(r, 5_000, 60_000), 0.5, n), [8, 15, 20]],
];
for (const [label, gen, counts] of beacons) {
  for (const n of counts) {
    let any = 0;
    let confirmed = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const ts = gen(prng(seed * 7919 + n), n);
      const s = stage(ts, ts[ts.length - 1]! + 500);
      if (s) any++;
      if (s === 'confirmed') confirmed++;
    }
    console.log(`| ${label} | ${n} | ${pct(any)} | ${pct(confirmed)} |`);
  }
}

console.log('\n| near miss (judged after every start) | early (Low confidence) | confirmed |\n| --- | --- | --- |');
const nulls: Array<[string, (r: Rand) => number[]]> = [
  ['Poisson, mean 2–60 s, 40 starts', (r) => traffic.poisson(r, uniform(r, 2_000, 60_000), 40)],
  ['Poisson, mean 1–10 min, 40 starts', (r) => traffic.poisson(r, uniform(r, 60_000, 600_000), 40)],
  ['bursty, 40 starts', (r) => traffic.bursty(r, 40)],
  ['human browsing, 40 starts', (r) => traffic.humanBrowsing(r, 40)],
  ['4 random connections in 10 min', (r) => traffic.fewRandom(r, 4)],
  ['6 random connections in 10 min', (r) => traffic.fewRandom(r, 6)],
  ['8 random connections in 10 min', (r) => traffic.fewRandom(r, 8)],
];
for (const [label, gen] of nulls) {
  let early = 0;
  let confirmed = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const ts = gen(prng(seed * 7919 + 1));
    let worst: 'early' | 'confirmed' | null = null;
    for (let i = 3; i < ts.length && worst !== 'confirmed'; i++) worst = stage(ts.slice(0, i + 1), ts[i]! + 500) ?? worst;
    if (worst === 'early') early++;
    if (worst === 'confirmed') confirmed++;
  }
  console.log(`| ${label} | ${pct(early)} | ${confirmed} / ${SEEDS} |`);
}
