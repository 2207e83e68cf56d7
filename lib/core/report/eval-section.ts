// The report's section on the eval gate: one row per suite — its score with the Wilson 95% interval, n, the
// items answered wrong and those without an answer (by kind, against maxErrorRate: past it the suite was not
// evaluated), minScore, and, when the stable version kept results of the suite, stable's score on the same
// items with the paired comparison (b, c, exact McNemar p) — then, per suite, the gate's reasons, the first
// items it got wrong (prompt, expected answer, what was extracted and the raw output) and, apart, the first
// items that got no answer with the server's error. Outputs are the model's and
// untrusted: like every other string here they reach the page only as escaped text.

import { dataValue, type Html, markup } from "./html";
import { PASSED, section, unavailable, verdict } from "./report-parts";
import { describeKinds } from "../eval/unanswered-items";
import type { EvalDocument, EvalItem, EvalSuiteEntry, ReportDocument } from "./report-documents";
import { formatCount, formatPercent, formatPValue } from "./report-format";

/** Failing items shown per suite; eval.json has every item. */
const MAX_SHOWN_FAILURES = 5;
/** A prompt or an output longer than this is cut in the page (eval.json has it whole). */
const MAX_SHOWN_CHARS = 1000;

export function renderEvalSection(evaluation: ReportDocument<EvalDocument>): Html {
  if (evaluation.status !== "read") {
    return section(
      "eval",
      "Eval",
      unavailable(
        evaluation,
        "The eval gate did not run for this rollout: the gate is off in the manifest (gates.eval.enabled: false), or the rollout stopped before it",
      ),
    );
  }
  const document = evaluation.value;
  const failing = document.suites.filter((s) => !s.pass);
  return section(
    "eval",
    "Eval",
    markup`<p>
        ${verdict(document.passed, PASSED)}
        ${
          failing.length === 0
            ? `every one of the ${document.suites.length} suites passed.`
            : `${failing.length} of ${document.suites.length} suites failed: ${failing.map((s) => s.suite).join(", ")}.`
        }
        ${describeStable(document.stable)}
      </p>
      ${renderSuiteTable(document.suites)} ${document.suites.map(renderSuiteDetail)}`,
  );
}

function describeStable(stable: EvalDocument["stable"]): string {
  if (stable === null)
    return "There is no stable version to compare with (a first release): only minScore applies.";
  if (stable.missing) return `Stable ${stable.version} was not compared: ${stable.missing}`;
  return `Compared item by item with stable ${stable.version} on the suites it kept results of.`;
}

function renderSuiteTable(suites: readonly EvalSuiteEntry[]): Html {
  return markup`<table>
      <caption>
        Suites
      </caption>
      <thead>
        <tr>
          <th scope="col">Suite</th>
          <th scope="col">Verdict</th>
          <th scope="col">Score (95% CI)</th>
          <th scope="col">n</th>
          <th scope="col">Wrong</th>
          <th scope="col">No answer</th>
          <th scope="col">minScore</th>
          <th scope="col">Stable on the same items</th>
          <th scope="col">b</th>
          <th scope="col">c</th>
          <th scope="col">p</th>
          <th scope="col">maxRegression</th>
        </tr>
      </thead>
      <tbody>
        ${suites.map((s) => {
          const c = s.comparison && s.comparison.paired > 0 ? s.comparison : undefined;
          const versus = c
            ? markup`<td>
                  ${dataPercent(c.stableScore)} (candidate ${dataPercent(c.candidateScore)}) on
                  ${formatCount(c.paired)} items
                </td>
                <td>${formatCount(c.onlyStableCorrect)}</td>
                <td>${formatCount(c.onlyCandidateCorrect)}</td>
                <td>${dataValue(c.pValue, formatPValue(c.pValue))}</td>`
            : markup`<td colspan="4">not compared</td>`;
          return markup`<tr>
            <th scope="row">${s.suite}</th>
            <td>${s.unanswered?.tooMany ? verdict(false, NOT_EVALUATED) : verdict(s.pass, PASSED)}</td>
            <td>
              ${dataPercent(s.score.score)}
              (${formatPercent(s.score.interval.low)}–${formatPercent(s.score.interval.high)})
            </td>
            <td>${formatCount(s.score.correct)}/${formatCount(s.score.items)}</td>
            <td>${formatCount(s.score.wrong)}</td>
            <td>${unansweredCell(s)}</td>
            <td>${formatPercent(s.minScore)}</td>
            ${versus}
            <td>${(s.maxRegression * 100).toFixed(1)} points</td>
          </tr> `;
        })}
      </tbody>
    </table>
    <p class="note">
      b: items only stable got right; c: items only the candidate got right; p: two-sided exact McNemar test
      on b and c. A suite fails when its score is below minScore, or when it is both more than maxRegression
      below stable on the same items and significantly so (p &lt; 0.05). A suite where more than
      maxErrorRate of the items got no answer was not evaluated: its score would measure the server's
      failures.
    </p>`;
}

const NOT_EVALUATED = { pass: "evaluated", fail: "not evaluated" } as const;

function unansweredCell(s: EvalSuiteEntry): Html | string {
  if (s.score.errors === 0) return "0";
  const share = s.unanswered
    ? ` (${formatPercent(s.unanswered.share)}; at most ${formatPercent(s.unanswered.maxErrorRate)})`
    : "";
  const kinds = s.unanswered ? markup`<br /><small>${describeKinds(s.unanswered.kinds)}</small>` : "";
  return markup`${formatCount(s.score.errors)}${share}${kinds}`;
}

function renderSuiteDetail(suite: EvalSuiteEntry, index: number): Html {
  return markup`<section class="suite" aria-labelledby="suite-${index}-heading">
    <h3 id="suite-${index}-heading">Suite ${suite.suite}</h3>
    <ul>
      ${suite.reasons.map((reason) => markup`<li>${reason}</li>`)}
    </ul>
    ${renderItems(suite, "wrong", "answered wrong", "No item was answered wrong.")}
    ${suite.score.errors > 0 ? renderItems(suite, "error", "without an answer", "") : ""}
  </section> `;
}

/** The first items of one verdict, in a table; `none` when there is no such item. */
function renderItems(suite: EvalSuiteEntry, kind: "wrong" | "error", described: string, none: string): Html {
  const failures = suite.items.filter((item) => item.verdict === kind);
  const shown = failures.slice(0, MAX_SHOWN_FAILURES);
  return markup`${
    shown.length === 0
      ? markup`<p>${none}</p>`
      : markup`<table class="items">
            <caption>
              ${shown.length < failures.length ? `The first ${shown.length} of ${formatCount(failures.length)} items ${described}` : `The ${shown.length} item${shown.length === 1 ? "" : "s"} ${described}`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Prompt</th>
                <th scope="col">Expected</th>
                <th scope="col">Extracted</th>
                <th scope="col">Output</th>
              </tr>
            </thead>
            <tbody>
              ${shown.map(renderItem)}
            </tbody>
          </table>`
  }`;
}

function renderItem(item: EvalItem): Html {
  const output =
    item.verdict === "error"
      ? markup`<em>no answer</em>${item.error ? markup`: ${clip(item.error)}` : ""}`
      : item.output === undefined
        ? markup`<em>none</em>`
        : clip(item.output);
  return markup`<tr>
    <th scope="row">
      <code>${item.id}</code><br /><span class="verdict fail">${item.verdict}</span>
      <small>${item.scorer}</small>
    </th>
    <td class="text">${clip(promptText(item.prompt))}</td>
    <td class="text">${item.expected ?? "—"}</td>
    <td class="text">${item.verdict === "error" ? "—" : (item.extracted ?? markup`<em>nothing</em>`)}</td>
    <td class="text">${output}</td>
  </tr> `;
}

function promptText(prompt: EvalItem["prompt"]): string {
  if ("messages" in prompt) return prompt.messages.map((m) => `${m.role}: ${m.content}`).join("\n");
  return prompt.prompt;
}

function clip(text: string): string {
  if (text.length <= MAX_SHOWN_CHARS) return text;
  return `${text.slice(0, MAX_SHOWN_CHARS)}… (${formatCount(text.length - MAX_SHOWN_CHARS)} more characters in eval.json)`;
}

function dataPercent(fraction: number): Html {
  return dataValue(fraction, formatPercent(fraction));
}
