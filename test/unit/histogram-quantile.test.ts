import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HistogramBucket, histogramQuantile } from "../../lib/core/prometheus/histogram-quantile";

const INF = Number.POSITIVE_INFINITY;
const buckets = (...pairs: [number, number][]): HistogramBucket[] =>
  pairs.map(([upperBound, count]) => ({ upperBound, count }));

describe("histogramQuantile, as PromQL's histogram_quantile", () => {
  const twenty = buckets([1, 10], [2, 20], [INF, 20]);

  it.each([
    [0.5, 1],
    [0.75, 1.5],
    [0.95, 1.9],
    [1, 2],
    [0, 0],
  ])("interpolates linearly within the bucket: q=%s of 10 ≤ 1 s and 10 in (1, 2] s is %s", (q, expected) => {
    expect(histogramQuantile(q, twenty)).toBeCloseTo(expected, 12);
  });

  it("starts the lowest bucket at 0 when its upper bound is positive", () => {
    expect(histogramQuantile(0.5, buckets([0.3, 4], [INF, 4]))).toBeCloseTo(0.15, 12);
  });

  it("gives the lowest bucket's bound when that bound is not positive", () => {
    expect(histogramQuantile(0.5, buckets([-1, 4], [1, 8], [INF, 8]))).toBe(-1);
  });

  it("gives the highest finite upper bound when the rank falls in the +Inf bucket", () => {
    expect(histogramQuantile(0.95, buckets([1, 10], [2, 20], [INF, 25]))).toBe(2);
  });

  it("skips empty buckets below the rank, as the first bucket reaching it is used", () => {
    expect(histogramQuantile(0.5, buckets([0.1, 0], [0.2, 0], [0.5, 0], [1, 4], [INF, 4]))).toBeCloseTo(
      0.75,
      12,
    );
  });

  it("sorts the buckets and merges repeated bounds first", () => {
    expect(histogramQuantile(0.75, buckets([INF, 20], [2, 15], [1, 10], [2, 5]))).toBeCloseTo(1.5, 12);
  });

  it("forces the counts to rise, as a bucket can never count fewer than the ones below it", () => {
    expect(histogramQuantile(0.5, buckets([1, 10], [2, 8], [3, 20], [INF, 20]))).toBeCloseTo(1, 12);
  });

  it.each<[string, number, HistogramBucket[]]>([
    ["no observations", 0.95, buckets([1, 0], [INF, 0])],
    ["no +Inf bucket", 0.95, buckets([1, 1], [2, 2])],
    ["only the +Inf bucket", 0.95, buckets([INF, 3])],
    ["no buckets", 0.95, []],
    ["a NaN quantile", Number.NaN, twenty],
  ])("is NaN for %s", (_title, q, list) => {
    expect(histogramQuantile(q, list)).toBeNaN();
  });

  it("is NaN at q=0 when the lowest bucket is empty: its rank 0 divides 0 by 0, as Prometheus' does", () => {
    expect(histogramQuantile(0, buckets([1, 0], [2, 5], [INF, 5]))).toBeNaN();
    expect(histogramQuantile(0, buckets([1, 3], [INF, 5]))).toBe(0);
  });

  it("is -Inf below q=0 and +Inf above q=1", () => {
    expect(histogramQuantile(-0.1, twenty)).toBe(Number.NEGATIVE_INFINITY);
    expect(histogramQuantile(1.1, twenty)).toBe(INF);
  });

  it("gives a value within the bucket holding the rank, rising with q, for any histogram", () => {
    const bounds = fc.uniqueArray(fc.double({ min: 0.001, max: 1000, noNaN: true }), {
      minLength: 1,
      maxLength: 25,
    });
    const increments = (n: number) => fc.array(fc.nat({ max: 1000 }), { minLength: n + 1, maxLength: n + 1 });
    fc.assert(
      fc.property(
        bounds.chain((b) => fc.tuple(fc.constant([...b].sort((x, y) => x - y)), increments(b.length))),
        // q > 0: at q = 0 the rank 0 falls in an empty lowest bucket, 0/0 — NaN, as in Prometheus (below).
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        ([sortedBounds, adds], q1, q2) => {
          let total = 0;
          const list = [...sortedBounds, INF].map((upperBound, i) => {
            total += adds[i] ?? 0;
            return { upperBound, count: total };
          });
          const low = histogramQuantile(Math.min(q1, q2), list);
          const high = histogramQuantile(Math.max(q1, q2), list);
          if (total === 0) {
            expect(low).toBeNaN();
            return;
          }
          const highestFinite = sortedBounds[sortedBounds.length - 1] ?? 0;
          for (const value of [low, high]) {
            expect(value).toBeGreaterThanOrEqual(0);
            expect(value).toBeLessThanOrEqual(highestFinite);
          }
          expect(high).toBeGreaterThanOrEqual(low - 1e-9);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
