// The report's section on the stress test: the verdict and the load it was given (the profile), every SLO and
// regression check with its threshold and measured value, the latency distributions (a table of percentiles
// as summarizeLoad computed them, and percentile curves from p0 to p99.9), errors by class, and throughput
// over time.

import { describeProfile } from "../gates/stress-gate";
import { dataValue, type Html, markup } from "./html";
import { CURVE_METRICS, renderLatencyCurve } from "./latency-curves";
import { facts, PASSED, section, unavailable, verdict } from "./report-parts";
import type { LatencyStats, ReportDocument, StressDocument } from "./report-documents";
import {
  formatCount,
  formatMs,
  formatPercent,
  formatRate,
  formatRatio,
  formatSeconds,
} from "./report-format";
import type { StressReport } from "./report-input";
import { renderThroughputCharts } from "./throughput-charts";

const LATENCY_ROWS = [
  { metric: "ttft", short: "TTFT", long: "Time to first token" },
  { metric: "tpot", short: "TPOT", long: "Time per output token after the first" },
  { metric: "itl", short: "ITL", long: "Gap between streamed chunks" },
  { metric: "e2e", short: "E2E", long: "End-to-end request latency" },
  { metric: "queue", short: "Queue", long: "Client queue time before sending" },
] as const;

type Check = StressDocument["checks"][number];

export function renderStressSection(stress: ReportDocument<StressReport>): Html {
  if (stress.status !== "read") {
    return section(
      "stress",
      "Stress test",
      unavailable(
        stress,
        "The stress test did not run for this rollout: the gate is off in the manifest (gates.stress.enabled: false), or the rollout stopped before it",
      ),
    );
  }
  const { document, curves } = stress.value;
  const { summary } = document;
  const violated = document.checks.filter((c) => !c.pass);
  const loaded = document.workers.filter((w) => w.resultKey !== undefined).length;
  return section(
    "stress",
    "Stress test",
    markup`<p>
        ${verdict(document.passed, PASSED)}
        ${
          violated.length === 0
            ? `every one of the ${document.checks.length} checks held.`
            : `${violated.length} of ${document.checks.length} checks were violated: ${violated.map((c) => c.name).join(", ")}.`
        }
      </p>
      ${facts([
        ["Profile", describeProfile(document.profile)],
        [
          "Workers",
          `${loaded} sent load${loaded < document.workers.length ? ` (${document.workers.length - loaded} idle)` : ""}`,
        ],
        [
          "Measured",
          `${formatCount(summary.requests)} requests (${formatCount(summary.completed)} completed, ${formatCount(summary.failed)} failed) over ${formatSeconds(summary.measuredSeconds)}; ${formatCount(summary.warmupRequests)} warm-up requests not counted`,
        ],
        [
          "Stopped early",
          summary.stoppedEarly
            ? `yes: ${formatCount(summary.cancelled)} requests in flight were cancelled`
            : undefined,
        ],
        [
          "Throughput",
          `${formatRate(summary.requestsPerSecond, "requests")}, ${formatRate(summary.outputTokensPerSecond, "output tokens")}, ${formatRate(summary.inputTokensPerSecond, "input tokens")}`,
        ],
        [
          "Goodput",
          `${formatRate(summary.goodputPerSecond, "requests")} meeting ${describeGoodputSlo(summary.goodputSlo)}`,
        ],
        [
          "Token counts",
          `${formatCount(summary.outputTokens)} output tokens (from the server's usage in ${formatCount(summary.outputTokensFrom.usage)} requests, counted chunks in ${formatCount(summary.outputTokensFrom.counted)}); ${formatCount(summary.inputTokens)} input tokens (from usage in ${formatCount(summary.inputTokensFrom.usage)}, estimated from the prompt in ${formatCount(summary.inputTokensFrom.estimated)})`,
        ],
        [
          "Error rate",
          `${formatPercent(summary.errorRate, 2)} (${formatCount(summary.failed)} of ${formatCount(summary.requests)})`,
        ],
      ])}
      ${renderChecks(document)} ${renderErrors(summary)} ${renderLatencyTable(summary.latency)}
      <h3>Latency distributions</h3>
      <div class="charts">
        ${CURVE_METRICS.map((metric) => {
          const row = LATENCY_ROWS.find((r) => r.metric === metric) ?? LATENCY_ROWS[0];
          const points = curves[metric];
          return points && points.length > 0
            ? markup`<figure>${renderLatencyCurve(`chart-${metric}`, row, points)}</figure>`
            : markup`<p class="note">${row.short}: nothing was measured, so there is no curve.</p>`;
        })}
      </div>
      <h3>Throughput over time</h3>
      <div class="charts">${renderThroughputCharts(document.result.timeline)}</div>`,
  );
}

function renderChecks(document: StressDocument): Html {
  const notes = document.comparison?.notes ?? [];
  const comparison = document.comparison
    ? markup`<p>
          ${document.comparison.compared ? `Compared with stable ${document.comparison.stableVersion} (the same profile).` : `Not compared with stable ${document.comparison.stableVersion}.`}
        </p>
        ${
          notes.length > 0
            ? markup`<ul>
                ${notes.map((n) => markup`<li>${n}</li>`)}
              </ul>`
            : ""
        }`
    : markup`<p>No stable version to compare with (a first release): only the SLOs apply.</p>`;
  if (document.checks.length === 0) {
    return markup`<h3>Checks</h3>
      <p>
        The manifest sets no SLO (gates.stress.slo) and nothing was compared with stable, so the gate checked
        nothing.
      </p>
      ${comparison}`;
  }
  return markup`<h3>Checks</h3>
    <table>
      <caption>
        SLO and regression checks
      </caption>
      <thead>
        <tr>
          <th scope="col">Check</th>
          <th scope="col">Threshold</th>
          <th scope="col">Measured</th>
          <th scope="col">Stable</th>
          <th scope="col">Verdict</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${document.checks.map(
          (c) =>
            markup`<tr>
              <th scope="row"><code>${c.name}</code></th>
              <td>${thresholdOf(c)}</td>
              <td>${measuredOf(c)}</td>
              <td>
                ${c.stable === undefined ? "—" : formatMetric(c.name.replace(/^regression\./, ""), c.stable)}
              </td>
              <td>${verdict(c.pass, { pass: "held", fail: "violated" })}</td>
              <td>${c.message}</td>
            </tr> `,
        )}
      </tbody>
    </table>
    ${comparison}`;
}

function thresholdOf(check: Check): string {
  if (check.kind === "regression") return `at most ${formatRatio(check.threshold)} stable`;
  const bound = check.name.startsWith("min") ? "at least" : "at most";
  return `${bound} ${formatMetric(check.name, check.threshold)}`;
}

function measuredOf(check: Check): Html | string {
  if (check.measured === null) return "not measured";
  const shown =
    check.kind === "regression" ? formatRatio(check.measured) : formatMetric(check.name, check.measured);
  return dataValue(check.measured, shown);
}

/** A check's value in its unit: ms for latencies, a percentage for the error rate, tokens/s for throughput. */
function formatMetric(name: string, value: number): string {
  if (name.endsWith("Ms")) return formatMs(value);
  if (name === "errorRate") return formatPercent(value, 2);
  if (name.endsWith("TokensPerSecond")) return formatRate(value, "tokens");
  return String(value);
}

function renderErrors(summary: StressDocument["summary"]): Html {
  const classes = Object.entries(summary.errors).sort(([, a], [, b]) => b - a);
  if (classes.length === 0) return markup`<p>No request failed.</p>`;
  return markup`<table>
    <caption>
      Failed requests by class
    </caption>
    <thead>
      <tr>
        <th scope="col">Class</th>
        <th scope="col">Requests</th>
        <th scope="col">First one's detail</th>
      </tr>
    </thead>
    <tbody>
      ${classes.map(
        ([kind, n]) =>
          markup`<tr>
            <th scope="row"><code>${kind}</code></th>
            <td>${formatCount(n)}</td>
            <td>${summary.errorExamples[kind] ?? ""}</td>
          </tr> `,
      )}
    </tbody>
  </table>`;
}

function renderLatencyTable(latency: StressDocument["summary"]["latency"]): Html {
  const cell = (ms: number) => markup`<td>${dataValue(ms, formatMs(ms))}</td>`;
  const clamped = LATENCY_ROWS.filter((r) => (latency[r.metric]?.clamped ?? 0) > 0);
  return markup`<table>
      <caption>
        Latency (ms) over the measured requests
      </caption>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          <th scope="col">Values</th>
          <th scope="col">Mean</th>
          <th scope="col">p50</th>
          <th scope="col">p90</th>
          <th scope="col">p95</th>
          <th scope="col">p99</th>
          <th scope="col">Max</th>
        </tr>
      </thead>
      <tbody>
        ${LATENCY_ROWS.map((row) => {
          const stats: LatencyStats | undefined = latency[row.metric];
          const name = markup`<th scope="row"><abbr title="${row.long}">${row.short}</abbr></th>`;
          if (!stats)
            return markup`<tr>
              ${name}
              <td>0</td>
              <td colspan="6">not measured</td>
            </tr> `;
          return markup`<tr>
            ${name}
            <td>${formatCount(stats.count)}</td>
            ${cell(stats.meanMs)}${cell(stats.p50Ms)}${cell(stats.p90Ms)}${cell(stats.p95Ms)}${cell(stats.p99Ms)}${cell(stats.maxMs)}
          </tr> `;
        })}
      </tbody>
    </table>
    <p class="note">
      Percentiles are nearest-rank from HDR histograms (within 0.1% of the exact value); ITL counts every gap
      between chunks, the others one value per
      request.${
        clamped.length > 0
          ? ` ${clamped.map((r) => r.short).join(", ")} had values above one hour, counted as one hour in the percentiles.`
          : ""
      }
    </p>`;
}

function describeGoodputSlo(slo: Readonly<Record<string, number>>): string {
  const parts = Object.entries(slo).map(
    ([name, ms]) => `${name.replace(/P95Ms$/, "").toUpperCase()} ≤ ${formatMs(ms)}`,
  );
  return parts.length > 0
    ? `every per-request SLO (${parts.join(", ")})`
    : "no per-request SLO (every completed request counts)";
}
