// The report's shadow section (shadow.json): how much of the stable's traffic was copied to the candidate and
// for how long, the verdict, and the paired answers side by side — the stable's (what the user got) and the
// candidate's to the same request, each with its length and latency — a person's quick look at what the new
// version changes. Every text is the gateway's clipped copy, escaped by `markup`; the pairs are bounded by
// the document's schema. A rollout without a shadow has no section.

import { type Html, markup } from "./html";
import { facts, section, unavailable, verdict } from "./report-parts";
import type { ReportDocument, ShadowDocument } from "./report-documents";
import { formatCount, formatMs, formatSeconds, formatTimestamp } from "./report-format";

type Answer = Extract<ShadowDocument["samples"], { pairs: unknown }>["pairs"][number]["stable"];

export function renderShadowSection(document: ReportDocument<ShadowDocument> | undefined): Html | undefined {
  if (!document || document.status === "missing") return undefined;
  if (document.status !== "read") {
    return section("shadow", "Shadow traffic", unavailable(document, "The shadow wrote nothing"));
  }
  const shadow = document.value;
  const { samples } = shadow;
  const stable = shadow.stableVersion ?? "the stable version";
  return section(
    "shadow",
    "Shadow traffic",
    markup`<p>
        ${verdict(!shadow.verdict.rollback, { pass: "passed", fail: "rolled back" })}
        ${shadow.verdict.reason}
      </p>
      ${facts([
        ["Mirrored", `${shadow.percent}% of ${stable}'s requests to ${shadow.version}`],
        ["For", formatSeconds(shadow.seconds)],
        ["Since", shadow.since ? formatTimestamp(shadow.since) : undefined],
        [
          "Copies",
          "unavailable" in samples
            ? undefined
            : `${formatCount(samples.mirrored)} sent, ${formatCount(samples.failed)} not answered with a 2xx, ${formatCount(samples.dropped)} dropped (too many in flight)`,
        ],
      ])}
      <p class="note">
        Every user was answered by ${stable}; the candidate's answers to the copies were thrown away. The alarms
        judged the candidate on them as in a bake.
      </p>
      ${
        "unavailable" in samples
          ? markup`<p class="not-run">No paired answers: ${samples.unavailable}</p>`
          : samples.pairs.length === 0
            ? markup`<p class="not-run">No paired answers: no copy was answered before the check.</p>`
            : pairsTable(samples.pairs, stable, shadow.version)
      }`,
  );
}

function pairsTable(
  pairs: Extract<ShadowDocument["samples"], { pairs: unknown }>["pairs"],
  stable: string,
  candidate: string,
): Html {
  return markup`<table class="shadow-pairs">
    <caption>
      The same requests answered by both versions (the first and the last few, each clipped)
    </caption>
    <thead>
      <tr>
        <th scope="col">Request</th>
        <th scope="col">${stable} (the user's answer)</th>
        <th scope="col">${candidate} (the copy's answer)</th>
      </tr>
    </thead>
    <tbody>
      ${pairs.map(
        (pair) =>
          markup`<tr>
            <td><span class="note">${formatTimestamp(pair.at)}</span><br>${pair.request}</td>
            <td>${answerCell(pair.stable)}</td>
            <td>${answerCell(pair.candidate)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function answerCell(answer: Answer): Html {
  const length =
    answer.completionTokens === undefined
      ? `${formatCount(answer.outputChars)} characters`
      : `${formatCount(answer.completionTokens)} tokens, ${formatCount(answer.outputChars)} characters`;
  return markup`${answer.error ? markup`<strong>${answer.error}</strong><br>` : ""}<q>${answer.text}</q><br>
    <span class="note">${length}, ${formatMs(answer.latencyMs)}</span>`;
}
