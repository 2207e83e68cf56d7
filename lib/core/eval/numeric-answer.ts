// Reads the number a model gave as its answer, the way lm-evaluation-harness scores GSM8K: `strict` takes
// the first "#### <number>", `flexible` (the default) the last number in the text. Thousands separators,
// a dollar sign and a trailing full stop are ignored, and numbers are compared as numbers, so "1,000"
// equals "1000.0" and "$12." equals 12.

export type NumericMode = "strict" | "flexible";

const STRICT = /#### (-?[0-9.,]+)/;
const FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;
const PLAIN_NUMBER = /^-?(?:\d+\.?\d*|\.\d+)$/;

/** The answer's number as written (e.g. `$1,234.`), or undefined when the output has none. */
export function extractNumber(output: string, mode: NumericMode): string | undefined {
  if (mode === "strict") {
    const match = STRICT.exec(output)?.[1];
    return match !== undefined && parseNumber(match) !== undefined ? match : undefined;
  }
  // lm-eval takes the last match even when it is only punctuation (", ." in "e.g., 5"); the last one that
  // reads as a number is what the model meant.
  const matches = [...output.matchAll(FLEXIBLE)].map((m) => m[0]);
  return matches.findLast((m) => parseNumber(m) !== undefined);
}

/** `"$1,234."` → 1234; undefined for text that is not a number once `,` `$` and a final `.` are dropped. */
export function parseNumber(text: string): number | undefined {
  const plain = text.trim().replace(/[,$]/g, "").replace(/\.$/, "");
  if (!PLAIN_NUMBER.test(plain)) return undefined;
  const value = Number(plain);
  return Number.isFinite(value) ? value : undefined;
}

/** Equal as numbers, allowing for the rounding of a decimal written out (0.1 + 0.2 → "0.30000000000000004"). */
export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}
