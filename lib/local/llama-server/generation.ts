// One generation on a llama.cpp context sequence: evaluate the prompt, sample tokens until the end of the
// turn, a stop string or the token budget, and hand the text out in pieces as it is decided. Every request
// starts from an empty sequence, so the same prompt and seed give the same answer whether it streams or not.
//
// Counting: `completionTokens` is every token the model generated, the end-of-turn token and the tokens of
// a stop string included (they were computed, and they are what the budget limits).

import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { Sampling } from "./openai-requests";
import { StopScanner } from "./stop-scanner";

export type FinishReason = "stop" | "length";

export interface GenerationInput {
  readonly promptTokens: readonly Token[];
  /** Tokens the model may generate; the caller keeps prompt + this within the context. */
  readonly maxTokens: number;
  readonly sampling: Sampling;
  readonly stopStrings: readonly string[];
  /** Tokens that end the answer besides the model's own end-of-generation tokens (from the chat template). */
  readonly stopTokens: ReadonlySet<Token>;
}

export interface GenerationResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly completionTokens: number;
}

const REPLACEMENT_CHARACTER = "\uFFFD";
/** A character is at most 4 UTF-8 bytes, so at most 4 byte tokens. */
const MAX_TOKENS_PER_CHARACTER = 4;
/** Preceding tokens the detokenizer looks at to join a piece to the text before it. */
const DETOKENIZE_CONTEXT_TOKENS = 8;

export async function generate(
  sequence: LlamaContextSequence,
  input: GenerationInput,
  onText: (piece: string) => void,
  signal: AbortSignal,
): Promise<GenerationResult> {
  const model = sequence.model;
  await sequence.clearHistory();
  const scanner = new StopScanner(input.stopStrings);
  const decoded: Token[] = [];
  let pending: Token[] = [];
  let text = "";
  let completionTokens = 0;
  let finishReason: FinishReason = "length";
  const emit = (piece: string) => {
    if (piece === "") return;
    text += piece;
    onText(piece);
  };

  const { temperature, topP, seed, frequencyPenalty, presencePenalty } = input.sampling;
  const penalize = frequencyPenalty !== 0 || presencePenalty !== 0;
  const tokens = sequence.evaluate([...input.promptTokens], {
    temperature,
    topP,
    topK: 0,
    minP: 0,
    ...(seed === undefined ? {} : { seed: toUint32(seed) }),
    ...(penalize
      ? {
          repeatPenalty: {
            punishTokens: () => [...decoded, ...pending],
            maxPunishTokens: input.maxTokens,
            penalty: 1,
            frequencyPenalty,
            presencePenalty,
          },
        }
      : {}),
    yieldEogToken: true,
  });
  let stoppedByString = false;
  const decodePending = () => model.detokenize(pending, false, decoded.slice(-DETOKENIZE_CONTEXT_TOKENS));
  const release = (piece: string) => {
    decoded.push(...pending);
    pending = [];
    const scanned = scanner.push(piece);
    emit(scanned.text);
    stoppedByString = scanned.stopped;
  };
  for await (const token of tokens) {
    if (signal.aborted) break;
    completionTokens++;
    if (model.isEogToken(token) || input.stopTokens.has(token)) {
      finishReason = "stop";
      break;
    }
    pending.push(token);
    const budgetLeft = completionTokens < input.maxTokens;
    const piece = decodePending();
    // A byte token in the middle of a character decodes as U+FFFD until the character's last byte arrives.
    if (piece.endsWith(REPLACEMENT_CHARACTER) && pending.length < MAX_TOKENS_PER_CHARACTER && budgetLeft)
      continue;
    release(piece);
    if (stoppedByString) {
      finishReason = "stop";
      break;
    }
    if (!budgetLeft) break;
  }
  if (pending.length > 0) release(decodePending());
  if (!stoppedByString) emit(scanner.flush());
  return { text, finishReason, completionTokens };
}

/** llama.cpp seeds are 32-bit; OpenAI's are 64-bit integers, negative ones included. */
function toUint32(seed: number): number {
  return ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
}
