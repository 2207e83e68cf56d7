// The building blocks every section of the rollout report shares: a section with its heading, a verdict
// badge, a definition list of facts, and the paragraph that stands in for a gate whose report is missing or
// could not be read — so a section is never silently empty.

import { type Html, markup, type HtmlValue } from "./html";
import type { ReportDocument } from "./report-documents";

export function section(id: string, title: string, body: HtmlValue): Html {
  return markup`<section id="${id}" aria-labelledby="${id}-heading">
    <h2 id="${id}-heading">${title}</h2>
    ${body}
  </section> `;
}

/** ✔ passed / ✘ failed, in words as well as colour and sign. */
export function verdict(pass: boolean, words: { readonly pass: string; readonly fail: string }): Html {
  return pass
    ? markup`<span class="verdict pass">✔ ${words.pass}</span>`
    : markup`<span class="verdict fail">✘ ${words.fail}</span>`;
}

export const PASSED = { pass: "passed", fail: "failed" } as const;

/** Facts as term → value; a row whose value is undefined is left out. */
export function facts(rows: readonly (readonly [string, HtmlValue])[]): Html {
  const shown = rows.filter(([, value]) => value !== undefined && value !== null && value !== false);
  return markup`<dl class="facts">
    ${shown.map(
      ([term, value]) =>
        markup`<dt>${term}</dt>
          <dd>${value}</dd>`,
    )}
  </dl>`;
}

/**
 * What a section says when its document is not there or not readable: `notRun` explains a missing one
 * (the gate is off, or the rollout stopped before it).
 */
export function unavailable(
  document: Exclude<ReportDocument<unknown>, { status: "read" }>,
  notRun: string,
): Html {
  if (document.status === "missing") {
    return markup`<p class="not-run">${notRun} (there is no <code>${document.key}</code>).</p>`;
  }
  return markup`<div class="unreadable" role="note">
    <p>
      <strong>The report <code>${document.key}</code> could not be read</strong>, so this section shows
      nothing from it:
    </p>
    <ul>
      ${document.problems.map((problem) => markup`<li>${problem}</li>`)}
    </ul>
    <p>
      The file is kept as it is in the bucket; if it was edited by hand or by another tool, rerun the rollout
      to write it again.
    </p>
  </div>`;
}
