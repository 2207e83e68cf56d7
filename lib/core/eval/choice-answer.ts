// Reads the letter a model chose on a multiple-choice question, the way MMLU-Pro's evaluation does, so our
// scores compare with published ones: first "answer is (X)", then "Answer: X", then the last letter that
// stands alone. Markdown emphasis is dropped first, so "The answer is **(B)**" reads as B.

export const CHOICE_LETTERS = "ABCDEFGHIJ";

/**
 * The chosen letter, or undefined when the output names none. With `choiceCount` (2–10) only the letters
 * of real options count, so the pronoun "I" is not read as option I of a four-option question.
 */
export function extractChoice(
  output: string,
  choiceCount: number = CHOICE_LETTERS.length,
): string | undefined {
  const count = Math.min(Math.max(Math.trunc(choiceCount), 1), CHOICE_LETTERS.length);
  const letters = `[A-${CHOICE_LETTERS[count - 1]}]`;
  const text = output.replace(/[*_]/g, "");
  const stated = new RegExp(`(?i:answer is):?\\s*\\(?(${letters})\\)?(?![A-Za-z0-9])`).exec(text);
  if (stated) return stated[1];
  const labelled = new RegExp(`[aA]nswer:\\s*\\(?(${letters})\\)?(?![A-Za-z0-9])`).exec(text);
  if (labelled) return labelled[1];
  const standalone = text.match(new RegExp(`\\b${letters}\\b`, "g"));
  return standalone?.at(-1);
}
