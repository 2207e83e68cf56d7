// The report's story after the gates, from outcome.json: how the rollout ended (the banner at the top of the
// page: its final state, when, who or what ended it and why), then each canary step with its weights, when it
// started and how long it baked, the promotion, each alarm's metric over the canary as a chart against its
// threshold with the steps marked on it, and every transition the rollout recorded. Before the rollout ends
// there is no outcome.json, and the page says the rollout was still running when it was written.

import { isBreaching } from "../alarms/alarm-evaluation";
import { dataValue, type Html, markup } from "./html";
import { niceTicks, renderLineChart, type Tick } from "./line-chart";
import { section, unavailable } from "./report-parts";
import type { AlarmSeries, EndState, OutcomeDocument, ReportDocument } from "./report-documents";
import { formatSeconds, formatTimestamp } from "./report-format";

type End = OutcomeDocument["end"];

const STATE_WORDS: Readonly<Record<EndState, string>> = {
  Succeeded: "Succeeded",
  RolledBack: "Rolled back",
  Aborted: "Aborted",
  Failed: "Failed",
};

const COMPARISON_WORDS: Readonly<Record<AlarmSeries["comparison"], string>> = {
  GreaterThanThreshold: ">",
  GreaterThanOrEqualToThreshold: "≥",
  LessThanThreshold: "<",
  LessThanOrEqualToThreshold: "≤",
};

/** The final state at the top of the page: what a reader opening it after an incident looks for first. */
export function renderEndBanner(outcome: ReportDocument<OutcomeDocument>, writtenBy?: string): Html {
  if (outcome.status === "missing") {
    return markup`<p class="end running" role="status">
      <strong>● Running</strong> — the rollout had not ended when ${writtenBy ?? "a stage"} wrote this page;
      Finalize, Rollback or Cleanup writes it again when it ends.
    </p>`;
  }
  if (outcome.status === "unreadable") {
    return markup`<p class="end unknown" role="status">
      <strong>? Unknown</strong> — the rollout's outcome.json could not be read (see “The canary and the
      end” below).
    </p>`;
  }
  const { end } = outcome.value;
  const success = end.state === "Succeeded";
  return markup`<div class="end ${success ? "succeeded" : "stopped"}" role="status">
    <p>
      <strong>${success ? "✔" : "✘"} ${STATE_WORDS[end.state]}</strong>${endClause(end)}
      at ${formatTimestamp(end.at)}.
    </p>
    <p>${end.reason}</p>
    ${end.hint ? markup`<p class="note">Hint: ${end.hint}</p>` : ""}
    ${
      end.leftBehind?.length
        ? markup`<p><strong>Left behind, to remove by hand:</strong></p>
            <ul>
              ${end.leftBehind.map((item) => markup`<li>${item}</li>`)}
            </ul>`
        : ""
    }
  </div>`;
}

/** ` by alarm X`, ` by alice (a command)`, ` with SloViolated in MergeStress`. */
function endClause(end: End): Html | string {
  if (end.state === "Failed") {
    const error = end.error ? markup` with <code>${end.error}</code>` : "";
    return markup`${error}${end.failedStage ? ` in ${end.failedStage}` : ""}`;
  }
  if (end.trigger === "alarm") return markup` by alarm <code>${end.alarm ?? "?"}</code>`;
  if (end.trigger === "command") return ` at the request of ${end.requestedBy ?? "an operator"}`;
  if (end.trigger === "state machine") return " by the state machine";
  return ` in ${end.stage}`;
}

export function renderOutcomeSection(outcome: ReportDocument<OutcomeDocument>): Html {
  const title = "The canary and the end";
  if (outcome.status !== "read") {
    return section(
      "canary",
      title,
      unavailable(
        outcome,
        "The rollout had not ended when this page was written: its canary, alarms and end are added when Finalize, Rollback or Cleanup ends it",
      ),
    );
  }
  const document = outcome.value;
  return section(
    "canary",
    title,
    markup`${renderSteps(document)} ${renderAlarms(document)} ${renderTransitions(document)}`,
  );
}

function renderSteps(document: OutcomeDocument): Html {
  const { steps, promotion, end, stableVersion } = document;
  if (steps.length === 0) {
    if (promotion) {
      return markup`<p>
        No canary: ${document.version} went to 100% at ${formatTimestamp(promotion.at)}. ${promotion.reason}
      </p>`;
    }
    return markup`<p class="not-run">
      No canary: the rollout ended in ${end.stage} before any traffic moved to ${document.version}.
    </p>`;
  }
  const stable = stableVersion ?? "stable";
  return markup`<table>
      <caption>
        Canary steps
      </caption>
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">${document.version} (candidate)</th>
          <th scope="col">${stable} (stable)</th>
          <th scope="col">Started</th>
          <th scope="col">Baked</th>
          <th scope="col">Planned bake</th>
        </tr>
      </thead>
      <tbody>
        ${steps.map(
          (s) =>
            markup`<tr>
              <th scope="row">${s.step}${s.of !== undefined ? ` of ${s.of}` : ""}</th>
              <td>${dataValue(s.weight, `${s.weight}%`)}</td>
              <td>${dataValue(s.stableWeight, `${s.stableWeight}%`)}</td>
              <td>${formatTimestamp(s.at)}</td>
              <td>${bakedFor(s.at, s.until)}</td>
              <td>${s.plannedBakeSeconds !== undefined ? formatSeconds(s.plannedBakeSeconds) : "—"}</td>
            </tr> `,
        )}
      </tbody>
    </table>
    ${
      promotion
        ? markup`<p>
            <strong>Promoted</strong> at ${formatTimestamp(promotion.at)}: ${promotion.reason}
            ${promotion.requested ? markup`<br />${promotion.requested}` : ""}
          </p>`
        : ""
    }
    <p class="note">
      Baked: from the step's start to the next step, the promotion or the end, as the rollout history
      recorded them. A bake that ended early was cut short by a rollback, an abort or a requested promotion.
      The planned bake is the manifest's; the local runtime's <code>--time-factor</code> scales the bakes it
      runs.
    </p>`;
}

function bakedFor(from: string, until: string | undefined): Html | string {
  if (until === undefined) return "—";
  const seconds = (Date.parse(until) - Date.parse(from)) / 1000;
  return Number.isFinite(seconds) ? dataValue(seconds, formatSeconds(seconds)) : "—";
}

function renderAlarms(document: OutcomeDocument): Html {
  const { alarms } = document;
  if (!alarms) {
    return markup`<p class="not-run">No alarm was armed: the rollout ended before its canary.</p>`;
  }
  const start = Date.parse(alarms.start);
  const at = (iso: string) => (Date.parse(iso) - start) / 1000;
  // From the start of the first period read (which may begin before the alarms were armed) to the end of the
  // last, so every period and the end's marker lie inside the chart.
  const periodEnds = alarms.series.flatMap((s) => s.points.map((p) => at(p.at) + s.periodSeconds));
  const periodStarts = alarms.series.flatMap((s) => s.points.map((p) => at(p.at)));
  const domain: [number, number] = [
    Math.min(0, ...periodStarts),
    Math.max(1, at(alarms.end) + 1, ...periodEnds),
  ];
  const markers: Tick[] = [
    ...document.steps.map((s) => ({ value: at(s.at), label: `${s.weight}%` })),
    ...(document.promotion ? [{ value: at(document.promotion.at), label: "promoted" }] : []),
    { value: at(document.end.at), label: STATE_WORDS[document.end.state].toLowerCase() },
  ];
  const problem = alarms.problem
    ? markup`<div class="unreadable" role="note">
        <p>The alarms' metrics could not be read, so there are no charts: ${alarms.problem}</p>
      </div>`
    : "";
  if (alarms.series.length === 0) {
    return markup`${problem}
      <p class="not-run">No metric alarm was found to chart (the alarms were removed before they could be read).</p>`;
  }
  const xTicks = niceTicks(domain[0], domain[1], 6).filter(
    (t) => t.value >= domain[0] && t.value <= domain[1],
  );
  return markup`<h3>The alarms, from ${formatTimestamp(alarms.start)} to ${formatTimestamp(alarms.end)}</h3>
    ${problem}
    <table>
      <caption>
        Alarms
      </caption>
      <thead>
        <tr>
          <th scope="col">Alarm</th>
          <th scope="col">Goes to ALARM when</th>
          <th scope="col">Periods with data</th>
          <th scope="col">Beyond the threshold</th>
          <th scope="col">Highest</th>
        </tr>
      </thead>
      <tbody>
        ${alarms.series.map((s) => {
          const beyond = s.points.filter((p) => breaches(p.value, s)).length;
          const highest = s.points.length > 0 ? Math.max(...s.points.map((p) => p.value)) : undefined;
          return markup`<tr>
            <th scope="row"><code>${s.name}</code>${s.description ? markup`<br /><small>${s.description}</small>` : ""}</th>
            <td>
              ${s.datapointsToAlarm} of ${s.evaluationPeriods} periods of ${s.alarmPeriodSeconds} s are
              ${COMPARISON_WORDS[s.comparison]} ${formatValue(s.threshold)}
            </td>
            <td>${s.points.length}${s.periodSeconds !== s.alarmPeriodSeconds ? ` (of ${s.periodSeconds} s)` : ""}</td>
            <td class="${beyond > 0 ? "breach" : ""}">${beyond}</td>
            <td>${highest === undefined ? "—" : dataValue(highest, formatValue(highest))}</td>
          </tr> `;
        })}
      </tbody>
    </table>
    <div class="charts">
      ${alarms.series.map((s, i) => renderAlarmChart(s, i, start, domain, xTicks, markers))}
    </div>
    <p class="note">
      Each chart is the alarm's own metric (or metric math), one value per period as the alarm evaluates it,
      drawn at the period's start; a period without data has no point. The dashed lines mark the canary's
      steps, the promotion and the end.
    </p>`;
}

/** One alarm's metric against its threshold, `start` (epoch ms) at x = 0; the web console draws these too. */
export function renderAlarmChart(
  s: AlarmSeries,
  index: number,
  start: number,
  domain: readonly [number, number],
  xTicks: readonly Tick[],
  markers: readonly Tick[],
): Html {
  const points = s.points.map((p) => ({ x: (Date.parse(p.at) - start) / 1000, y: p.value }));
  const beyond = s.points.filter((p) => breaches(p.value, s)).length;
  return markup`<figure>
    ${renderLineChart({
      id: `chart-alarm-${index}`,
      title: s.name,
      description: `${s.description ?? s.name}: ${s.points.length} periods of ${s.periodSeconds} s with data, ${beyond} of them ${COMPARISON_WORDS[s.comparison]} the threshold ${formatValue(s.threshold)}.`,
      xLabel: "Seconds since the alarms were armed",
      yLabel: "Alarm's metric",
      xDomain: domain,
      xTicks,
      series: [
        { name: "value", points },
        {
          name: `threshold ${formatValue(s.threshold)}`,
          points: [
            { x: domain[0], y: s.threshold },
            { x: domain[1], y: s.threshold },
          ],
        },
      ],
      markers,
    })}
  </figure>`;
}

function renderTransitions(document: OutcomeDocument): Html {
  if (document.transitions.length === 0) return markup``;
  return markup`<table>
    <caption>
      What the rollout recorded
    </caption>
    <thead>
      <tr>
        <th scope="col">At</th>
        <th scope="col">Stage</th>
        <th scope="col">Status</th>
        <th scope="col">What happened</th>
      </tr>
    </thead>
    <tbody>
      ${document.transitions.map(
        (t) =>
          markup`<tr>
            <td>${formatTimestamp(t.at)}</td>
            <th scope="row">${t.stage}</th>
            <td>${t.status}</td>
            <td>${t.reason}</td>
          </tr> `,
      )}
    </tbody>
  </table>`;
}

function breaches(value: number, s: AlarmSeries): boolean {
  return isBreaching(value, s.comparison, s.threshold);
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}
