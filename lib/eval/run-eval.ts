// Runs a suite (or one shard of it) against an OpenAI-compatible endpoint and scores every item: bounded
// concurrency, temperature 0, a time limit per attempt, retries with backoff on 429/5xx/connection errors.
// An item whose attempts all fail gets the verdict `error` with the reason — it counts against the score
// and is listed — so a flaky server cannot raise a score by losing the questions it got wrong.

import { DEFAULT_MAX_TOKENS, type EvalPrompt, type SuiteItem } from "../core/eval/suite-item";
import { renderPrompt } from "../core/eval/item-prompt";
import { scoreOutput } from "../core/eval/score-output";
import { shardItems } from "../core/eval/shard";
import { type ItemResult, type ShardRef, type ShardResult, summarizeShard } from "../core/eval/eval-results";
import type { Endpoint } from "../ports";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from "./backoff";
import { type AttemptOutcome, attemptCompletion } from "./completion-attempt";
import { connectionPool } from "./http";

export interface EvalRunOptions {
  /** The suite's name, carried into the results. */
  readonly suite: string;
  /** Run only this shard of the items (by id: see shardItems). Default: all of them, as shard 0 of 1. */
  readonly shard?: ShardRef;
  /** Caps every item's `max_tokens` (the gate's `maxTokens`). Default: each item's own, else 512. */
  readonly maxTokens?: number;
  /** Items in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Milliseconds one attempt may take. Default 120 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Called as each item finishes (for a progress line). */
  readonly onItem?: (result: ItemResult, finished: number, total: number) => void;
  /** Stops the run: no item is started after it aborts, and answers in flight are cut off. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_ITEM_TIMEOUT_MS = 120_000;
/** Outputs longer than this are kept in the report cut here (they are scored whole). */
const MAX_KEPT_OUTPUT_CHARS = 8000;

export async function runEvalItems(
  items: readonly SuiteItem[],
  endpoint: Endpoint,
  options: EvalRunOptions,
): Promise<ShardResult> {
  const shard = options.shard ?? { index: 0, of: 1 };
  const selected = shardItems(items, shard);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, selected.length || 1));
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? DEFAULT_ITEM_TIMEOUT_MS;
  const dispatcher = connectionPool(endpoint, concurrency);
  const results: ItemResult[] = new Array<ItemResult>(selected.length);
  let next = 0;
  let finished = 0;
  try {
    const worker = async () => {
      while (next < selected.length && !options.signal?.aborted) {
        const index = next++;
        const item = selected[index]!;
        const prompt = renderPrompt(item);
        const maxTokens = Math.min(item.maxTokens ?? DEFAULT_MAX_TOKENS, options.maxTokens ?? Infinity);
        const send = () =>
          attemptCompletion(endpoint, prompt, {
            dispatcher,
            maxTokens,
            timeoutMs,
            ...(options.signal ? { signal: options.signal } : {}),
          });
        const result = await runItem(item, prompt, send, retry);
        results[index] = result;
        finished++;
        options.onItem?.(result, finished, selected.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await dispatcher.destroy();
  }
  // Stopped: what was measured is partial, and is not for scoring.
  options.signal?.throwIfAborted();
  const detail = { suite: options.suite, shard, items: results };
  return { summary: summarizeShard(detail), detail };
}

async function runItem(
  item: SuiteItem,
  prompt: EvalPrompt,
  send: () => Promise<AttemptOutcome>,
  retry: RetryPolicy,
): Promise<ItemResult> {
  const started = performance.now();
  const base = {
    id: item.id,
    scorer: item.scorer,
    prompt,
    ...(item.scorer === "json-valid" ? {} : { expected: item.answer }),
  };
  const attempts = Math.max(1, retry.attempts);
  for (let n = 1; ; n++) {
    const outcome = await send();
    if (outcome.kind === "answer") {
      const { correct, extracted } = scoreOutput(item, outcome.output);
      return {
        ...base,
        output: keptOutput(outcome.output),
        ...(extracted === undefined ? {} : { extracted: keptOutput(extracted) }),
        verdict: correct ? "correct" : "wrong",
        latencyMs: performance.now() - started,
        attempts: n,
      };
    }
    if (!outcome.retryable || n >= attempts) {
      return {
        ...base,
        verdict: "error",
        error: n > 1 ? `${outcome.reason} (after ${n} attempts)` : outcome.reason,
        latencyMs: performance.now() - started,
        attempts: n,
      };
    }
    await pause(retryDelayMs(n, retry, outcome.retryAfterMs));
  }
}

function keptOutput(text: string): string {
  if (text.length <= MAX_KEPT_OUTPUT_CHARS) return text;
  return `${text.slice(0, MAX_KEPT_OUTPUT_CHARS)}… [${text.length - MAX_KEPT_OUTPUT_CHARS} more characters]`;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
