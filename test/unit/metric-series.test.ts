import { describe, expect, it } from "vitest";
import type { MetricId } from "../../lib/core/alarms/alarm-spec";
import { MetricSeries, parseStatistic, periodStart } from "../../lib/core/alarms/metric-series";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const LATENCY: MetricId = {
  namespace: "modelship",
  metricName: "Latency",
  dimensions: { Model: "llama", Version: "v2", Variant: "candidate" },
};

function seriesWith(values: readonly number[], at = T0 + 1000): MetricSeries {
  const series = new MetricSeries();
  for (const value of values) series.record(LATENCY, value, at);
  return series;
}

function statOf(series: MetricSeries, statistic: string, firstPeriodStart = T0): number | undefined {
  return series.aggregate(LATENCY, { statistic, periodSeconds: 10, firstPeriodStart, periods: 1 })[0]?.value;
}

const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

describe("MetricSeries statistics", () => {
  it.each([
    ["SampleCount", [4, 1, 3], 3],
    ["Sum", [4, 1, 3], 8],
    ["Average", [4, 1, 3], 8 / 3],
    ["Minimum", [4, 1, 3], 1],
    ["Maximum", [4, 1, 3], 4],
  ])("computes %s of a period as CloudWatch defines it", (statistic, values, expected) => {
    expect(statOf(seriesWith(values), statistic)).toBeCloseTo(expected, 12);
  });

  it.each([
    ["p95", oneToHundred, 95],
    ["p50", oneToHundred, 50],
    ["p99", oneToHundred, 99],
    ["p99.5", oneToHundred, 100],
    ["p100", oneToHundred, 100],
    ["p0", oneToHundred, 1],
    ["p95", Array.from({ length: 20 }, (_, i) => (i + 1) * 10), 190],
    ["p95", [2450], 2450],
    ["p90", [300, 100, 200], 300],
    ["p50", [300, 100, 200, 400], 200],
    ["p99.9", Array.from({ length: 1000 }, (_, i) => i + 1), 999],
  ])(
    "takes %s of a known sample by nearest rank (a value that was observed)",
    (statistic, values, expected) => {
      const shuffled = [...values].reverse();
      expect(statOf(seriesWith(shuffled), statistic)).toBe(expected);
    },
  );

  it("reports no datapoint, not a zero, for a period without samples", () => {
    const series = seriesWith([5]);
    const [first, second] = series.aggregate(LATENCY, {
      statistic: "Sum",
      periodSeconds: 10,
      firstPeriodStart: T0,
      periods: 2,
    });
    expect(first).toEqual({ start: T0, value: 5, sampleCount: 1 });
    expect(second).toBeUndefined();
  });

  it("refuses a statistic CloudWatch does not know, naming the metric and the valid ones", () => {
    expect(() => statOf(seriesWith([1]), "P95")).toThrow(
      "modelship/Latency{Model=llama, Variant=candidate, Version=v2}: unknown statistic 'P95'; expected SampleCount, Sum, Average, Minimum, Maximum or a percentile p0 to p100 (e.g. p95, p99.9).",
    );
  });

  it.each([
    ["Sum", { kind: "Sum" }],
    ["p95", { kind: "percentile", percent: 95 }],
    ["p99.99", { kind: "percentile", percent: 99.99 }],
    ["p0", { kind: "percentile", percent: 0 }],
    ["p100", { kind: "percentile", percent: 100 }],
    ["p100.1", undefined],
    ["p99.999", undefined],
    ["p", undefined],
    ["sum", undefined],
    ["tm90", undefined],
  ])("reads the statistic %s", (text, expected) => {
    expect(parseStatistic(text)).toEqual(expected);
  });
});

describe("MetricSeries periods", () => {
  it("aligns periods to multiples of their length since the epoch, as CloudWatch does", () => {
    expect(periodStart(T0 + 9_999, 10)).toBe(T0);
    expect(periodStart(T0 + 10_000, 10)).toBe(T0 + 10_000);
    expect(periodStart(T0 + 59_000, 60)).toBe(T0);
  });

  it("puts a sample on a period boundary in the period it starts", () => {
    const series = new MetricSeries();
    series.record(LATENCY, 1, T0 + 9_999);
    series.record(LATENCY, 2, T0 + 10_000);
    const sums = series
      .aggregate(LATENCY, { statistic: "Sum", periodSeconds: 10, firstPeriodStart: T0, periods: 2 })
      .map((p) => p?.value);
    expect(sums).toEqual([1, 2]);
  });

  it("aggregates samples recorded out of order", () => {
    const series = new MetricSeries();
    for (const [value, offset] of [
      [3, 15_000],
      [1, 2_000],
      [4, 12_000],
      [2, 8_000],
    ] as const) {
      series.record(LATENCY, value, T0 + offset);
    }
    const sums = series
      .aggregate(LATENCY, { statistic: "Sum", periodSeconds: 10, firstPeriodStart: T0, periods: 2 })
      .map((p) => p?.value);
    expect(sums).toEqual([3, 7]);
  });
});

describe("MetricSeries metric identity", () => {
  it("treats a metric with one more dimension as another metric, as CloudWatch does", () => {
    const series = seriesWith([5]);
    const withService = { ...LATENCY, dimensions: { ...LATENCY.dimensions, service: "prober" } };
    const aggregate = (metric: MetricId) =>
      series.aggregate(metric, { statistic: "Sum", periodSeconds: 10, firstPeriodStart: T0, periods: 1 })[0];
    expect(aggregate(withService)).toBeUndefined();
    expect(aggregate({ ...LATENCY, namespace: "other" })).toBeUndefined();
  });

  it("finds a metric whatever order its dimensions are listed in", () => {
    const series = seriesWith([5]);
    const reordered: MetricId = {
      namespace: "modelship",
      metricName: "Latency",
      dimensions: { Variant: "candidate", Version: "v2", Model: "llama" },
    };
    expect(
      series.aggregate(reordered, {
        statistic: "Sum",
        periodSeconds: 10,
        firstPeriodStart: T0,
        periods: 1,
      })[0]?.value,
    ).toBe(5);
  });

  it("refuses NaN and Infinity, as PutMetricData does", () => {
    const series = new MetricSeries();
    expect(() => series.record(LATENCY, Number.NaN, T0)).toThrow(/expected a finite value/);
    expect(() => series.record(LATENCY, 1, Number.POSITIVE_INFINITY)).toThrow(/expected a finite value/);
  });
});

describe("MetricSeries memory", () => {
  it("keeps only the retention window behind the newest sample, however long it records", () => {
    const series = new MetricSeries({ retentionSeconds: 60 });
    // Ten samples a second for an hour.
    for (let i = 0; i < 36_000; i++) series.record(LATENCY, i, T0 + i * 100);
    expect(series.size).toBeLessThanOrEqual(601);
    const newest = T0 + 35_999 * 100;
    const old = series.aggregate(LATENCY, {
      statistic: "SampleCount",
      periodSeconds: 10,
      firstPeriodStart: periodStart(newest, 10) - 120_000,
      periods: 1,
    });
    expect(old[0]).toBeUndefined();
  });

  it("drops a late sample that is already older than the retention", () => {
    const series = new MetricSeries({ retentionSeconds: 60 });
    series.record(LATENCY, 1, T0 + 600_000);
    series.record(LATENCY, 2, T0);
    expect(series.size).toBe(1);
  });

  it("forgets a metric whose samples have all aged out", () => {
    const series = new MetricSeries({ retentionSeconds: 60 });
    series.record(LATENCY, 1, T0);
    series.record({ ...LATENCY, metricName: "Errors" }, 0, T0 + 600_000);
    expect(series.size).toBe(1);
  });

  it("widens its retention when asked, and never narrows it", () => {
    const series = new MetricSeries({ retentionSeconds: 60 });
    series.retainAtLeast(300);
    series.retainAtLeast(30);
    expect(series.retentionSeconds).toBe(300);
  });
});
