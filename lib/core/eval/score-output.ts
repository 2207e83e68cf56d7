// Scores one model output against its item: extracts the answer the way the item's scorer reads answers
// and says whether it is right. The extraction is kept with the verdict so a report shows what was read,
// not only whether it matched.

import { extractChoice } from "./choice-answer";
import { normalizeForExactMatch } from "./exact-match";
import { extractJson } from "./json-answer";
import { extractNumber, parseNumber, sameNumber } from "./numeric-answer";
import { checkPattern } from "./regex-safety";
import type { SuiteItem } from "./suite-item";

export interface ScoredOutput {
  readonly correct: boolean;
  /** What the scorer read from the output (the letter, the number, the matched text); absent if nothing. */
  readonly extracted?: string;
}

/**
 * Outputs are scored on at most this many characters (the last ones, where an answer ends): it bounds the
 * time a pattern that is slow but not exponential can take on a runaway output.
 */
const MAX_SCORED_CHARS = 32_000;

export function scoreOutput(item: SuiteItem, fullOutput: string): ScoredOutput {
  const output = fullOutput.length > MAX_SCORED_CHARS ? fullOutput.slice(-MAX_SCORED_CHARS) : fullOutput;
  switch (item.scorer) {
    case "choice": {
      const letter = extractChoice(output, item.choices?.length);
      return withExtracted(letter === item.answer, letter);
    }
    case "exact": {
      const ignore = (item.ignore ?? []).map((pattern) => compile(pattern));
      const normalized = normalizeForExactMatch(output, ignore);
      return withExtracted(normalized === normalizeForExactMatch(item.answer, ignore), normalized);
    }
    case "numeric": {
      const written = extractNumber(output, item.mode);
      const value = written === undefined ? undefined : parseNumber(written);
      const expected = parseNumber(item.answer);
      const correct = value !== undefined && expected !== undefined && sameNumber(value, expected);
      return withExtracted(correct, value === undefined ? undefined : String(value));
    }
    case "contains": {
      const at = output.toLowerCase().indexOf(item.answer.toLowerCase());
      return at < 0 ? { correct: false } : withExtracted(true, output.slice(at, at + item.answer.length));
    }
    case "regex": {
      const match = compile(item.answer).exec(output);
      return withExtracted(match !== null, match?.[0]);
    }
    case "json-valid": {
      const json = extractJson(output);
      return withExtracted(json !== undefined, json);
    }
  }
}

function withExtracted(correct: boolean, extracted: string | undefined): ScoredOutput {
  return extracted === undefined ? { correct } : { correct, extracted };
}

/** Items were checked when the suite was parsed; an unsafe pattern here is a bug, not bad input. */
function compile(pattern: string): RegExp {
  const check = checkPattern(pattern);
  if (!check.ok) throw new Error(`an unchecked eval pattern reached the scorer: ${check.problem}`);
  return check.regex;
}
