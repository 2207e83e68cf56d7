// The rollout's report.html: one self-contained page — inline CSS and inline SVG, no script, no font, no
// image, nothing fetched (a Content-Security-Policy says so to the browser too) — with how the rollout ended,
// the rollout and its gates' verdicts, its shadow (paired answers), its canary (steps, alarms' metrics against
// their thresholds, what it recorded), the hooks it ran, the validation, the stress test (checks, latency
// distributions, throughput over time)
// and the eval (each suite next to stable's). It stays small: charts come from histogram percentiles and
// the timeline, and each suite lists only its first few wrong answers.

import { renderEvalSection } from "./eval-section";
import { renderHooksSection } from "./hooks-section";
import { markup } from "./html";
import { renderEndBanner, renderOutcomeSection } from "./outcome-section";
import type { RolloutReportInput } from "./report-input";
import { REPORT_STYLE } from "./report-style";
import { renderRolloutSection } from "./rollout-section";
import { renderShadowSection } from "./shadow-section";
import { renderStressSection } from "./stress-section";
import { renderValidationSection } from "./validation-section";

export function renderRolloutReport(input: RolloutReportInput): string {
  const { rollout } = input;
  const prefix = `reports/${rollout.model}/${rollout.version}/${rollout.id}/`;
  return markup`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${rollout.model} ${rollout.version}: rollout report</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<header>
<h1>${rollout.model} ${rollout.version}</h1>
<p>Rollout <code>${rollout.id}</code> — its gates, its canary and its end, as modelship recorded them.</p>
${renderEndBanner(input.outcome, input.writtenBy)}
<nav aria-label="Sections"><a href="#rollout">The rollout</a> ${input.shadow?.status === "read" && markup`<a href="#shadow">Shadow traffic</a> `}<a href="#canary">The canary and the end</a> <a href="#hooks">Hooks</a> <a href="#validation">Validation</a> <a href="#stress">Stress test</a> <a href="#eval">Eval</a></nav>
</header>
<main>
${renderRolloutSection(input)}
${renderShadowSection(input.shadow)}
${renderOutcomeSection(input.outcome)}
${renderHooksSection(input.outcome)}
${renderValidationSection(input.validation)}
${renderStressSection(input.stress)}
${renderEvalSection(input.eval)}
</main>
<footer>
<p class="note">Made by modelship from validation.json, stress.json, eval.json and outcome.json under <code>${prefix}</code>, which hold everything this page leaves out.</p>
</footer>
</body>
</html>
`.text;
}
