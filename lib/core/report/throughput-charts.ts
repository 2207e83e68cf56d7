// Throughput over time from a load run's timeline: requests per second (completed, and failed when any
// failed) and output tokens per second, bucket by bucket as the load generator counted them (by the time a
// request ended, after the warm-up). Each bucket is drawn as a flat step, since its count is all that is
// known about it.

import { type Html, markup } from "./html";
import { type ChartPoint, type ChartSeries, niceTicks, renderLineChart } from "./line-chart";
import { formatRate } from "./report-format";

interface Timeline {
  readonly bucketSeconds: number;
  readonly completed: readonly number[];
  readonly failed: readonly number[];
  readonly outputTokens: readonly number[];
}

export function renderThroughputCharts(timeline: Timeline): Html {
  const width = timeline.bucketSeconds;
  const buckets = Math.max(timeline.completed.length, timeline.failed.length, timeline.outputTokens.length);
  if (buckets === 0)
    return markup`<p class="note">No measured request ended, so there is no throughput to draw.</p>`;
  const span = buckets * width;
  const xTicks = niceTicks(0, span, 6).filter((t) => t.value <= span);
  const bucketNote = `in ${width}-second buckets over the ${span} s after the warm-up (the last bucket may be partly filled)`;
  const failedAny = timeline.failed.some((n) => n > 0);
  const requests: ChartSeries[] = [
    { name: "completed requests/s", points: steps(timeline.completed, buckets, width) },
    ...(failedAny ? [{ name: "failed requests/s", points: steps(timeline.failed, buckets, width) }] : []),
  ];
  const tokens: ChartSeries[] = [
    { name: "output tokens/s", points: steps(timeline.outputTokens, buckets, width) },
  ];
  return markup`<figure>
      ${renderLineChart({
        id: "chart-requests",
        title: "Requests per second over time",
        description: `Completed${failedAny ? " and failed" : ""} requests per second ${bucketNote}; ${describe(timeline.completed, buckets, width, "requests")}.`,
        xLabel: "Seconds after the warm-up",
        yLabel: "Requests per second",
        xDomain: [0, span],
        xTicks,
        series: requests,
      })}
    </figure>
    <figure>
      ${renderLineChart({
        id: "chart-tokens",
        title: "Output tokens per second over time",
        description: `Output tokens per second ${bucketNote}; ${describe(timeline.outputTokens, buckets, width, "tokens")}.`,
        xLabel: "Seconds after the warm-up",
        yLabel: "Output tokens per second",
        xDomain: [0, span],
        xTicks,
        series: tokens,
      })}
    </figure>`;
}

/** Each bucket's count per second, as a flat step across the bucket. */
function steps(counts: readonly number[], buckets: number, width: number): ChartPoint[] {
  return Array.from({ length: buckets }, (_, i) => {
    const perSecond = (counts[i] ?? 0) / width;
    return [
      { x: i * width, y: perSecond },
      { x: (i + 1) * width, y: perSecond },
    ];
  }).flat();
}

function describe(counts: readonly number[], buckets: number, width: number, unit: string): string {
  const total = counts.reduce((sum, n) => sum + n, 0);
  const peak = Math.max(0, ...counts) / width;
  return `on average ${formatRate(total / (buckets * width), unit)}, at most ${formatRate(peak, unit)}`;
}
