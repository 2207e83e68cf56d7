// The report's first section: which rollout this is (model, version, rollout id, where it came from, when,
// its strategy and stickiness once outcome.json tells them) and the verdict of each gate, with when it was reached and the document it comes from.

import { describeStrategy } from "../traffic/rollout-strategy";
import { describeStickiness } from "../traffic/sticky-routing";
import { type Html, markup } from "./html";
import { facts, PASSED, section, verdict } from "./report-parts";
import type { OutcomeDocument, ReportDocument } from "./report-documents";
import { formatCount, formatTimestamp } from "./report-format";
import type { RolloutReportInput } from "./report-input";

interface GateRow {
  readonly gate: string;
  readonly verdict: Html;
  readonly at?: string;
  readonly summary: string;
  readonly key: string;
}

export function renderRolloutSection(input: RolloutReportInput): Html {
  const { rollout } = input;
  const started = rollout.startedAt ?? earliest(input);
  const gates = [validationRow(input), stressRow(input), evalRow(input)];
  const outcome = input.outcome.status === "read" ? input.outcome.value : undefined;
  return section(
    "rollout",
    "The rollout",
    markup`${facts([
      ["Model", rollout.model],
      ["Version", rollout.version],
      ["Rollout", markup`<code>${rollout.id}</code>`],
      ["Execution", rollout.executionId ? markup`<code>${rollout.executionId}</code>` : undefined],
      [
        "Manifest",
        rollout.source &&
          markup`<code>${rollout.source.key}</code> in bucket <code>${rollout.source.bucket}</code>`,
      ],
      [
        rollout.startedAt ? "Started" : "First report written",
        started ? formatTimestamp(started) : "not recorded",
      ],
      ["Strategy", outcome && strategyText(outcome)],
      ["Sticky by", outcome && stickinessText(outcome)],
    ])}
      <table>
        <caption>
          The gates
        </caption>
        <thead>
          <tr>
            <th scope="col">Gate</th>
            <th scope="col">Verdict</th>
            <th scope="col">Decided</th>
            <th scope="col">Summary</th>
            <th scope="col">Report</th>
          </tr>
        </thead>
        <tbody>
          ${gates.map(
            (row) =>
              markup`<tr>
                <th scope="row">${row.gate}</th>
                <td>${row.verdict}</td>
                <td>${row.at ? formatTimestamp(row.at) : "—"}</td>
                <td>${row.summary}</td>
                <td><code>${row.key}</code></td>
              </tr> `,
          )}
        </tbody>
      </table>`,
  );
}

function validationRow({ validation }: RolloutReportInput): GateRow {
  const gate = "Validate";
  if (validation.status !== "read") return absentRow(gate, validation);
  const v = validation.value;
  return {
    gate,
    verdict: verdict(v.valid, { pass: "valid", fail: "not valid" }),
    at: v.at,
    summary: `${formatCount(v.errors)} error${v.errors === 1 ? "" : "s"}, ${formatCount(v.warnings)} warning${v.warnings === 1 ? "" : "s"}`,
    key: validation.key,
  };
}

function stressRow({ stress }: RolloutReportInput): GateRow {
  const gate = "Stress test";
  if (stress.status !== "read") return absentRow(gate, stress);
  const { document } = stress.value;
  const held = document.checks.filter((c) => c.pass).length;
  return {
    gate,
    verdict: verdict(document.passed, PASSED),
    at: document.at,
    summary: `${held} of ${document.checks.length} checks held over ${formatCount(document.summary.requests)} requests`,
    key: stress.key,
  };
}

function evalRow({ eval: evaluation }: RolloutReportInput): GateRow {
  const gate = "Eval";
  if (evaluation.status !== "read") return absentRow(gate, evaluation);
  const suites = evaluation.value.suites;
  const passed = suites.filter((s) => s.pass).length;
  return {
    gate,
    verdict: verdict(evaluation.value.passed, PASSED),
    at: evaluation.value.at,
    summary: `${passed} of ${suites.length} suite${suites.length === 1 ? "" : "s"} passed`,
    key: evaluation.key,
  };
}

function absentRow(gate: string, document: ReportDocument<unknown>): GateRow {
  return document.status === "missing"
    ? {
        gate,
        verdict: markup`<span class="verdict none">did not run</span>`,
        summary: "no report",
        key: document.key,
      }
    : {
        gate,
        verdict: markup`<span class="verdict none">unknown</span>`,
        summary: "its report could not be read",
        key: document.key,
      };
}

function earliest(input: RolloutReportInput): string | undefined {
  const times = [
    input.validation.status === "read" ? input.validation.value.at : undefined,
    input.stress.status === "read" ? input.stress.value.document.at : undefined,
    input.eval.status === "read" ? input.eval.value.at : undefined,
  ].filter((at): at is string => at !== undefined);
  return times.sort()[0];
}

/** `canary: 5% → 25% → 100%`, `linear (10% more every 300 s)`, `blue/green: …` — from outcome.json. */
function strategyText(outcome: OutcomeDocument): string | undefined {
  const { strategy } = outcome;
  if (!strategy) return undefined;
  switch (strategy.kind) {
    case "canary":
      return strategy.weights?.length
        ? `canary: ${strategy.weights.map((w) => `${w}%`).join(" → ")}, each step baked under the alarms`
        : "canary";
    case "linear":
      return describeStrategy(strategy);
    case "blueGreen":
      return "blue/green: all traffic to the warm candidate at once after the gates, the stable kept warm through the watch";
  }
}

/** `header x-session-id: …` — the conversation key of a sticky canary, from outcome.json. */
function stickinessText(outcome: OutcomeDocument): string | undefined {
  return outcome.stickiness
    ? `${describeStickiness(outcome.stickiness)}: a conversation stays on the version it started on while weights move`
    : undefined;
}
