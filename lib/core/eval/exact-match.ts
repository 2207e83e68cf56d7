// Normalises an answer for exact-match scoring the way lm-evaluation-harness's `exact_match` does with
// its usual options: remove the item's ignore patterns, lowercase, drop punctuation and symbols. We also
// trim and collapse whitespace, so "OK." and " ok" both equal "OK" — what "reply with exactly the word
// OK" means to a reader.

/** The text compared: both the model's output and the expected answer go through this. */
export function normalizeForExactMatch(text: string, ignore: readonly RegExp[] = []): string {
  let normalized = text;
  for (const pattern of ignore) normalized = normalized.replace(globalVersion(pattern), "");
  return normalized
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, "")
    .replace(/\s+/g, " ")
    .trim();
}

function globalVersion(pattern: RegExp): RegExp {
  return pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
}
