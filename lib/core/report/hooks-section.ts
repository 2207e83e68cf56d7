// The report's hooks section: every hook the rollout ran (gates.hooks), from the RunHooks transitions in
// outcome.json — its point (and canary step), whether it passed, failed and stopped the rollout, or failed and
// was ignored, its reason, how long it took and how many calls it made.

import { type Html, markup } from "./html";
import { section, unavailable } from "./report-parts";
import type { OutcomeDocument, ReportDocument } from "./report-documents";
import { formatTimestamp } from "./report-format";

const RESULT_WORDS = {
  passed: markup`<span class="verdict pass">✔ passed</span>`,
  failed: markup`<span class="verdict fail">✘ failed: stopped the rollout</span>`,
  ignored: markup`<span class="verdict fail">✘ failed: ignored (onFailure: ignore)</span>`,
} as const;

export function renderHooksSection(outcome: ReportDocument<OutcomeDocument>): Html {
  const title = "Hooks";
  if (outcome.status !== "read") {
    return section("hooks", title, unavailable(outcome, "The hooks' runs are shown once the rollout ends"));
  }
  const runs = outcome.value.transitions.flatMap((t) => (t.hook ? [{ at: t.at, hook: t.hook }] : []));
  if (runs.length === 0) {
    return section(
      "hooks",
      title,
      markup`<p class="not-run">No hook ran: the manifest names none under <code>gates.hooks</code>, or the rollout ended before its first.</p>`,
    );
  }
  return section(
    "hooks",
    title,
    markup`<table>
      <caption>
        Each hook's run, in order
      </caption>
      <thead>
        <tr>
          <th scope="col">Hook</th>
          <th scope="col">Point</th>
          <th scope="col">Result</th>
          <th scope="col">Reason</th>
          <th scope="col">Took</th>
          <th scope="col">Calls</th>
          <th scope="col">Finished</th>
        </tr>
      </thead>
      <tbody>
        ${runs.map(
          ({ at, hook }) =>
            markup`<tr>
              <th scope="row">${hook.name}</th>
              <td>${hook.step === undefined ? hook.at : `${hook.at}, step ${hook.step}`}</td>
              <td>${RESULT_WORDS[hook.result]}</td>
              <td>${hook.reason}</td>
              <td>${`${Math.round(hook.durationMs / 100) / 10} s`}</td>
              <td>${String(hook.attempts)}</td>
              <td>${formatTimestamp(at)}</td>
            </tr> `,
        )}
      </tbody>
    </table>`,
  );
}
