// The exact McNemar test: are two models' accuracies on the same items really different? Only the
// discordant items carry evidence — b that only the stable model got right, c that only the candidate
// did. Under "no difference" each discordant item goes either way with probability ½, so the two-sided
// p-value is 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, ½), capped at 1. The binomial terms are summed
// in log space, so thousands of discordant items neither overflow a factorial nor underflow to 0 early.

/** Two-sided exact McNemar p-value for `b` and `c` discordant items; 1 when there are none. */
export function exactMcNemarPValue(b: number, c: number): number {
  const n = b + c;
  const k = Math.min(b, c);
  // By symmetry P(X ≤ k) ≥ ½ once k ≥ (n − 1)/2, so the doubled tail is at least 1: exactly 1, no rounding.
  if (n === 0 || k * 2 + 1 >= n) return 1;
  // log P(X = i) = log C(n, i) − n·log 2, built up term by term: C(n, i + 1) = C(n, i)·(n − i)/(i + 1).
  const logTerms: number[] = [];
  let logTerm = -n * Math.LN2;
  for (let i = 0; i <= k; i++) {
    logTerms.push(logTerm);
    logTerm += Math.log(n - i) - Math.log(i + 1);
  }
  const largest = logTerms.reduce((max, t) => Math.max(max, t), -Infinity);
  const logTail = largest + Math.log(logTerms.reduce((sum, t) => sum + Math.exp(t - largest), 0));
  return Math.min(1, Math.exp(Math.LN2 + logTail));
}
