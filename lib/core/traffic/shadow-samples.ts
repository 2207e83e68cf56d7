// The paired answers of a shadow: for a mirrored request, the stable's answer (the one the user got) and the
// candidate's answer to its copy, each clipped, with its output length and latency — a person's quick look at
// what the new version changes. The local gateway keeps the first and the last few pairs of a rollout (the
// book below, bounded whatever the traffic) and counts what it mirrored, dropped and lost; on EKS the gateway
// throws mirrored answers away, so there are none, and the port says why. Pure.

import { contentText, readAnswerPart } from "../openai/answer-part";
import { SseParser } from "../openai/sse-parser";
import { clipText } from "../text/clip-text";

/** Characters of each answer (and of the request) kept in a pair. */
export const SHADOW_TEXT_CHARS = 400;
/** Pairs kept from the start and from the end of a shadow. */
export const SHADOW_PAIRS_KEPT = 5;
/** Bytes of an answer read to find its text: a longer answer is clipped anyway. */
export const SHADOW_CAPTURE_BYTES = 64 * 1024;

/** One side of a pair: what a version answered to the same request. */
export interface ShadowAnswer {
  /** The HTTP status, absent when no answer came (the server could not be reached, or timed out). */
  readonly status?: number;
  /** The answer's text, clipped to SHADOW_TEXT_CHARS; empty when it had none. */
  readonly text: string;
  /**
   * Characters of the answer text found in the captured bytes, before clipping: only the first
   * SHADOW_CAPTURE_BYTES of an answer are read, so a longer answer counts what those held.
   */
  readonly outputChars: number;
  /** `usage.completion_tokens`, when the server reported it. */
  readonly completionTokens?: number;
  readonly latencyMs: number;
  /** Why there is no answer, or the error the server gave. */
  readonly error?: string;
}

export interface ShadowPair {
  /** ISO timestamp of the user's request. */
  readonly at: string;
  /** The request's last user message (or prompt), clipped. */
  readonly request: string;
  readonly stable: ShadowAnswer;
  readonly candidate: ShadowAnswer;
}

/** What a gateway kept of a model's shadow. */
export type ShadowSamples =
  | {
      readonly version: string;
      readonly percent: number;
      /** Copies sent to the candidate. */
      readonly mirrored: number;
      /** Copies not sent because too many were in flight already (the bound keeps the gateway's memory flat). */
      readonly dropped: number;
      /** Copies the candidate did not answer with a 2xx. */
      readonly failed: number;
      /** The first and the last pairs, oldest first. */
      readonly pairs: readonly ShadowPair[];
    }
  | { readonly unavailable: string };

/**
 * The first SHADOW_PAIRS_KEPT pairs and the last SHADOW_PAIRS_KEPT, whatever the number of requests: memory
 * is bounded by the pairs' clipped texts.
 */
export class ShadowSampleBook {
  private readonly first: ShadowPair[] = [];
  private readonly last: ShadowPair[] = [];
  mirrored = 0;
  dropped = 0;
  failed = 0;

  constructor(
    readonly version: string,
    readonly percent: number,
  ) {}

  add(pair: ShadowPair): void {
    if (this.first.length < SHADOW_PAIRS_KEPT) {
      this.first.push(pair);
      return;
    }
    this.last.push(pair);
    if (this.last.length > SHADOW_PAIRS_KEPT) this.last.shift();
  }

  samples(): ShadowSamples {
    return {
      version: this.version,
      percent: this.percent,
      mirrored: this.mirrored,
      dropped: this.dropped,
      failed: this.failed,
      pairs: [...this.first, ...this.last],
    };
  }
}

/** The text a person reads of an OpenAI request: its last user message, or its prompt; clipped. */
export function requestText(body: Readonly<Record<string, unknown>>): string {
  const messages = body["messages"];
  if (Array.isArray(messages)) {
    const user = [...messages]
      .reverse()
      .find((m): m is { content: unknown } => !!m && typeof m === "object" && m.role === "user");
    if (user) return clipText(contentText(user.content) ?? "", SHADOW_TEXT_CHARS);
  }
  const prompt = body["prompt"];
  return typeof prompt === "string" ? clipText(prompt, SHADOW_TEXT_CHARS) : "";
}

/**
 * One side of a pair from an OpenAI answer's bytes (at most SHADOW_CAPTURE_BYTES of them): a JSON answer's
 * first choice, or a streamed answer's deltas joined; anything else (an error page) is kept as it is.
 */
export function shadowAnswer(
  status: number | undefined,
  body: Uint8Array,
  latencyMs: number,
  error?: string,
): ShadowAnswer {
  const parsed = answerText(body);
  const failure =
    error ?? (status !== undefined && (status < 200 || status >= 300) ? `HTTP ${status}` : undefined);
  return {
    ...(status === undefined ? {} : { status }),
    text: clipText(parsed.text, SHADOW_TEXT_CHARS),
    outputChars: parsed.text.length,
    ...(parsed.completionTokens === undefined ? {} : { completionTokens: parsed.completionTokens }),
    latencyMs: Math.round(latencyMs),
    ...(failure === undefined ? {} : { error: failure }),
  };
}

function answerText(body: Uint8Array): { text: string; completionTokens?: number } {
  const whole = new TextDecoder().decode(body);
  if (whole.trimStart().startsWith("{")) {
    try {
      const { text = "", usage } = readAnswerPart(JSON.parse(whole), "message");
      return { text, ...(usage && { completionTokens: usage.completionTokens }) };
    } catch {
      return { text: whole };
    }
  }
  const parser = new SseParser();
  // An event cut by the capture's bound has no blank line after it: the parser drops it, and the text so far
  // is what there is.
  const events = [...parser.push(body), ...parser.end()];
  if (events.length === 0) return { text: whole };
  let text = "";
  let completionTokens: number | undefined;
  for (const { data } of events) {
    if (data === "[DONE]") continue;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      continue;
    }
    const part = readAnswerPart(chunk, "delta");
    text += part.text ?? "";
    completionTokens = part.usage?.completionTokens ?? completionTokens;
  }
  return { text, ...(completionTokens === undefined ? {} : { completionTokens }) };
}
