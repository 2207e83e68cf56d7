// The report's section on Validate: what the model is (format, architecture, parameters, bytes), the GPU
// plan, and every finding, errors first, each with where it is and what to do.

import { type Html, markup } from "./html";
import { facts, section, unavailable, verdict } from "./report-parts";
import type { ReportDocument, ValidationDocument } from "./report-documents";
import { formatBytes, formatCount } from "./report-format";

/** Findings shown in the page; validation.json has all of them. */
const MAX_SHOWN_FINDINGS = 100;

export function renderValidationSection(validation: ReportDocument<ValidationDocument>): Html {
  if (validation.status !== "read") {
    return section(
      "validation",
      "Validation",
      unavailable(
        validation,
        "Validate did not run for this rollout, or it stopped before writing its report",
      ),
    );
  }
  const v = validation.value;
  const dtypes = Object.entries(v.dtypes)
    .sort(([, a], [, b]) => b - a)
    .map(([dtype, n]) => `${dtype} ${formatCount(n)}`)
    .join(", ");
  const gpus =
    v.gpu.gpus === 0
      ? "CPU (no GPU)"
      : `${v.gpu.gpus} × ${v.gpu.gpuMemoryGiB} GiB GPU${v.gpu.gpus === 1 ? "" : "s"}`;
  return section(
    "validation",
    "Validation",
    markup`<p>
        ${verdict(v.valid, { pass: "valid", fail: "not valid" })} ${formatCount(v.errors)}
        error${v.errors === 1 ? "" : "s"}, ${formatCount(v.warnings)} warning${v.warnings === 1 ? "" : "s"}.
      </p>
      ${facts([
        ["Location", markup`<code>${v.location}</code>`],
        ["Format", v.format ?? "unknown"],
        ["Architecture", v.architecture],
        ["Parameters", `${formatCount(v.parameters)}${dtypes ? ` (${dtypes})` : ""}`],
        [
          "Weights",
          `${formatBytes(v.weightBytes)} of ${formatBytes(v.totalBytes)} in ${formatCount(v.files.length)} files`,
        ],
        ["Read to check it", `${formatBytes(v.bytesRead)} in ${formatCount(v.requests)} requests`],
        ["GPU plan", markup`${gpus}${v.gpu.fits ? "" : " — does not fit one node"}: ${v.gpu.explanation}`],
      ])}
      ${renderFindings(v.findings)}`,
  );
}

function renderFindings(findings: ValidationDocument["findings"]): Html {
  if (findings.length === 0) return markup`<p>No findings.</p>`;
  const shown = findings.slice(0, MAX_SHOWN_FINDINGS);
  return markup`<table>
      <caption>
        Findings (${formatCount(findings.length)})
      </caption>
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Where</th>
          <th scope="col">What was found</th>
          <th scope="col">What to do</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (f) =>
            markup`<tr class="${f.severity}">
              <td>${f.severity}</td>
              <td>
                ${[f.file, f.tensor ? `tensor '${f.tensor}'` : undefined, f.path].filter(Boolean).join(" ")}
              </td>
              <td>${f.message}</td>
              <td>${f.hint ?? ""}</td>
            </tr> `,
        )}
      </tbody>
    </table>
    ${findings.length > shown.length ? markup`<p class="note">${formatCount(findings.length - shown.length)} more findings are in validation.json.</p>` : ""}`;
}
