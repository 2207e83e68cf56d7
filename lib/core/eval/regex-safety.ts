// Decides whether a pattern from a suite file is safe to run on model output. JavaScript regexes
// backtrack: a pattern that repeats something that can itself repeat or match the same text two ways
// (`(a+)+`, `(a|aa)*`) takes exponential time on an answer that almost matches, and one bad suite line
// would hang the eval. Such patterns, back-references and invalid syntax are refused when the suite is
// parsed, with a sentence saying what to rewrite.

/** Longer patterns are refused: a suite's answer pattern is a line, not a program. */
export const MAX_PATTERN_LENGTH = 1000;

export type PatternCheck =
  | { readonly ok: true; readonly regex: RegExp }
  | {
      readonly ok: false;
      /** `invalid-regex`: it does not compile; `unsafe-regex`: it compiles but may not finish in time. */
      readonly code: "invalid-regex" | "unsafe-regex";
      readonly problem: string;
      readonly hint: string;
    };

interface Group {
  /** Where the group's `(` is, for messages. */
  start: number;
  /** Some quantifier inside the group (at any depth) can repeat or skip text. */
  hasQuantifier: boolean;
  /** The raw text of each top-level alternative seen so far, or undefined once one is not a plain literal. */
  alternatives: string[] | undefined;
  current: string;
  currentIsLiteral: boolean;
  hasAlternation: boolean;
  /** Some group inside (at any depth) has alternatives that can match the same text. */
  hasAmbiguousAlternation: boolean;
}

const REWRITE_HINT =
  "Rewrite the pattern so that no repeated group contains a quantifier (`(a+)+` → `a+`) or alternatives that " +
  "can match the same text (`(a|aa)+` → `a+`); anchor and bound it instead (`\\d{1,6}`).";

/** Compiles the pattern (no flags; `(?i:…)` makes part of it case-insensitive) if it is safe to run. */
export function checkPattern(pattern: string): PatternCheck {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return {
      ok: false,
      code: "unsafe-regex",
      problem: `the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed.`,
      hint: "Match the part of the answer that matters, not the whole text.",
    };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (error) {
    return {
      ok: false,
      code: "invalid-regex",
      problem: `'${pattern}' is not a valid regular expression: ${(error as Error).message.replace(/\.$/, "")}.`,
      hint: "Write a JavaScript regular expression without slashes or flags, e.g. `^\\s*(?i:paris)\\b`.",
    };
  }
  const problem = findBacktrackingTrap(pattern);
  return problem === undefined
    ? { ok: true, regex }
    : { ok: false, code: "unsafe-regex", problem, hint: REWRITE_HINT };
}

/** Why the pattern can backtrack catastrophically, or undefined. Assumes the pattern compiles. */
function findBacktrackingTrap(pattern: string): string | undefined {
  const newGroup = (start: number): Group => ({
    start,
    hasQuantifier: false,
    alternatives: [],
    current: "",
    currentIsLiteral: true,
    hasAlternation: false,
    hasAmbiguousAlternation: false,
  });
  const stack: Group[] = [newGroup(0)];
  const top = (): Group => stack[stack.length - 1]!;
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i]!;
    if (char === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && pattern[i + 2] === "<")) {
        return `the pattern uses a back-reference ('\\${next}…'), which can take exponential time to match.`;
      }
      const group = top();
      group.current += pattern.slice(i, i + 2);
      group.currentIsLiteral = false;
      i += 2;
      continue;
    }
    if (char === "[") {
      const end = classEnd(pattern, i);
      const group = top();
      group.current += pattern.slice(i, end);
      group.currentIsLiteral = false;
      i = end;
      continue;
    }
    if (char === "(") {
      const group = top();
      group.currentIsLiteral = false;
      stack.push(newGroup(i));
      i += groupPrefixLength(pattern, i);
      continue;
    }
    if (char === "|") {
      closeAlternative(top());
      top().hasAlternation = true;
      i += 1;
      continue;
    }
    if (char === ")") {
      const group = stack.pop()!;
      closeAlternative(group);
      group.hasAmbiguousAlternation ||= group.hasAlternation && !alternativesAreDistinct(group.alternatives);
      const quantifier = readQuantifier(pattern, i + 1);
      const shown = excerpt(pattern.slice(group.start, i + 1 + (quantifier?.length ?? 0)));
      if (quantifier?.repeats && group.hasQuantifier) {
        return `a repeated group contains a quantifier ('${shown}'): on an answer that almost matches, matching takes exponential time.`;
      }
      if (quantifier?.repeats && group.hasAmbiguousAlternation) {
        return `a repeated group has alternatives that can match the same text ('${shown}'): on an answer that almost matches, matching takes exponential time.`;
      }
      const parent = top();
      parent.hasQuantifier ||= group.hasQuantifier || quantifier !== undefined;
      parent.hasAmbiguousAlternation ||= group.hasAmbiguousAlternation;
      i += 1 + (quantifier?.length ?? 0);
      continue;
    }
    const quantifier = readQuantifier(pattern, i);
    if (quantifier) {
      top().hasQuantifier = true;
      top().currentIsLiteral = false;
      i += quantifier.length;
      continue;
    }
    const group = top();
    group.current += char;
    if (".^$".includes(char)) group.currentIsLiteral = false;
    i += 1;
  }
  return undefined;
}

function closeAlternative(group: Group): void {
  if (group.alternatives && group.currentIsLiteral) group.alternatives.push(group.current);
  else group.alternatives = undefined;
  group.current = "";
  group.currentIsLiteral = true;
}

/** Plain literals of which none is a prefix of another: at each position at most one can match. */
function alternativesAreDistinct(alternatives: string[] | undefined): boolean {
  if (!alternatives) return false;
  return alternatives.every((a, i) => a !== "" && alternatives.every((b, j) => i === j || !b.startsWith(a)));
}

/** The index just past the character class opening at `start`. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === "^") i += 1;
  if (pattern[i] === "]") i += 1;
  while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** `(`, `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`, `(?<name>`, `(?i:` … */
function groupPrefixLength(pattern: string, start: number): number {
  if (pattern[start + 1] !== "?") return 1;
  const rest = pattern.slice(start + 2);
  const named = /^<[A-Za-z_$][\w$]*>/.exec(rest);
  if (named) return 2 + named[0].length;
  const modifiers = /^[ims]*(?:-[ims]+)?:/.exec(rest);
  if (modifiers) return 2 + modifiers[0].length;
  return rest.startsWith("<=") || rest.startsWith("<!") ? 4 : 3;
}

/** A quantifier at `start` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each maybe lazy), or undefined. */
function readQuantifier(pattern: string, start: number): { length: number; repeats: boolean } | undefined {
  const match = /^(?:([*+?])|\{(\d+)(,(\d*))?\})\??/.exec(pattern.slice(start));
  if (!match) return undefined;
  const [text, symbol, min, comma, max] = match;
  if (symbol) return { length: text.length, repeats: symbol !== "?" };
  const repeats = comma !== undefined ? max === "" || Number(max) > 1 : Number(min) > 1;
  return { length: text.length, repeats };
}

function excerpt(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 18)}…${text.slice(-18)}`;
}
