// One eval item — a line of a suite file (`evals/<suite>.jsonl`) — and the checks that make it scorable:
// `{id, messages | prompt, choices?, answer, scorer, mode?, ignore?, maxTokens?}`. The zod schema checks the
// shape; `checkSuiteItem` then checks what a schema cannot say (exactly one of messages and prompt, an
// answer the scorer can use, a regex that is safe to run) and reports every problem of the item.

import { z } from "zod";
import type { Finding } from "../findings";
import { type ChatMessage, chatMessageSchema } from "../manifest/manifest-schema";
import { findingsFromSchemaIssues } from "../schema-findings";
import { CHOICE_LETTERS } from "./choice-answer";
import { type NumericMode, parseNumber } from "./numeric-answer";
import { checkPattern } from "./regex-safety";

export const SCORERS = ["choice", "exact", "numeric", "contains", "regex", "json-valid"] as const;
export type Scorer = (typeof SCORERS)[number];

/** Room for a short chain of thought before the answer. */
export const DEFAULT_MAX_TOKENS = 512;

const suiteItemSchema = z.strictObject({
  id: z.union([z.string().min(1).max(200), z.number().int().min(0)]),
  messages: z.array(chatMessageSchema).min(1).optional(),
  prompt: z.string().min(1).optional(),
  choices: z.array(z.string().min(1)).min(2).max(CHOICE_LETTERS.length).optional(),
  answer: z.union([z.string(), z.number()]).optional(),
  scorer: z.enum(SCORERS),
  /** numeric only: `strict` needs "#### <number>", `flexible` takes the last number. */
  mode: z.enum(["strict", "flexible"]).optional(),
  /** exact only: patterns removed from both texts before comparing (lm-eval `regexes_to_ignore`). */
  ignore: z.array(z.string()).optional(),
  maxTokens: z.number().int().min(1).max(32_768).optional(),
});

/** A suite line as written in a `.jsonl` file, before it is checked. */
export type SuiteLine = z.input<typeof suiteItemSchema>;

/** The question: a chat (sent to /v1/chat/completions) or a plain prompt (sent to /v1/completions). */
export type EvalPrompt = { readonly messages: readonly ChatMessage[] } | { readonly prompt: string };

interface ItemBase {
  readonly id: string;
  readonly question: EvalPrompt;
  readonly maxTokens?: number;
}

/** A checked item: the answer is in the form its scorer needs (a letter, a number, a safe pattern). */
export type SuiteItem = ItemBase &
  (
    | { readonly scorer: "choice"; readonly answer: string; readonly choices?: readonly string[] }
    | { readonly scorer: "exact"; readonly answer: string; readonly ignore?: readonly string[] }
    | { readonly scorer: "numeric"; readonly answer: string; readonly mode: NumericMode }
    | { readonly scorer: "contains"; readonly answer: string }
    | { readonly scorer: "regex"; readonly answer: string }
    | { readonly scorer: "json-valid" }
  );

export type SuiteItemCheck =
  | { readonly item: SuiteItem; readonly findings: readonly Finding[] }
  | { readonly item?: undefined; readonly findings: readonly Finding[] };

type RawItem = z.infer<typeof suiteItemSchema>;

const CODE = "eval-suite";
const ITEM_SHAPE_HINT =
  'An item is {"id", "messages" or "prompt", "answer", "scorer"} with scorer one of ' +
  `${SCORERS.join(", ")}; see docs/evals.md.`;

/**
 * Checks one parsed line. Findings carry the field as `path` (`answer`, `choices[2]`), no file: the suite
 * parser adds the file and line. Warnings (an ignored field) still yield the item.
 */
export function checkSuiteItem(value: unknown): SuiteItemCheck {
  const parsed = suiteItemSchema.safeParse(value);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, value, suiteItemSchema, {
      codePrefix: CODE,
    });
    return { findings: findings.map((f) => (f.hint ? f : { ...f, hint: ITEM_SHAPE_HINT })) };
  }
  const raw = parsed.data;
  const findings: Finding[] = [];
  const question = checkQuestion(raw, findings);
  const answer = checkAnswer(raw, findings);
  checkScorerOnlyFields(raw, findings);
  if (findings.some((f) => f.severity === "error") || question === undefined) return { findings };
  return { item: buildItem(raw, question, answer), findings };
}

function checkQuestion(raw: RawItem, findings: Finding[]): EvalPrompt | undefined {
  if (raw.messages && raw.prompt !== undefined) {
    findings.push(
      error(
        "prompt",
        "both-questions",
        "has both `messages` and `prompt`; an item asks one question.",
        "Keep `messages` for a chat model or `prompt` for a plain completion, not both.",
      ),
    );
    return undefined;
  }
  if (raw.messages) return { messages: raw.messages };
  if (raw.prompt !== undefined) return { prompt: raw.prompt };
  findings.push(
    error(
      "messages",
      "missing",
      "is required: the question, as `messages` (a chat) or `prompt` (plain text).",
      'Add e.g. "messages": [{"role": "user", "content": "What is 2 + 2?"}].',
    ),
  );
  return undefined;
}

/** The answer as the scorer reads it (a letter in capitals, the pattern, the number as written). */
function checkAnswer(raw: RawItem, findings: Finding[]): string {
  const answer = raw.answer === undefined ? undefined : String(raw.answer);
  if (raw.scorer === "json-valid") {
    if (answer !== undefined) {
      findings.push(
        warning(
          "answer",
          "ignored-field",
          "is ignored: the json-valid scorer only checks that the output is JSON.",
          "Remove `answer`, or use the `exact` or `contains` scorer to check the content.",
        ),
      );
    }
    return "";
  }
  if (answer === undefined || answer.trim() === "") {
    findings.push(
      error(
        "answer",
        answer === undefined ? "missing" : "empty-answer",
        `is required for the ${raw.scorer} scorer${answer === undefined ? "" : ", and an empty one accepts every output"}.`,
        exampleAnswer(raw.scorer),
      ),
    );
    return "";
  }
  switch (raw.scorer) {
    case "choice":
      return checkChoiceAnswer(raw, answer, findings);
    case "numeric":
      if (parseNumber(answer) === undefined) {
        findings.push(
          error(
            "answer",
            "invalid-answer",
            `expected a number for the numeric scorer, found '${answer}'.`,
            'Write the number alone, e.g. "answer": "1,250" or "answer": 1250.',
          ),
        );
      }
      return answer;
    case "regex":
      checkAnswerPattern(answer, findings);
      return answer;
    default:
      return answer;
  }
}

function checkChoiceAnswer(raw: RawItem, answer: string, findings: Finding[]): string {
  const letter = answer.trim().toUpperCase();
  const count = raw.choices?.length ?? CHOICE_LETTERS.length;
  const allowed = CHOICE_LETTERS.slice(0, count);
  if (typeof raw.answer === "number" || !/^[A-J]$/.test(letter)) {
    findings.push(
      error(
        "answer",
        "invalid-answer",
        `expected the letter of the right option (${describeLetters(allowed)}), found ${JSON.stringify(raw.answer)}.`,
        typeof raw.answer === "number"
          ? `Write the letter, not the index: 0 → "A", 1 → "B", … (${raw.answer} → "${CHOICE_LETTERS[raw.answer] ?? "?"}").`
          : 'Write one capital letter, e.g. "answer": "B".',
      ),
    );
  } else if (!allowed.includes(letter)) {
    findings.push(
      error(
        "answer",
        "invalid-answer",
        `is '${letter}', but the item has ${count} choices (${describeLetters(allowed)}).`,
        "Make the answer one of the choices' letters, or add the missing choice.",
      ),
    );
  }
  return letter;
}

function checkAnswerPattern(pattern: string, findings: Finding[]): void {
  const check = checkPattern(pattern);
  if (!check.ok) {
    findings.push(error("answer", check.code, check.problem, check.hint));
  } else if (check.regex.test("")) {
    findings.push(
      error(
        "answer",
        "regex-matches-empty",
        `the pattern '${pattern}' matches an empty output, so every answer would pass.`,
        "Require the text the answer must contain, e.g. `\\bparis\\b` rather than `(paris)?`.",
      ),
    );
  }
}

function checkScorerOnlyFields(raw: RawItem, findings: Finding[]): void {
  if (raw.choices && raw.scorer !== "choice") {
    findings.push(
      error(
        "choices",
        "scorer-mismatch",
        `are only used by the choice scorer; this item's scorer is ${raw.scorer}.`,
        'Set "scorer": "choice", or remove `choices`.',
      ),
    );
  }
  if (raw.mode !== undefined && raw.scorer !== "numeric") {
    findings.push(
      error(
        "mode",
        "scorer-mismatch",
        `is only used by the numeric scorer; this item's scorer is ${raw.scorer}.`,
        'Set "scorer": "numeric", or remove `mode`.',
      ),
    );
  }
  if (raw.ignore !== undefined && raw.scorer !== "exact") {
    findings.push(
      error(
        "ignore",
        "scorer-mismatch",
        `is only used by the exact scorer; this item's scorer is ${raw.scorer}.`,
        'Set "scorer": "exact", or remove `ignore`.',
      ),
    );
  }
  for (const [index, pattern] of (raw.ignore ?? []).entries()) {
    const check = checkPattern(pattern);
    if (!check.ok) {
      findings.push(error(`ignore[${index}]`, check.code, check.problem, check.hint));
    }
  }
}

function buildItem(raw: RawItem, question: EvalPrompt, answer: string): SuiteItem {
  const base: ItemBase = {
    id: String(raw.id),
    question,
    ...(raw.maxTokens === undefined ? {} : { maxTokens: raw.maxTokens }),
  };
  switch (raw.scorer) {
    case "choice":
      return { ...base, scorer: "choice", answer, ...(raw.choices ? { choices: raw.choices } : {}) };
    case "exact":
      return { ...base, scorer: "exact", answer, ...(raw.ignore ? { ignore: raw.ignore } : {}) };
    case "numeric":
      return { ...base, scorer: "numeric", answer, mode: raw.mode ?? "flexible" };
    case "contains":
    case "regex":
      return { ...base, scorer: raw.scorer, answer };
    case "json-valid":
      return { ...base, scorer: "json-valid" };
  }
}

function exampleAnswer(scorer: Scorer): string {
  const examples: Record<Scorer, string> = {
    choice: '"answer": "B"',
    exact: '"answer": "Paris"',
    numeric: '"answer": "72"',
    contains: '"answer": "Paris"',
    regex: '"answer": "\\\\bparis\\\\b"',
    "json-valid": "",
  };
  return `Add the expected answer, e.g. ${examples[scorer]}.`;
}

function describeLetters(letters: string): string {
  return letters.length <= 2 ? letters.split("").join(" or ") : `${letters[0]}–${letters.at(-1)}`;
}

function error(path: string, kind: string, message: string, hint?: string): Finding {
  return { severity: "error", code: `${CODE}.${kind}`, path, message, ...(hint ? { hint } : {}) };
}

function warning(path: string, kind: string, message: string, hint?: string): Finding {
  return { severity: "warning", code: `${CODE}.${kind}`, path, message, ...(hint ? { hint } : {}) };
}
