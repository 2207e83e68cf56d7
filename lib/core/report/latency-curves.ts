// The stress test's latency distributions as percentile curves, p0 to p99.9, on the axis latency plots use
// (HdrHistogram's): x = log10(1 / (1 − percentile)), so 90%, 99% and 99.9% are equally far apart and the
// tail — where SLOs break — gets as much room as the median. The points are read from the merged HDR
// histograms at CURVE_PERCENTILES by whoever builds the report's input.

import type { Html } from "./html";
import { renderLineChart, type Tick } from "./line-chart";
import { formatMs } from "./report-format";

export const CURVE_METRICS = ["ttft", "tpot", "e2e"] as const;
type CurveMetric = (typeof CURVE_METRICS)[number];

interface CurvePoint {
  readonly percentile: number;
  readonly ms: number;
}

export type LatencyCurves = Partial<Record<CurveMetric, readonly CurvePoint[]>>;

/** Every 10% to p90, every 1% to p99, every 0.1% to p99.9: evenly spread along the curve's axis. */
export const CURVE_PERCENTILES: readonly number[] = [
  ...Array.from({ length: 10 }, (_, i) => i * 10),
  ...Array.from({ length: 8 }, (_, i) => 91 + i),
  ...Array.from({ length: 10 }, (_, i) => (990 + i) / 10),
];

const TICKS: readonly Tick[] = [0, 50, 90, 99, 99.9].map((p) => ({ value: tailPosition(p), label: `p${p}` }));

export function renderLatencyCurve(
  id: string,
  label: { readonly short: string; readonly long: string },
  points: readonly CurvePoint[],
): Html {
  const at = (percentile: number) => points.find((p) => p.percentile === percentile)?.ms;
  const landmarks = [50, 90, 99, 99.9]
    .map((p) => ({ p, ms: at(p) }))
    .filter((l): l is { p: number; ms: number } => l.ms !== undefined)
    .map((l) => `p${l.p} ${formatMs(l.ms)}`);
  return renderLineChart({
    id,
    title: `${label.short} by percentile`,
    description: `${label.long} of the measured requests at each percentile from p0 to p99.9${landmarks.length > 0 ? `: ${landmarks.join(", ")}` : ""}.`,
    xLabel: "Percentile of requests (log scale toward the tail)",
    yLabel: `${label.short} (ms)`,
    xDomain: [0, tailPosition(99.9)],
    xTicks: TICKS,
    series: [{ name: label.short, points: points.map((p) => ({ x: tailPosition(p.percentile), y: p.ms })) }],
  });
}

/** Where a percentile sits on the axis: 0 for p0, 1 for p90, 2 for p99, 3 for p99.9. */
function tailPosition(percentile: number): number {
  return -Math.log10(1 - Math.min(percentile, 99.9) / 100);
}
