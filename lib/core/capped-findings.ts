// Collects findings about one input, keeping every kind of problem but not every repeat of it: a broken
// file with a million tensors must not produce a million findings (a report nobody reads, a payload
// nothing can carry). Past a cap per code, the rest are counted and summarised in one closing finding.
// Each finding kept is bounded too: a name or value it quotes from a file (a tensor name of a megabyte, a
// GGUF key of 64 KB) is cut short, so twenty findings always fit in the execution state.

import type { Finding, Severity } from "./findings";

/** Findings of one code kept in full before the rest are summarised. */
const DEFAULT_CAP_PER_CODE = 50;
/** Characters kept of a finding's names (file, tensor, path) and of its sentences (message, hint). */
const MAX_NAME_CHARS = 300;
const MAX_SENTENCE_CHARS = 2000;

export class CappedFindings {
  private readonly kept: Finding[] = [];
  private readonly dropped = new Map<string, { severity: Severity; file?: string; count: number }>();
  private readonly seen = new Map<string, number>();

  constructor(private readonly capPerCode: number = DEFAULT_CAP_PER_CODE) {}

  add(finding: Finding): void {
    const count = (this.seen.get(finding.code) ?? 0) + 1;
    this.seen.set(finding.code, count);
    if (count <= this.capPerCode) {
      this.kept.push(bounded(finding));
      return;
    }
    const entry = this.dropped.get(finding.code);
    if (entry) entry.count += 1;
    else this.dropped.set(finding.code, { severity: finding.severity, file: finding.file, count: 1 });
  }

  addAll(findings: Iterable<Finding>): void {
    for (const finding of findings) this.add(finding);
  }

  /** The kept findings, then one summary per code that went over the cap. */
  list(): Finding[] {
    const summaries: Finding[] = [...this.dropped].map(([code, { severity, file, count }]) =>
      bounded({
        severity,
        code,
        message: `${count} more finding${count === 1 ? "" : "s"} like the ones above (${code}) are not listed one by one.`,
        ...(file !== undefined && { file }),
        hint: "Fix the problems listed above and validate again to see the rest.",
      }),
    );
    return [...this.kept, ...summaries];
  }
}

/** The finding with each text field cut to its limit, marked with "…" where it was cut. */
function bounded(finding: Finding): Finding {
  const cut = (text: string, limit: number): string =>
    text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
  const { message, hint, file, tensor, path } = finding;
  if (
    message.length <= MAX_SENTENCE_CHARS &&
    (hint?.length ?? 0) <= MAX_SENTENCE_CHARS &&
    Math.max(file?.length ?? 0, tensor?.length ?? 0, path?.length ?? 0) <= MAX_NAME_CHARS
  ) {
    return finding;
  }
  return {
    ...finding,
    message: cut(message, MAX_SENTENCE_CHARS),
    ...(hint !== undefined && { hint: cut(hint, MAX_SENTENCE_CHARS) }),
    ...(file !== undefined && { file: cut(file, MAX_NAME_CHARS) }),
    ...(tensor !== undefined && { tensor: cut(tensor, MAX_NAME_CHARS) }),
    ...(path !== undefined && { path: cut(path, MAX_NAME_CHARS) }),
  };
}
