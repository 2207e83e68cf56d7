// The Wilson score interval for an accuracy: where the true accuracy of the model on questions like these
// lies, with 95% confidence. Unlike the normal approximation (p ± 1.96·SE) it stays inside [0, 1] and
// keeps its coverage for small suites and scores near 0 or 1 — the cases a release gate meets.

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/** The 97.5th percentile of the standard normal distribution: a two-sided 95% interval. */
const Z_95 = 1.959963984540054;

/** Wilson score interval for `successes` out of `trials`; [0, 1] when there are no trials. */
export function wilsonInterval(successes: number, trials: number, z: number = Z_95): Interval {
  if (trials <= 0) return { low: 0, high: 1 };
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const halfWidth = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At a score of 0 or 1 the bound on that side is exactly 0 or 1; the formula only gets it to rounding.
  return {
    low: successes <= 0 ? 0 : Math.max(0, centre - halfWidth),
    high: successes >= trials ? 1 : Math.min(1, centre + halfWidth),
  };
}
