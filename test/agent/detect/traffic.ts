// Seeded traffic generators for the beacon property tests: true beacons with jitter, and the near misses
// (Poisson, bursty, human browsing, a few random connections). Start times are quantised to the 1 s sampling
// grid, as the loop sees them.
import { NOW } from '../../support/rows.js';

export type Rand = () => number;

const GRID = 1000;
const quantise = (ts: number[]) => ts.map((t) => Math.ceil(t / GRID) * GRID);
const expo = (r: Rand, mean: number) => -Math.log(1 - r()) * mean;
const gauss = (r: Rand) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const start = (r: Rand) => NOW - 3_600_000 + r() * 60_000;

/** Interval = period × (1 + jitter × u), u uniform in [−1, 1] (symmetric jitter, e.g. Sliver-style). */
export function jitteredBeacon(r: Rand, period: number, jitter: number, n: number): number[] {
  let t = start(r);
  const out = [t];
  for (let i = 1; i < n; i++) out.push((t += period * (1 + jitter * (2 * r() - 1))));
  return quantise(out);
}

/** Interval = period × (1 − jitter × u), u uniform in [0, 1] (Cobalt Strike's sleep jitter). */
export function cobaltBeacon(r: Rand, period: number, jitter: number, n: number): number[] {
  let t = start(r);
  const out = [t];
  for (let i = 1; i < n; i++) out.push((t += period * (1 - jitter * r())));
  return quantise(out);
}

export function poisson(r: Rand, mean: number, n: number): number[] {
  let t = start(r);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((t += expo(r, mean)));
  return quantise(out);
}

/** Bursts of 2–8 connections (0–1.5 s apart) separated by exponential gaps of 30–300 s. */
export function bursty(r: Rand, n: number): number[] {
  const gap = 30_000 + r() * 270_000;
  let t = start(r);
  const out: number[] = [];
  while (out.length < n) {
    t += expo(r, gap);
    const k = 2 + Math.floor(r() * 7);
    for (let i = 0; i < k && out.length < n; i++) out.push((t += r() * 1500));
  }
  return quantise(out);
}

/** Page views after log-normal think times (median 15 s), each fetching 1–4 resources within 2 s. */
export function humanBrowsing(r: Rand, n: number): number[] {
  let t = start(r);
  const out: number[] = [];
  while (out.length < n) {
    t += 15_000 * Math.exp(1.2 * gauss(r));
    const k = 1 + Math.floor(r() * 4);
    for (let i = 0; i < k && out.length < n; i++) out.push((t += r() * 2000));
  }
  return quantise(out);
}

/** n connections at uniformly random times within ten minutes. */
export function fewRandom(r: Rand, n: number): number[] {
  const t0 = start(r);
  return quantise(Array.from({ length: n }, () => t0 + r() * 600_000).sort((a, b) => a - b));
}
