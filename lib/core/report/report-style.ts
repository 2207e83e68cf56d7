// The rollout report's stylesheet, inline in the page (it may load nothing): readable on screen, and on
// paper — A4, charts kept whole, table rows not split, verdicts told by sign and word as well as colour.

import { Html } from "./html";

export const REPORT_STYLE = new Html(`
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 0.2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid #d5d5d5; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
nav a { margin-right: 1em; }
code, .text { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 0.8em 0; font-size: 0.95em; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #d5d5d5; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
.text { white-space: pre-wrap; max-width: 28em; }
.verdict { font-weight: 600; white-space: nowrap; }
.verdict.pass { color: #1b6e20; }
.verdict.fail { color: #b3261e; }
.verdict.none { color: #666666; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
tr.error td:first-child { color: #b3261e; font-weight: 600; }
tr.warning td:first-child { color: #8a5a00; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; flex: 1 1 460px; }
svg.chart { width: 100%; height: auto; max-width: 640px; }
.note, .not-run { color: #555555; font-size: 0.92em; }
.not-run { font-style: italic; }
.end { border-left: 6px solid #666666; padding: 0.4em 1em; margin: 0.8em 0; background: #f6f6f6; }
.end p { margin: 0.3em 0; }
.end.succeeded { border-color: #1b6e20; background: #eef7ee; }
.end.succeeded strong:first-child { color: #1b6e20; }
.end.stopped { border-color: #b3261e; background: #fdf1f0; }
.end.stopped strong:first-child { color: #b3261e; }
td.breach { color: #b3261e; font-weight: 600; }
.unreadable { border-left: 4px solid #b3261e; padding: 0.2em 1em; background: #fdf1f0; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  .charts { display: block; }
  figure, tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  svg.chart { max-width: 16cm; }
}
`);
