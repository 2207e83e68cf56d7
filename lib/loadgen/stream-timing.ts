// Times one streamed chat completion from its SSE events and their arrival times: TTFT, the gaps between
// content chunks, TPOT, E2E, and the token counts with their source. Pure: the driver feeds it each event's
// data with the time its bytes arrived, then the time the stream ended, and gets the request's measurements
// or the reason the stream counts as broken.
//
// Definitions (docs/loadgen.md): the first token is the first chunk with non-empty `content` or reasoning
// (`reasoning_content`, or `reasoning` in newer vLLM), never a role-only chunk; output tokens come from the
// server's `usage` when it sends one, else they are the content chunks counted.

import { clipText } from "../core/text/clip-text";
import { DETAIL_CHARS } from "./error-detail";
import type { CompletedRequest, FailedRequest } from "./request-record";

type Measured = "ttftMs" | "itlMs" | "tpotMs" | "e2eMs" | "inputTokens" | "inputTokensFrom";
type Counted = "outputTokens" | "outputTokensFrom";
export type StreamMeasurement =
  Pick<CompletedRequest, "ok" | Measured | Counted> | Pick<FailedRequest, "ok" | "error" | "detail">;

export class StreamTiming {
  private firstContentAt: number | undefined;
  private lastContentAt: number | undefined;
  private readonly gaps: number[] = [];
  private contentChunks = 0;
  private events = 0;
  private done = false;
  private problem: string | undefined;
  private usage: { prompt?: number; completion?: number } = {};

  /**
   * @param sentAtMs when the request went out (the same clock as the arrival times)
   * @param estimatedInputTokens the prompt's length in approximate tokens, used when the server sends no usage
   */
  constructor(
    private readonly sentAtMs: number,
    private readonly estimatedInputTokens: number,
  ) {}

  /** One SSE event's data, whose bytes arrived at `atMs`. */
  observe(data: string, atMs: number): void {
    this.events++;
    if (this.done || this.problem !== undefined) return;
    if (data === "[DONE]") {
      this.done = true;
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      this.problem = `event ${this.events} is not JSON: ${JSON.stringify(data.slice(0, 80))}`;
      return;
    }
    const error = field(chunk, "error");
    if (error !== undefined && error !== null) {
      const message = field(error, "message");
      const text = typeof message === "string" ? message : JSON.stringify(error);
      this.problem = `the stream carried an error: ${clipText(text, DETAIL_CHARS)}`;
      return;
    }
    this.readUsage(field(chunk, "usage"));
    if (hasContent(field(chunk, "choices"))) this.contentArrived(atMs);
  }

  /** The stream ended at `atMs` (its last bytes read): the request's measurements, or why it is broken. */
  finish(atMs: number): StreamMeasurement {
    if (this.problem !== undefined) return { ok: false, error: "broken_stream", detail: this.problem };
    if (!this.done) {
      const detail =
        this.events === 0
          ? "the answer had no server-sent events (is it a stream?)"
          : `the stream ended after ${this.events} event(s) without data: [DONE]`;
      return { ok: false, error: "broken_stream", detail };
    }
    const fromUsage = this.usage.completion !== undefined;
    const outputTokens = this.usage.completion ?? this.contentChunks;
    const ttftMs = this.firstContentAt === undefined ? undefined : this.firstContentAt - this.sentAtMs;
    const e2eMs = atMs - this.sentAtMs;
    return {
      ok: true,
      ttftMs,
      itlMs: this.gaps,
      tpotMs: ttftMs !== undefined && outputTokens >= 2 ? (e2eMs - ttftMs) / (outputTokens - 1) : undefined,
      e2eMs,
      inputTokens: this.usage.prompt ?? this.estimatedInputTokens,
      inputTokensFrom: this.usage.prompt === undefined ? "estimated" : "usage",
      outputTokens,
      outputTokensFrom: fromUsage ? "usage" : "counted",
    };
  }

  private contentArrived(atMs: number): void {
    this.contentChunks++;
    if (this.lastContentAt === undefined) this.firstContentAt = atMs;
    else this.gaps.push(atMs - this.lastContentAt);
    this.lastContentAt = atMs;
  }

  private readUsage(usage: unknown): void {
    const prompt = field(usage, "prompt_tokens");
    const completion = field(usage, "completion_tokens");
    if (isCount(prompt)) this.usage.prompt = prompt;
    if (isCount(completion)) this.usage.completion = completion;
  }
}

function hasContent(choices: unknown): boolean {
  if (!Array.isArray(choices)) return false;
  return choices.some((choice) => {
    const delta = field(choice, "delta");
    return ["content", "reasoning_content", "reasoning"].some((key) => {
      const text = field(delta, key);
      return typeof text === "string" && text !== "";
    });
  });
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
