// The items of a suite that got no answer, told apart from the ones answered wrong and grouped by what went
// wrong — `HTTP 400 ×36` says "the server refused them" at a glance, where 36 sentences would not. The kinds
// come from the runner's error texts (lib/eval/completion-attempt.ts).

import type { ItemResult } from "./eval-results";

/** The kind of failure an item's error names: `HTTP 400`, `timeout`, `malformed answer` or `network error`. */
export function failureKind(error: string): string {
  const status = /^HTTP (\d{3})\b/.exec(error);
  if (status) return `HTTP ${status[1]}`;
  if (error.startsWith("no answer within")) return "timeout";
  if (/^the answer (is not JSON|has no choices|is larger than)/.test(error)) return "malformed answer";
  return "network error";
}

/** Items without an answer by kind of failure, the most frequent first. */
export function unansweredByKind(items: readonly ItemResult[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const item of items) {
    if (item.verdict !== "error") continue;
    const kind = failureKind(item.error ?? "");
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(kinds).sort(([, a], [, b]) => b - a));
}

/** `HTTP 400 ×36, timeout ×2`. */
export function describeKinds(kinds: Readonly<Record<string, number>>): string {
  return Object.entries(kinds)
    .map(([kind, n]) => `${kind} ×${n}`)
    .join(", ");
}
