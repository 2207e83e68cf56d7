// The φ-quantile of a classic Prometheus histogram's buckets, computed exactly as PromQL's
// `histogram_quantile` does (prometheus/promql/quantile.go, `bucketQuantile`): buckets sorted by upper bound
// and merged where bounds repeat; counts within 1e-12 of each other taken as equal, then made monotonic;
// the quantile's rank is φ × the +Inf bucket's count, found in the first bucket whose count reaches it, and
// interpolated linearly within that bucket — from 0 when it is the lowest bucket with a positive upper
// bound, from the bucket below otherwise. A rank in the +Inf bucket gives the highest finite upper bound; a
// lowest bucket with an upper bound ≤ 0 gives that bound. NaN when there are no observations, fewer than two
// buckets or no +Inf bucket; -Inf for φ < 0, +Inf for φ > 1.

export interface HistogramBucket {
  /** The bucket's `le`: it counts observations ≤ this. */
  readonly upperBound: number;
  /** Cumulative count, as the `_bucket` series carries it. */
  readonly count: number;
}

export function histogramQuantile(q: number, buckets: readonly HistogramBucket[]): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  if (buckets.length === 0) return Number.NaN;
  const sorted = [...buckets].sort((a, b) => a.upperBound - b.upperBound).map((b) => ({ ...b }));
  if (sorted[sorted.length - 1]?.upperBound !== Number.POSITIVE_INFINITY) return Number.NaN;

  const merged = coalesce(sorted);
  correctPrecisionErrors(merged, 1e-12);
  ensureMonotonic(merged);
  if (merged.length < 2) return Number.NaN;
  const observations = merged[merged.length - 1]?.count ?? 0;
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  // sort.Search over all but the +Inf bucket: the first whose count reaches the rank, else the +Inf one.
  let b = merged.length - 1;
  for (let i = 0; i < merged.length - 1; i++) {
    if ((merged[i]?.count ?? 0) >= rank) {
      b = i;
      break;
    }
  }
  if (b === merged.length - 1) return merged[merged.length - 2]?.upperBound ?? Number.NaN;
  const bucket = merged[b] as { upperBound: number; count: number };
  if (b === 0 && bucket.upperBound <= 0) return bucket.upperBound;
  let bucketStart = 0;
  const bucketEnd = bucket.upperBound;
  let count = bucket.count;
  if (b > 0) {
    const below = merged[b - 1] as { upperBound: number; count: number };
    bucketStart = below.upperBound;
    count -= below.count;
    rank -= below.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Merges buckets with the same upper bound (their counts add up), as `coalesceBuckets` does. */
function coalesce(buckets: { upperBound: number; count: number }[]): { upperBound: number; count: number }[] {
  const merged: { upperBound: number; count: number }[] = [];
  for (const bucket of buckets) {
    const last = merged[merged.length - 1];
    if (last && last.upperBound === bucket.upperBound) last.count += bucket.count;
    else merged.push(bucket);
  }
  return merged;
}

/** Counts within `tolerance` (relative) of the previous one are set to it, as `correctPrecisionErrors` does. */
function correctPrecisionErrors(buckets: { count: number }[], tolerance: number): void {
  let previous = buckets[0]?.count ?? 0;
  for (let i = 1; i < buckets.length; i++) {
    const bucket = buckets[i] as { count: number };
    const delta = Math.abs(bucket.count - previous);
    if (delta === 0) continue;
    if (delta / bucket.count <= tolerance) bucket.count = previous;
    else previous = bucket.count;
  }
}

/** Removes decreases between successive buckets (the "envelope"), as `ensureMonotonic` does. */
function ensureMonotonic(buckets: { count: number }[]): void {
  let max = buckets[0]?.count ?? 0;
  for (let i = 1; i < buckets.length; i++) {
    const bucket = buckets[i] as { count: number };
    if (bucket.count > max) max = bucket.count;
    else if (bucket.count < max) bucket.count = max;
  }
}
