// A JSONL prompt set for the load generator: one JSON object per line with `messages` (a chat, as
// [{role, content}]) or `prompt` (a string, sent as one user message). Other fields (an eval suite's `id`,
// `answer` …) are ignored, so an eval suite doubles as a prompt set. Blank lines are skipped. Every bad
// line is reported with its number, all at once.

import { chatMessageSchema } from "../core/manifest/manifest-schema";
import { estimateTokens, type LoadPrompt } from "./load-prompt";

export interface PromptLineProblem {
  /** 1-based. */
  readonly line: number;
  readonly message: string;
}

/** How many bad lines the error's message spells out; `problems` holds them all. */
const LINES_IN_MESSAGE = 20;

export class PromptFileInvalid extends Error {
  override readonly name = "PromptFileInvalid";
  constructor(
    readonly file: string,
    readonly problems: readonly PromptLineProblem[],
  ) {
    const shown = problems.slice(0, LINES_IN_MESSAGE).map((p) => `  line ${p.line}: ${p.message}`);
    const more = problems.length - shown.length;
    super(
      [
        `${file}: ${problems.length} bad line(s); each line must be {"messages": [{"role": "user", "content": "…"}]} or {"prompt": "…"}`,
        ...shown,
        ...(more > 0 ? [`  … and ${more} more`] : []),
      ].join("\n"),
    );
  }
}

/** The prompts of a JSONL text; throws PromptFileInvalid listing every bad line, or saying the set is empty. */
export function parsePromptFile(text: string, file: string): LoadPrompt[] {
  const prompts: LoadPrompt[] = [];
  const problems: PromptLineProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const parsed = parsePromptLine(line);
    if (typeof parsed === "string") problems.push({ line: i + 1, message: parsed });
    else prompts.push(parsed);
  }
  if (problems.length === 0 && prompts.length === 0) {
    problems.push({ line: 1, message: "the file holds no prompts" });
  }
  if (problems.length > 0) throw new PromptFileInvalid(file, problems);
  return prompts;
}

/** The line's prompt, or what is wrong with it. */
function parsePromptLine(line: string): LoadPrompt | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected a JSON object, found ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`;
  }
  const { messages, prompt } = value as Record<string, unknown>;
  if (messages !== undefined && prompt !== undefined) return "has both `messages` and `prompt`; keep one";
  if (prompt !== undefined) {
    if (typeof prompt !== "string" || prompt === "") return "`prompt` must be a non-empty string";
    return { messages: [{ role: "user", content: prompt }], estimatedTokens: estimateTokens(prompt) };
  }
  if (messages === undefined) return "has neither `messages` nor `prompt`";
  if (!Array.isArray(messages) || messages.length === 0) {
    return "`messages` must be a non-empty list of {role, content}";
  }
  const chat = [];
  for (const [i, message] of messages.entries()) {
    const parsed = chatMessageSchema.safeParse(message);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = [`messages[${i}]`, ...(issue?.path ?? []).map(String)].join(".");
      return `${where}: ${issue?.message ?? "invalid"} (a message is {"role": "system" | "user" | "assistant", "content": "…"})`;
    }
    chat.push(parsed.data);
  }
  const tokens = chat.reduce((sum, m) => sum + estimateTokens(m.content), 0);
  return { messages: chat, estimatedTokens: tokens };
}
