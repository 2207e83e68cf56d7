// How the smoke test judges what a candidate answered: one verdict per request, each listing everything
// wrong with the answer (not just the first thing), and the findings and hint a SmokeFailed carries so a
// user sees each prompt, what came back, and what was wrong with it.

import { describeDegenerateOutput } from "./degenerate-output";
import type { Finding } from "../findings";

/** Completions end because the model stopped or ran out of tokens; anything else is a broken server. */
const VALID_FINISH_REASONS: readonly string[] = ["stop", "length"];

/** What came back for one request, as the client saw it. */
export interface ObservedAnswer {
  /** The HTTP status; undefined when no response came (connection refused, timeout). */
  readonly status?: number;
  /** Why no usable answer came: a connection error, or the body of a non-200 response. */
  readonly error?: string;
  readonly content?: string;
  readonly finishReason?: string | null;
  /** Where the answer breaks the OpenAI API: a body or chunk that is not JSON, a stream without `[DONE]` or usage … */
  readonly protocolProblems?: readonly string[];
}

export interface AnswerExpectations {
  /** The answer must contain this text, case-insensitively. */
  readonly expectContains?: string;
  readonly rejectDegenerate: boolean;
}

export type ProblemKind =
  "unreachable" | "http" | "empty" | "finish" | "expected" | "degenerate" | "protocol" | "models";

export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
}

export interface SmokeVerdict {
  /** `chat`, `completion`, `chat (streamed)` or `GET /v1/models`. */
  readonly request: string;
  /** Where the prompt comes from (`gates.smoke.prompts[0]`, `default prompt 2`). */
  readonly source?: string;
  /** The prompt as sent, shortened. */
  readonly prompt: string;
  /** What came back, shortened. */
  readonly answer?: string;
  readonly problems: readonly Problem[];
}

const SHOWN_PROMPT_CHARS = 80;
const SHOWN_ANSWER_CHARS = 160;

/** Everything wrong with one answer; empty when it passes. */
export function judgeAnswer(answer: ObservedAnswer, expectations: AnswerExpectations): Problem[] {
  if (answer.status === undefined) {
    return [{ kind: "unreachable", message: `no answer: ${answer.error ?? "the request failed"}` }];
  }
  if (answer.status !== 200) {
    const detail = answer.error ? `: ${shorten(answer.error, SHOWN_ANSWER_CHARS)}` : "";
    return [{ kind: "http", message: `HTTP ${answer.status}${detail}` }];
  }
  const problems: Problem[] = (answer.protocolProblems ?? []).map((message) => ({
    kind: "protocol",
    message,
  }));
  const content = answer.content ?? "";
  if (content === "") {
    problems.push({ kind: "empty", message: "the answer has no content" });
  }
  if (answer.finishReason === undefined || answer.finishReason === null) {
    problems.push({ kind: "finish", message: 'no finish_reason; expected "stop" or "length"' });
  } else if (!VALID_FINISH_REASONS.includes(answer.finishReason)) {
    problems.push({
      kind: "finish",
      message: `finish_reason is ${JSON.stringify(answer.finishReason)}; expected "stop" or "length"`,
    });
  }
  const expected = expectations.expectContains;
  if (expected !== undefined && !content.toLowerCase().includes(expected.toLowerCase())) {
    problems.push({ kind: "expected", message: `does not contain ${JSON.stringify(expected)}` });
  }
  if (content !== "" && expectations.rejectDegenerate) {
    const degenerate = describeDegenerateOutput(content);
    if (degenerate) problems.push({ kind: "degenerate", message: `degenerate output: it ${degenerate}` });
  }
  return problems;
}

/** What is wrong with `/v1/models`' answer: it must list the name the candidate serves as. */
export function judgeModelList(
  listed: { readonly status?: number; readonly error?: string; readonly ids?: readonly string[] },
  servedName: string,
): Problem[] {
  if (listed.status === undefined) {
    return [{ kind: "unreachable", message: `no answer: ${listed.error ?? "the request failed"}` }];
  }
  if (listed.status !== 200) {
    const detail = listed.error ? `: ${shorten(listed.error, SHOWN_ANSWER_CHARS)}` : "";
    return [{ kind: "http", message: `HTTP ${listed.status}${detail}` }];
  }
  if (!listed.ids) {
    return [
      {
        kind: "models",
        message: `the answer is not a model list ({"data": [{"id": …}]})${listed.error ? `: ${listed.error}` : ""}`,
      },
    ];
  }
  if (listed.ids.includes(servedName)) return [];
  const names = listed.ids.length ? listed.ids.map((id) => JSON.stringify(id)).join(", ") : "no model";
  return [{ kind: "models", message: `does not list ${JSON.stringify(servedName)}; it lists ${names}` }];
}

/** A verdict with its prompt and answer shortened for the state and the console. */
export function smokeVerdict(fields: {
  readonly request: string;
  readonly source?: string;
  readonly prompt: string;
  readonly answer?: string;
  readonly problems: readonly Problem[];
}): SmokeVerdict {
  return {
    request: fields.request,
    ...(fields.source === undefined ? {} : { source: fields.source }),
    prompt: shorten(fields.prompt, SHOWN_PROMPT_CHARS),
    ...(fields.answer === undefined ? {} : { answer: shorten(fields.answer, SHOWN_ANSWER_CHARS) }),
    problems: fields.problems,
  };
}

/** One finding per verdict: errors for the failed requests, info for the ones that passed (the whole picture). */
export function smokeFindings(verdicts: readonly SmokeVerdict[]): Finding[] {
  return verdicts.map((v) => {
    const answer = v.answer === undefined ? "" : ` → ${JSON.stringify(v.answer)}`;
    const verdict = v.problems.length ? v.problems.map((p) => p.message).join("; ") : "ok";
    return {
      severity: v.problems.length ? "error" : "info",
      code: v.problems.length ? `smoke.${v.problems[0]?.kind ?? "failed"}` : "smoke.ok",
      ...(v.source === undefined ? {} : { path: v.source }),
      message: `${v.request}${v.prompt ? ` ${JSON.stringify(v.prompt)}` : ""}${answer}: ${verdict}.`,
    };
  });
}

const HINTS: Readonly<Record<ProblemKind, string>> = {
  unreachable:
    "The server stopped answering: read the candidate's log tail; a server that crashes on its first request often ran out of memory.",
  http: "The server refused the requests: check the error bodies above; a 4xx often means the server does not support the request (chat without a chat template, an unknown model name).",
  models: "Serve the model under its rollout name (vLLM --served-model-name, llama.cpp --alias).",
  protocol:
    "The server does not speak the OpenAI API as clients expect: the stress test and most clients need JSON answers and SSE streams that end with [DONE] and report usage (stream_options.include_usage).",
  finish:
    "The server's finish_reason is not OpenAI-compatible: use a server version that reports stop or length.",
  empty:
    "The model answers nothing: check its chat template and end-of-sequence token (tokenizer_config.json / GGUF metadata).",
  degenerate:
    "Degenerate answers mean broken weights, a tokenizer that does not match them, or a wrong chat template. For random-weight test models set gates.smoke.rejectDegenerate: false.",
  expected:
    "An answer missed the text gates.smoke.prompts[].expectContains asks for: check the prompt or the expectation.",
};

/** What to do, for the kinds of problem found (the most telling first). */
export function smokeFailureHint(verdicts: readonly SmokeVerdict[]): string {
  const kinds = new Set(verdicts.flatMap((v) => v.problems.map((p) => p.kind)));
  const order: ProblemKind[] = [
    "unreachable",
    "http",
    "models",
    "protocol",
    "finish",
    "empty",
    "degenerate",
    "expected",
  ];
  return order
    .filter((k) => kinds.has(k))
    .map((k) => HINTS[k])
    .join(" ");
}

function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : text;
}
