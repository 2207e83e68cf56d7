// Whether a model's answer is degenerate — the signs of broken weights, a wrong tokenizer or a wrong chat
// template that a status code never shows: nothing but whitespace, mostly U+FFFD and control characters
// (bytes that are not text, e.g. a vocabulary that does not match the weights), one word repeated, or a
// short cycle repeated.

/** Above this share of U+FFFD and control characters, the output is not text. */
const MAX_NOT_TEXT_SHARE = 0.5;
/** Above this share for one word (or of positions continuing a cycle), the output is a loop. */
const MAX_REPEAT_SHARE = 0.8;
/** Shorter answers are judged only for emptiness and replacement characters: "Yes yes yes" can be a fair answer. */
const MIN_WORDS_FOR_REPETITION = 8;
const MIN_CHARS_FOR_REPETITION = 24;
/** The longest cycle looked for, in words and in characters. */
const MAX_WORD_CYCLE = 6;
const MAX_CHAR_CYCLE = 16;

/** Why the output is degenerate, as a phrase (`is empty`, `repeats "the" in 46 of 50 words`), or undefined. */
export function describeDegenerateOutput(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return text === "" ? "is empty" : "is only whitespace";

  const chars = [...trimmed];
  const notText = chars.filter(isNotText).length;
  if (notText / chars.length > MAX_NOT_TEXT_SHARE) {
    const replacements = chars.filter((c) => c === "\uFFFD").length;
    return `is mostly not text: ${notText} of ${chars.length} characters are replacement characters (U+FFFD, ${replacements}) or control characters (${notText - replacements})`;
  }

  const words = trimmed.split(/\s+/);
  if (words.length >= MIN_WORDS_FOR_REPETITION) {
    const [word, count] = mostFrequent(words);
    if (count / words.length > MAX_REPEAT_SHARE) {
      return `repeats ${quote(word)} in ${count} of ${words.length} words`;
    }
    const wordCycle = repeatedCycle(words, MAX_WORD_CYCLE);
    if (wordCycle) {
      return `repeats the ${wordCycle.period}-word cycle ${quote(wordCycle.items.join(" "))} over ${percent(wordCycle.share)} of its words`;
    }
  }

  if (chars.length >= MIN_CHARS_FOR_REPETITION) {
    const charCycle = repeatedCycle(chars, MAX_CHAR_CYCLE);
    if (charCycle) {
      return `repeats ${quote(charCycle.items.join(""))} over ${percent(charCycle.share)} of its characters`;
    }
  }
  return undefined;
}

/** U+FFFD, and C0 and C1 control characters other than tab, newline and carriage return. */
function isNotText(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  if (code === 0xfffd) return true;
  if (code === 0x09 || code === 0x0a || code === 0x0d) return false;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

function mostFrequent(items: readonly string[]): [string, number] {
  const counts = new Map<string, number>();
  let best: [string, number] = ["", 0];
  for (const item of items) {
    const count = (counts.get(item) ?? 0) + 1;
    counts.set(item, count);
    if (count > best[1]) best = [item, count];
  }
  return best;
}

/**
 * The shortest period p ≤ maxPeriod at which most of the sequence equals itself p positions earlier — the
 * mark of a loop like "I am a I am a I am a" — with the cycle that repeats, or undefined. At least three
 * full turns are needed, so a short answer that happens to rhyme is not a loop.
 */
function repeatedCycle(
  items: readonly string[],
  maxPeriod: number,
): { period: number; items: readonly string[]; share: number } | undefined {
  for (let period = 1; period <= maxPeriod && period * 3 <= items.length; period++) {
    let matches = 0;
    for (let i = period; i < items.length; i++) if (items[i] === items[i - period]) matches++;
    const share = matches / (items.length - period);
    if (share > MAX_REPEAT_SHARE) {
      const start = firstFullCycle(items, period);
      return { period, items: items.slice(start, start + period), share };
    }
  }
  return undefined;
}

/** Where the loop has settled: the first index from which a whole cycle repeats once. */
function firstFullCycle(items: readonly string[], period: number): number {
  for (let start = 0; start + 2 * period <= items.length; start++) {
    let repeats = true;
    for (let k = 0; k < period && repeats; k++) repeats = items[start + k] === items[start + period + k];
    if (repeats) return start;
  }
  return 0;
}

function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
