// A finding is one thing wrong (or worth knowing) about an input: a manifest field, a file, a tensor.
// Every check reports all of its findings, never just the first, so a user fixes everything in one pass.

import { terminalText } from "./text/terminal-text";

export type Severity = "error" | "warning" | "info";

export interface Finding {
  readonly severity: Severity;
  /** Stable, machine-readable code, e.g. `safetensors.offsets.overlap`, `manifest.unknown-key`. */
  readonly code: string;
  /** What was found and what was expected, as a sentence a user reads. */
  readonly message: string;
  /** The file it is about, relative to the model folder (or the manifest's file name). */
  readonly file?: string;
  /** The tensor it is about, when there is one. */
  readonly tensor?: string;
  /** The manifest or JSON path it is about, e.g. `rollout.steps[2].weight`. */
  readonly path?: string;
  /** What to do about it. */
  readonly hint?: string;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "error");
}

const severityOrder: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then warnings, then info; stable within a severity. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity]);
}

/**
 * One line per finding: `error  model.safetensors  tensor 'lm_head.weight': … (hint: …)`. Names and messages
 * quote what the files hold, so their control characters are escaped: the line stays one line.
 */
export function formatFinding(f: Finding): string {
  const where = [f.file, f.tensor ? `tensor '${f.tensor}'` : undefined, f.path].filter(Boolean).join(" ");
  const hint = f.hint ? ` Hint: ${f.hint}` : "";
  return terminalText(`${f.severity.padEnd(7)} ${where ? `${where}: ` : ""}${f.message}${hint}`);
}
