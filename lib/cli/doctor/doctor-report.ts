// What `modelship doctor` found, as a person reads it (one ✓, ✗ or – line per check, the details and the
// commands that fix a ✗ under it) and as CI reads it (`--json`), and the exit code it means: 1 when any check
// failed. Pure: the checks produce the results, this says them.

import { terminalLines } from "../../core/text/terminal-text";

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  /** Stable, for CI: `cluster-access`, `namespace`, … */
  readonly id: string;
  /** What is checked, in a few words. */
  readonly title: string;
  readonly status: CheckStatus;
  /** What was found, in one sentence (for a skip: why the check does not apply). */
  readonly summary: string;
  /** More of what was found: one line per problem or fact. */
  readonly details?: readonly string[];
  /** What to run (or do) to fix a failure, one command or step per line. */
  readonly fix?: readonly string[];
}

export interface DoctorReport {
  readonly stack: string;
  readonly region: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly checks: readonly CheckResult[];
}

const MARKS: Readonly<Record<CheckStatus, string>> = { pass: "✓", fail: "✗", skip: "–" };

/** 0 when nothing failed, 1 when a check failed. */
export function doctorExitCode(report: DoctorReport): number {
  return report.checks.some((check) => check.status === "fail") ? 1 : 0;
}

export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.title.length));
  const lines = [
    `modelship doctor: stack ${report.stack} (${report.region}), cluster ${report.cluster}, namespace ${report.namespace}`,
    "",
  ];
  for (const check of report.checks) {
    const summary = check.status === "skip" ? `skipped: ${check.summary}` : check.summary;
    lines.push(`${MARKS[check.status]} ${check.title.padEnd(width)}  ${summary}`);
    for (const detail of check.details ?? []) lines.push(`    ${detail}`);
    const [first, ...rest] = check.fix ?? [];
    if (first !== undefined) {
      lines.push(`    fix: ${first}`);
      for (const step of rest) lines.push(`         ${step}`);
    }
  }
  const failed = report.checks.filter((check) => check.status === "fail").length;
  lines.push(
    "",
    failed === 0
      ? "No problem found."
      : `${failed} problem${failed === 1 ? "" : "s"} found: fix ${failed === 1 ? "it" : "them"}, then run modelship doctor again.`,
  );
  // Names and messages come from the cluster and AWS: shown, never acted on by the terminal.
  return terminalLines(lines.join("\n"));
}

export function doctorReportJson(report: DoctorReport): string {
  const failed = report.checks.filter((check) => check.status === "fail").length;
  return JSON.stringify({ ...report, ok: failed === 0, problems: failed }, null, 2);
}
