// Small statistics for the detectors (beacon regularity). Inputs are plain arrays; nothing here allocates much.

/** Linear-interpolated quantile of a sorted array. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const x = (sorted.length - 1) * p;
  const lo = Math.floor(x);
  const hi = Math.ceil(x);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (x - lo);
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** Median absolute deviation about the median. */
export function mad(values: readonly number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/**
 * Bowley (quartile) skewness, (Q1 + Q3 − 2·Q2) / (Q3 − Q1); 0 when the spread is within `resolution`
 * or the median sits on a quartile (RITA's guard against degenerate distributions).
 */
export function bowleySkew(values: readonly number[], resolution: number): number {
  const s = [...values].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q2 = quantile(s, 0.5);
  const q3 = quantile(s, 0.75);
  const den = q3 - q1;
  if (!(den > resolution) || q2 === q1 || q2 === q3) return 0;
  return (q1 + q3 - 2 * q2) / den;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7). */
export function lgamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Upper bound of the chance that k intervals of a Poisson process (uniform spacings, given the first and last
 * event) have a coefficient of variation at most `cv`. Uniform spacings fill the simplex Σx = 1 evenly; CV ≤ c is
 * the (k−1)-ball of radius c/√k around its centre, so the chance is that ball's volume over the simplex's,
 * exact while the ball fits inside (c ≤ 1/√(k−1)) and an over-estimate beyond — the safe side for a detector.
 */
export function poissonRegularityChance(k: number, cv: number): number {
  if (k < 2) return 1;
  if (cv <= 0) return 0;
  const r = cv / Math.sqrt(k);
  const logP =
    ((k - 1) / 2) * Math.log(Math.PI) + (k - 1) * Math.log(r) + lgamma(k) - lgamma((k + 1) / 2) - 0.5 * Math.log(k);
  return Math.min(1, Math.exp(logP));
}
