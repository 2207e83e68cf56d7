// The bodies the local llama.cpp server answers with, in the OpenAI API's shapes: a whole chat completion or
// text completion, and the chunks of a streamed one (SSE `data:` payloads), including the usage chunk that
// `stream_options.include_usage` asks for (empty `choices`, then `data: [DONE]`).

import { randomUUID } from "node:crypto";
import type { FinishReason, GenerationResult } from "./generation";

/** What every body and chunk of one response shares. */
interface ResponseHeader {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function responseHeader(kind: "chat" | "completion", model: string): ResponseHeader {
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`;
  return { id, created: Math.floor(Date.now() / 1000), model };
}

export function usage(promptTokens: number, result: GenerationResult): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: promptTokens + result.completionTokens,
  };
}

export function chatCompletion(header: ResponseHeader, result: GenerationResult, promptTokens: number) {
  return {
    ...header,
    object: "chat.completion",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: result.text },
        logprobs: null,
        finish_reason: result.finishReason,
      },
    ],
    usage: usage(promptTokens, result),
  };
}

/** A streamed chat chunk: the role first, then content deltas, then an empty delta with the finish reason. */
export function chatChunk(
  header: ResponseHeader,
  delta: { readonly role?: "assistant"; readonly content?: string },
  finishReason: FinishReason | null,
  includeUsage: boolean,
) {
  return {
    ...header,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

export function textCompletion(header: ResponseHeader, result: GenerationResult, promptTokens: number) {
  return {
    ...header,
    object: "text_completion",
    choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: result.finishReason }],
    usage: usage(promptTokens, result),
  };
}

export function textChunk(
  header: ResponseHeader,
  text: string,
  finishReason: FinishReason | null,
  includeUsage: boolean,
) {
  return {
    ...header,
    object: "text_completion",
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk before `[DONE]` when the client asked for usage. */
export function usageChunk(
  header: ResponseHeader,
  object: "chat.completion.chunk" | "text_completion",
  counts: Usage,
) {
  return { ...header, object, choices: [], usage: counts };
}
