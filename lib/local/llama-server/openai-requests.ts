// Reads the body of an OpenAI `/v1/chat/completions` or `/v1/completions` request into what the local
// llama.cpp server generates from, checking every field it understands. Every problem in a body is reported
// at once (the message lists them all; `param` names the first). Fields this server cannot honour (tools,
// logprobs, several choices) are refused rather than ignored, so a client never gets an answer to a
// different question than it asked; fields that do not change the answer (`user`, `metadata`) are ignored.

import { OpenAiError } from "./openai-error";

export interface Sampling {
  /** 0 picks the most likely token every time. */
  readonly temperature: number;
  readonly topP: number;
  /** Makes sampling reproducible; absent: a different draw each request. */
  readonly seed?: number;
  readonly frequencyPenalty: number;
  readonly presencePenalty: number;
}

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

interface GenerationParams {
  readonly model: string;
  /** Absent: until the end of the turn or the context is full. */
  readonly maxTokens?: number;
  readonly sampling: Sampling;
  readonly stop: readonly string[];
  readonly stream: boolean;
  /** `stream_options.include_usage`: a last chunk carries the usage. */
  readonly includeUsage: boolean;
}

export interface ChatRequest extends GenerationParams {
  readonly messages: readonly ChatMessage[];
}

export interface CompletionRequest extends GenerationParams {
  readonly prompt: string;
}

interface Problem {
  readonly param: string;
  readonly message: string;
}

type Fields = Readonly<Record<string, unknown>>;

const MAX_STOP_STRINGS = 4;

export function parseChatRequest(body: unknown, servedName: string): ChatRequest {
  const fields = requireObject(body);
  checkModel(fields, servedName);
  const problems: Problem[] = [];
  const messages = readMessages(fields["messages"], problems);
  refuseUnsupported(fields, problems, [
    ["tools", "tool calling"],
    ["functions", "function calling"],
    ["tool_choice", "tool calling"],
    ["function_call", "function calling"],
    ["audio", "audio output"],
  ]);
  const params = readGenerationParams(fields, problems, "max_completion_tokens");
  if (fields["logprobs"] !== undefined && fields["logprobs"] !== false && fields["logprobs"] !== null) {
    problems.push({
      param: "logprobs",
      message: "`logprobs` is not supported by this server; leave it out.",
    });
  }
  const responseFormat = fields["response_format"];
  if (responseFormat !== undefined && responseFormat !== null && !isTextFormat(responseFormat)) {
    problems.push({
      param: "response_format",
      message: 'Only `response_format: {"type": "text"}` is supported by this server (no JSON mode).',
    });
  }
  throwProblems(problems);
  return { ...(params as GenerationParams), messages: messages as ChatMessage[] };
}

export function parseCompletionRequest(body: unknown, servedName: string): CompletionRequest {
  const fields = requireObject(body);
  checkModel(fields, servedName);
  const problems: Problem[] = [];
  const prompt = readPrompt(fields["prompt"], problems);
  refuseUnsupported(fields, problems, [["suffix", "insertion (suffix)"]]);
  const params = readGenerationParams(fields, problems, "max_tokens");
  if (fields["logprobs"] !== undefined && fields["logprobs"] !== null && fields["logprobs"] !== 0) {
    problems.push({
      param: "logprobs",
      message: "`logprobs` is not supported by this server; leave it out.",
    });
  }
  if (fields["echo"] !== undefined && fields["echo"] !== false && fields["echo"] !== null) {
    problems.push({ param: "echo", message: "`echo` is not supported by this server; leave it out." });
  }
  if (fields["best_of"] !== undefined && fields["best_of"] !== null && fields["best_of"] !== 1) {
    problems.push({
      param: "best_of",
      message: "`best_of` must be 1 on this server (one completion per request).",
    });
  }
  throwProblems(problems);
  return { ...(params as GenerationParams), prompt: prompt as string };
}

function requireObject(body: unknown): Fields {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new OpenAiError(400, "The request body must be a JSON object.", null, "invalid_body");
  }
  return body as Fields;
}

function checkModel(fields: Fields, servedName: string): void {
  const model = fields["model"];
  if (typeof model !== "string" || model === "") {
    throw new OpenAiError(
      400,
      `\`model\` is required: a string naming the model (this server serves \`${servedName}\`).`,
      "model",
      "missing_required_parameter",
    );
  }
  if (model !== servedName) {
    throw new OpenAiError(
      404,
      `The model \`${model}\` does not exist on this server; it serves \`${servedName}\`.`,
      "model",
      "model_not_found",
    );
  }
}

function readMessages(value: unknown, problems: Problem[]): ChatMessage[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push({
      param: "messages",
      message: '`messages` must be a non-empty array of `{"role", "content"}` objects.',
    });
    return undefined;
  }
  const messages: ChatMessage[] = [];
  value.forEach((item: unknown, index) => {
    const param = `messages[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      problems.push({ param, message: `\`${param}\` must be an object with \`role\` and \`content\`.` });
      return;
    }
    const message = item as Fields;
    const role = readRole(message["role"], `${param}.role`, problems);
    const content = readContent(message["content"], `${param}.content`, problems);
    if (role !== undefined && content !== undefined) messages.push({ role, content });
  });
  return messages;
}

function readRole(value: unknown, param: string, problems: Problem[]): ChatMessage["role"] | undefined {
  if (value === "system" || value === "user" || value === "assistant") return value;
  // The newer name for system instructions.
  if (value === "developer") return "system";
  problems.push({
    param,
    message:
      value === "tool" || value === "function"
        ? `\`${param}\` "${value}" is not supported by this server (no tool calling).`
        : `\`${param}\` must be "system", "developer", "user" or "assistant", not ${JSON.stringify(value)}.`,
  });
  return undefined;
}

function readContent(value: unknown, param: string, problems: Problem[]): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const texts: string[] = [];
    let ok = true;
    value.forEach((part: unknown, index) => {
      const fields = typeof part === "object" && part !== null ? (part as Fields) : {};
      if (fields["type"] === "text" && typeof fields["text"] === "string") {
        texts.push(fields["text"]);
        return;
      }
      ok = false;
      problems.push({
        param: `${param}[${index}]`,
        message: `\`${param}[${index}]\` must be a text part (\`{"type": "text", "text": "…"}\`); this server reads text only.`,
      });
    });
    return ok ? texts.join("") : undefined;
  }
  problems.push({ param, message: `\`${param}\` must be a string or an array of text parts.` });
  return undefined;
}

function readPrompt(value: unknown, problems: Problem[]): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === "string") return value[0];
  problems.push({
    param: "prompt",
    message:
      "`prompt` must be a string (or an array holding one string); this server answers one prompt per request.",
  });
  return undefined;
}

function refuseUnsupported(
  fields: Fields,
  problems: Problem[],
  unsupported: readonly (readonly [string, string])[],
): void {
  for (const [param, feature] of unsupported) {
    const value = fields[param];
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    problems.push({
      param,
      message: `\`${param}\`: ${feature} is not supported by this server; leave it out.`,
    });
  }
}

function readGenerationParams(
  fields: Fields,
  problems: Problem[],
  preferredMaxParam: "max_tokens" | "max_completion_tokens",
): GenerationParams | undefined {
  const before = problems.length;
  const maxCompletion = readPositiveInteger(fields, "max_completion_tokens", problems);
  const maxTokens = readPositiveInteger(fields, "max_tokens", problems);
  const max = preferredMaxParam === "max_completion_tokens" ? (maxCompletion ?? maxTokens) : maxTokens;
  const temperature = readNumber(fields, "temperature", 0, 2, problems) ?? 1;
  const topP = readNumber(fields, "top_p", 0, 1, problems) ?? 1;
  const frequencyPenalty = readNumber(fields, "frequency_penalty", -2, 2, problems) ?? 0;
  const presencePenalty = readNumber(fields, "presence_penalty", -2, 2, problems) ?? 0;
  const seed = readSeed(fields, problems);
  const stop = readStop(fields["stop"], problems);
  const stream = readBoolean(fields, "stream", problems) ?? false;
  const includeUsage = readStreamOptions(fields["stream_options"], stream, problems);
  const n = fields["n"];
  if (n !== undefined && n !== null && n !== 1) {
    problems.push({ param: "n", message: "`n` must be 1 on this server (one choice per request)." });
  }
  if (problems.length > before) return undefined;
  return {
    model: fields["model"] as string,
    ...(max === undefined ? {} : { maxTokens: max }),
    sampling: {
      temperature,
      topP,
      frequencyPenalty,
      presencePenalty,
      ...(seed === undefined ? {} : { seed }),
    },
    stop,
    stream,
    includeUsage,
  };
}

function readPositiveInteger(fields: Fields, param: string, problems: Problem[]): number | undefined {
  const value = fields[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) return value;
  problems.push({
    param,
    message: `\`${param}\` must be a whole number of tokens, 1 or more, not ${show(value)}.`,
  });
  return undefined;
}

function readNumber(
  fields: Fields,
  param: string,
  min: number,
  max: number,
  problems: Problem[],
): number | undefined {
  const value = fields[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isFinite(value) && value >= min && value <= max) return value;
  problems.push({
    param,
    message: `\`${param}\` must be a number from ${min} to ${max}, not ${show(value)}.`,
  });
  return undefined;
}

function readSeed(fields: Fields, problems: Problem[]): number | undefined {
  const value = fields["seed"];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  problems.push({ param: "seed", message: `\`seed\` must be a whole number, not ${show(value)}.` });
  return undefined;
}

function readBoolean(fields: Fields, param: string, problems: Problem[]): boolean | undefined {
  const value = fields[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  problems.push({ param, message: `\`${param}\` must be true or false, not ${show(value)}.` });
  return undefined;
}

function readStop(value: unknown, problems: Problem[]): string[] {
  if (value === undefined || value === null) return [];
  const stops = typeof value === "string" ? [value] : value;
  if (
    Array.isArray(stops) &&
    stops.length <= MAX_STOP_STRINGS &&
    stops.every((stop) => typeof stop === "string" && stop !== "")
  ) {
    return stops as string[];
  }
  problems.push({
    param: "stop",
    message: `\`stop\` must be a non-empty string or an array of up to ${MAX_STOP_STRINGS} non-empty strings, not ${show(value)}.`,
  });
  return [];
}

function readStreamOptions(value: unknown, stream: boolean, problems: Problem[]): boolean {
  if (value === undefined || value === null) return false;
  if (!stream) {
    problems.push({
      param: "stream_options",
      message: "`stream_options` is only allowed when `stream` is true.",
    });
    return false;
  }
  const includeUsage = typeof value === "object" ? (value as Fields)["include_usage"] : undefined;
  if (
    typeof value !== "object" ||
    Array.isArray(value) ||
    !["boolean", "undefined"].includes(typeof includeUsage)
  ) {
    problems.push({
      param: "stream_options",
      message: '`stream_options` must be an object like `{"include_usage": true}`.',
    });
    return false;
  }
  return includeUsage === true;
}

function isTextFormat(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Fields)["type"] === "text";
}

function throwProblems(problems: readonly Problem[]): void {
  const [first] = problems;
  if (!first) return;
  const message =
    problems.length === 1
      ? first.message
      : `${problems.length} problems in the request: ${problems.map((p) => p.message).join(" ")}`;
  throw new OpenAiError(400, message, first.param, "invalid_value");
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
