// Measures how many tokens a server counts for synthetic prompts, so that `inputTokens: N` sends prompts
// the server counts as N tokens — chat template included, as its `usage.prompt_tokens` says — whatever its
// tokenizer: a byte-level vocabulary splits "of" into three tokens where Llama 3's has one, and a chat
// template adds from a few tokens to dozens.
//
// The server counts, for each calibration word w, a prompt of w alone (the template and one word) and one of
// `w₀ w` (what w adds after a word, its leading space included). Words add up: tokenizers split at spaces
// before merging, so a prompt costs its first word's count plus each further word's. Counting asks the
// server itself:
//   - vLLM's `POST /tokenize` with the chat (`{model, messages}` → `{count, max_model_len, tokens}`), which
//     applies the chat template as a chat request does and generates nothing;
//   - else a chat completion of one token (`max_tokens: 1`, streamed with `include_usage`, the load's own
//     request shape), read from `usage.prompt_tokens`. llama.cpp's server lands here: its `/tokenize` takes
//     raw text without the chat template, so it would miss what the template adds.
// About forty small requests in all (the last one checks a composed prompt), sent one at a time before the
// load and never measured. A server that can count neither way, or whose counts do not follow the prompt, leaves
// the prompts uncalibrated, with the reason.

import { SseParser } from "../core/openai/sse-parser";
import { describeFailure, field, jsonOf, type ServerAnswer, type ServerRequests } from "./server-requests";
import { seededRandom } from "./random";
import { CALIBRATION_WORDS, PromptComposer, type WordCosts } from "./synthetic-prompts";

/** How synthetic prompts' lengths were measured on a server; plain JSON. */
export interface PromptCalibration extends WordCosts {
  /** `tokenize`: the server's `/tokenize`; `usage`: `usage.prompt_tokens` of one-token chat completions. */
  readonly source: "tokenize" | "usage";
  /** Counting requests sent. */
  readonly requests: number;
  /** A prompt composed to `tokens` from the costs, and what the server counted for it. */
  readonly check: { readonly tokens: number; readonly counted: number };
}

/** Calibrated prompts, or why the lengths stay estimates (one word taken for one token). */
export type PromptLengths =
  | { readonly calibrated: true; readonly calibration: PromptCalibration }
  | { readonly calibrated: false; readonly reason: string };

type Count = { readonly tokens: number } | { readonly failed: string };
type Counter = (content: string) => Promise<Count>;

/**
 * Counts the calibration prompts on the server; `checkTokens` is the length of one composed prompt counted
 * last, to check that the words add up (the run's target length is the one worth checking).
 */
export async function calibratePrompts(
  server: ServerRequests,
  model: string,
  checkTokens: number,
): Promise<PromptLengths> {
  const [anchor] = CALIBRATION_WORDS as [string];
  const found = await findCounter(server, model, anchor);
  if ("reason" in found) return { calibrated: false, reason: found.reason };
  const { source, count } = found;
  let requests = found.requests;
  const measure = async (content: string): Promise<number | string> => {
    requests++;
    const counted = await count(content);
    return "tokens" in counted
      ? counted.tokens
      : `counting the prompt ${JSON.stringify(content)} failed: ${counted.failed}`;
  };

  const firstWord: Record<string, number> = { [anchor]: found.anchorTokens };
  const nextWord: Record<string, number> = {};
  for (const word of CALIBRATION_WORDS) {
    if (!(word in firstWord)) {
      const alone = await measure(word);
      if (typeof alone === "string") return { calibrated: false, reason: alone };
      firstWord[word] = alone;
    }
    const after = await measure(`${anchor} ${word}`);
    if (typeof after === "string") return { calibrated: false, reason: after };
    nextWord[word] = after - found.anchorTokens;
  }
  const growing = Object.values(nextWord).filter((tokens) => tokens >= 1);
  if (growing.length === 0) {
    return {
      calibrated: false,
      reason: `the server counts ${found.anchorTokens} tokens for a one-word prompt and no more for two words (${source === "tokenize" ? "/tokenize's count" : "usage.prompt_tokens"} does not follow the prompt)`,
    };
  }

  const composer = new PromptComposer({ firstWord, nextWord });
  const sample = composer.compose(Math.max(checkTokens, composer.shortest), seededRandom(1));
  const counted = await measure(sample.text);
  if (typeof counted === "string") return { calibrated: false, reason: counted };
  return {
    calibrated: true,
    calibration: { source, firstWord, nextWord, requests, check: { tokens: sample.tokens, counted } },
  };
}

/** The server's way of counting a prompt, found by counting the anchor word alone. */
async function findCounter(
  server: ServerRequests,
  model: string,
  anchor: string,
): Promise<
  | { source: "tokenize" | "usage"; count: Counter; anchorTokens: number; requests: number }
  | { reason: string }
> {
  const tokenize: Counter = async (content) =>
    readTokenizeCount(await server.root("POST", "tokenize", { model, messages: chat(content) }));
  const usage: Counter = async (content) =>
    readUsageCount(
      await server.openAi("POST", "chat/completions", {
        model,
        messages: chat(content),
        max_tokens: 1,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
  const byTokenize = await tokenize(anchor);
  if ("tokens" in byTokenize) {
    return { source: "tokenize", count: tokenize, anchorTokens: byTokenize.tokens, requests: 1 };
  }
  const byUsage = await usage(anchor);
  if ("tokens" in byUsage)
    return { source: "usage", count: usage, anchorTokens: byUsage.tokens, requests: 2 };
  return {
    reason: `the server counts no prompt tokens: it has no chat /tokenize (${byTokenize.failed}), and ${byUsage.failed}`,
  };
}

function chat(content: string): { role: "user"; content: string }[] {
  return [{ role: "user", content }];
}

/** vLLM's `/tokenize` answer: `{count, max_model_len, tokens}`. */
function readTokenizeCount(answer: ServerAnswer): Count {
  const count = field(jsonOf(answer), "count");
  if (isCount(count)) return { tokens: count };
  if (answer.ok && answer.status === 200) return { failed: "POST /tokenize answered without a count" };
  return { failed: describeFailure(answer, "POST /tokenize") };
}

/** `usage.prompt_tokens` of a streamed chat completion (its last usage chunk), or of a plain JSON answer. */
function readUsageCount(answer: ServerAnswer): Count {
  if (!answer.ok || answer.status !== 200) {
    return { failed: describeFailure(answer, "a one-token chat completion") };
  }
  const plain = jsonOf(answer);
  let prompt = field(field(plain, "usage"), "prompt_tokens");
  if (plain === undefined) {
    const parser = new SseParser();
    const events = [...parser.push(new TextEncoder().encode(answer.text)), ...parser.end()];
    for (const { data } of events) {
      const tokens = field(field(parseJson(data), "usage"), "prompt_tokens");
      if (tokens !== undefined) prompt = tokens;
    }
  }
  return isCount(prompt)
    ? { tokens: prompt }
    : { failed: "a one-token chat completion answered without usage.prompt_tokens" };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}
