// What an OpenAI-compatible answer carries that modelship reads, from one JSON object: a whole answer
// (`/v1/chat/completions`, `/v1/completions`) or one chunk of a streamed one. The first choice's text — `text`
// for a completion, `message.content` (or `delta.content` in a chunk) for a chat, a string or an array of text
// parts — its finish reason, and the token counts in `usage`. One reader for the smoke/eval client and the
// shadow's samples, so both take the same fields. Pure.

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface AnswerPart {
  /** The first choice's text; undefined when it has none (a role-only chunk, a usage-only chunk, no choices). */
  readonly text?: string;
  /** The first choice's `finish_reason`: a string, null while generating, undefined when absent. */
  readonly finishReason?: string | null;
  /** `usage`, when it has a whole `completion_tokens` (a missing `prompt_tokens` counts 0). */
  readonly usage?: Usage;
}

/** Reads a whole answer (`message`) or a streamed chunk (`delta`). */
export function readAnswerPart(json: unknown, part: "message" | "delta"): AnswerPart {
  const choices = field(json, "choices");
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const completion = field(choice, "text");
  const text =
    typeof completion === "string" ? completion : contentText(field(field(choice, part), "content"));
  const finishReason = field(choice, "finish_reason");
  const usage = readUsage(field(json, "usage"));
  return {
    ...(text === undefined ? {} : { text }),
    ...(typeof finishReason === "string" || finishReason === null ? { finishReason } : {}),
    ...(usage ? { usage } : {}),
  };
}

/** A message's content as text: a string, or its text parts joined. */
export function contentText(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  return content
    .map((item) => {
      const text = field(item, "text");
      return typeof text === "string" ? text : "";
    })
    .join("");
}

function readUsage(value: unknown): Usage | undefined {
  const prompt = field(value, "prompt_tokens");
  const completion = field(value, "completion_tokens");
  if (!isCount(completion)) return undefined;
  return { promptTokens: isCount(prompt) ? prompt : 0, completionTokens: completion };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
