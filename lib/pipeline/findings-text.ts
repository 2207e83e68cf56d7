// Findings about an incoming event (a command, an alarm's state change) as one sentence for the answer a
// caller reads: every finding with its path, and the suggestion when there is one.

import type { Finding } from "../core/findings";

/** `detail.model: expected a model name …, found 'Llama 3'; detail-type: … (Did you mean 'Rollback Requested'?).` */
export function findingsSentence(findings: readonly Finding[]): string {
  const parts = findings.map((f) => {
    const message = f.message.replace(/\.$/, "");
    return `${f.path ? `${f.path}: ` : ""}${message}${f.hint ? ` (${f.hint})` : ""}`;
  });
  return `${parts.join("; ")}.`;
}
