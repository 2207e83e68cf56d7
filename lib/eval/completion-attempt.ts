// One attempt at one eval item: a non-streamed, temperature-0 request to the endpoint's
// `/chat/completions` (chat items) or `/completions` (plain prompts), bounded in time. It never throws: it
// returns the output, or a failure saying whether trying again could help (429, 5xx, a dropped or refused
// connection) or not (a timeout — at temperature 0 the same request hangs again —, a 4xx, a bad body).

import { request, type Dispatcher } from "undici";
import type { EvalPrompt } from "../core/eval/suite-item";
import type { Endpoint } from "../ports";
import {
  BodyTooLarge,
  describeNetworkError,
  endpointUrl,
  errorMessageOf,
  field,
  readCappedText,
} from "./http";

export type AttemptOutcome =
  | { readonly kind: "answer"; readonly output: string }
  | {
      readonly kind: "failure";
      readonly retryable: boolean;
      readonly reason: string;
      /** The server's Retry-After, in milliseconds. */
      readonly retryAfterMs?: number;
    };

export interface AttemptSettings {
  readonly dispatcher: Dispatcher;
  readonly maxTokens: number;
  /** The whole attempt — connecting, the model generating, the body — within this many milliseconds. */
  readonly timeoutMs: number;
  /** Cuts the attempt off when the run is stopped. */
  readonly signal?: AbortSignal;
}

/** An eval answer is at most a few thousand tokens; a bigger body is a broken server. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function attemptCompletion(
  endpoint: Endpoint,
  prompt: EvalPrompt,
  settings: AttemptSettings,
): Promise<AttemptOutcome> {
  const chat = "messages" in prompt;
  const url = endpointUrl(endpoint, chat ? "/chat/completions" : "/completions");
  const body = {
    model: endpoint.servedName,
    ...(chat ? { messages: prompt.messages } : { prompt: prompt.prompt }),
    max_tokens: settings.maxTokens,
    temperature: 0,
    stream: false,
  };
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), settings.timeoutMs);
  try {
    const response = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...endpoint.headers },
      body: JSON.stringify(body),
      signal: settings.signal ? AbortSignal.any([timeout.signal, settings.signal]) : timeout.signal,
      dispatcher: settings.dispatcher,
    });
    const text = await readCappedText(response.body, MAX_BODY_BYTES);
    if (response.statusCode === 200) return readOutput(text, chat);
    const status = response.statusCode;
    const retryAfterMs = parseRetryAfter(response.headers["retry-after"]);
    return {
      kind: "failure",
      retryable: status === 429 || status >= 500,
      reason: `HTTP ${status}${text ? `: ${errorMessageOf(text)}` : ""}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (error) {
    if (timeout.signal.aborted) {
      return { kind: "failure", retryable: false, reason: `no answer within ${settings.timeoutMs / 1000} s` };
    }
    if (error instanceof BodyTooLarge) return { kind: "failure", retryable: false, reason: error.message };
    return { kind: "failure", retryable: true, reason: `${url}: ${describeNetworkError(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

function readOutput(text: string, chat: boolean): AttemptOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      kind: "failure",
      retryable: false,
      reason: `the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
    };
  }
  const choices = field(parsed, "choices");
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  if (choice === undefined) {
    return {
      kind: "failure",
      retryable: false,
      reason: "the answer has no choices[0]: not an OpenAI-compatible reply",
    };
  }
  const content = chat ? field(field(choice, "message"), "content") : field(choice, "text");
  // A null content (a reasoning model that spent its tokens thinking) is an empty answer, scored as one.
  return { kind: "answer", output: typeof content === "string" ? content : "" };
}

/** `Retry-After: 3` or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
