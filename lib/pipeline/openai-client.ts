// A small client for a candidate's OpenAI-compatible endpoint, over the global fetch: how a stage talks to
// the server it is testing. It never throws for what the server does — a refused connection, a 500, a body
// that is not JSON, a stream that breaks — it reports it, so the caller can judge every request. Each
// request has a bounded time; a connection error or a 5xx is retried a couple of times, because a server
// that just became ready may still be warming up; a timeout is not retried (the time is spent).

import { getCACertificates, setDefaultCACertificates } from "node:tls";
import type { ChatMessage } from "../core/manifest/manifest-schema";
import type { ObservedAnswer } from "../core/smoke/smoke-verdict";
import { readAnswerPart, type Usage } from "../core/openai/answer-part";
import { SseParser } from "../core/openai/sse-parser";
import type { Endpoint } from "../ports";

export interface OpenAiClientOptions {
  /** Milliseconds one request (attempt) may take, the whole body or stream included. Default 60 s. */
  readonly timeoutMs?: number;
  /** Cuts every request off when it aborts (the execution was stopped). */
  readonly signal?: AbortSignal;
  /** Extra attempts after a connection error or a 5xx. Default 2. */
  readonly retries?: number;
  /** Pause before the first retry, doubled for each next one. Default 1 s. */
  readonly retryDelayMs?: number;
}

export interface GenerationRequest {
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly seed?: number;
}

export interface Answer extends ObservedAnswer {
  readonly usage?: Usage;
}

export interface StreamedAnswer extends Answer {
  /** Milliseconds from sending the request to the first content delta (not a role-only chunk). */
  readonly ttftMs?: number;
  /** Milliseconds from sending the request to the end of the stream. */
  readonly totalMs?: number;
}

export interface ModelList {
  readonly status?: number;
  readonly error?: string;
  readonly ids?: readonly string[];
}

/** A model server's answer is a few kilobytes; a bigger one is not read into memory. */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_STREAM_BYTES = 8 * 1024 * 1024;
const ERROR_BODY_CHARS = 300;

export class OpenAiClient {
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly endpoint: Endpoint,
    options: OpenAiClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.signal = options.signal;
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    if (endpoint.caCertificate) trustCertificate(endpoint.caCertificate);
  }

  /** `GET /v1/models`: the ids the server serves. */
  async listModels(): Promise<ModelList> {
    const reply = await this.send("GET", "/models");
    if (!reply.ok) return reply.failure;
    if (reply.response.status !== 200) {
      return { status: reply.response.status, error: await readErrorBody(reply.response) };
    }
    const body = await readJson(reply.response, this.timeoutMs);
    if (!body.ok) return { status: reply.response.status, error: body.error };
    const data = field(body.value, "data");
    if (!Array.isArray(data)) return { status: 200 };
    const ids = data.map((m) => field(m, "id")).filter((id): id is string => typeof id === "string");
    return { status: 200, ids };
  }

  /** `POST /v1/chat/completions`, not streamed. */
  async chat(messages: readonly ChatMessage[], request: GenerationRequest): Promise<Answer> {
    const reply = await this.send("POST", "/chat/completions", { messages, ...this.generation(request) });
    if (!reply.ok) return reply.failure;
    return this.readCompletion(reply.response);
  }

  /** `POST /v1/completions`: a plain prompt, no chat template. */
  async complete(prompt: string, request: GenerationRequest): Promise<Answer> {
    const reply = await this.send("POST", "/completions", { prompt, ...this.generation(request) });
    if (!reply.ok) return reply.failure;
    return this.readCompletion(reply.response);
  }

  /** `POST /v1/chat/completions` with `stream: true` and usage in the last chunk: SSE read as it arrives. */
  async streamChat(messages: readonly ChatMessage[], request: GenerationRequest): Promise<StreamedAnswer> {
    const reply = await this.send("POST", "/chat/completions", {
      messages,
      ...this.generation(request),
      stream: true,
      stream_options: { include_usage: true },
    });
    if (!reply.ok) return reply.failure;
    const { response } = reply;
    if (response.status !== 200) return { status: response.status, error: await readErrorBody(response) };
    return readChatStream(response, reply.sentAt, this.timeoutMs);
  }

  private generation(request: GenerationRequest) {
    return {
      model: this.endpoint.servedName,
      max_tokens: request.maxTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
    };
  }

  /** A chat's `message.content` or a completion's `text`, its finish reason and usage. */
  private async readCompletion(response: Response): Promise<Answer> {
    if (response.status !== 200) return { status: response.status, error: await readErrorBody(response) };
    const body = await readJson(response, this.timeoutMs);
    if (!body.ok) return { status: 200, protocolProblems: [body.error] };
    const { text, finishReason, usage } = readAnswerPart(body.value, "message");
    return {
      status: 200,
      ...(text === undefined ? {} : { content: text }),
      ...(finishReason === undefined ? {} : { finishReason }),
      ...(usage ? { usage } : {}),
    };
  }

  /** Sends with a bounded time per attempt, retrying connection errors and 5xx; a timeout ends it. */
  private async send(
    method: "GET" | "POST",
    path: string,
    body?: object,
  ): Promise<{ ok: true; response: Response; sentAt: number } | { ok: false; failure: { error: string } }> {
    const url = `${this.endpoint.baseUrl.replace(/\/+$/, "")}${path}`;
    let lastError = "";
    let attempts = 0;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      attempts++;
      if (attempt > 0) await pause(this.retryDelayMs * 2 ** (attempt - 1));
      const sentAt = performance.now();
      try {
        const response = await fetch(url, {
          method,
          headers: {
            accept: body && "stream" in body ? "text/event-stream" : "application/json",
            ...(body ? { "content-type": "application/json" } : {}),
            ...this.endpoint.headers,
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: this.signal
            ? AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.signal])
            : AbortSignal.timeout(this.timeoutMs),
        });
        if (response.status < 500 || attempt === this.retries) return { ok: true, response, sentAt };
        lastError = `HTTP ${response.status}`;
        await response.body?.cancel();
      } catch (error) {
        lastError = describeFetchError(error, this.timeoutMs);
        if (isTimeout(error) || this.signal?.aborted) break;
      }
    }
    const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
    return { ok: false, failure: { error: `${method} ${url}: ${lastError}${tries}` } };
  }
}

/** Reads the SSE stream as it arrives; `sentAt` is when the request went out (performance.now()). */
async function readChatStream(
  response: Response,
  sentAt: number,
  timeoutMs: number,
): Promise<StreamedAnswer> {
  const problems: string[] = [];
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.includes("text/event-stream")) {
    problems.push(`the answer's content-type is ${JSON.stringify(contentType)}, not text/event-stream`);
  }
  const parser = new SseParser();
  let content = "";
  let finishReason: string | null | undefined;
  let usage: Usage | undefined;
  let ttftMs: number | undefined;
  let done = false;
  let broke = false;
  let events = 0;
  let bytes = 0;

  const handle = (data: string) => {
    events++;
    if (data === "[DONE]") {
      done = true;
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      problems.push(`event ${events} is not JSON: ${JSON.stringify(data.slice(0, 80))}`);
      return;
    }
    const error = field(chunk, "error");
    if (error !== undefined)
      problems.push(`the stream carried an error: ${JSON.stringify(error).slice(0, 200)}`);
    const part = readAnswerPart(chunk, "delta");
    if (part.usage) usage = part.usage;
    if (part.text !== undefined && part.text !== "") {
      ttftMs ??= performance.now() - sentAt;
      content += part.text;
    }
    if (typeof part.finishReason === "string") finishReason = part.finishReason;
    else if (part.finishReason === null && finishReason === undefined) finishReason = null;
  };

  const reader = response.body?.getReader();
  try {
    while (reader) {
      const { done: ended, value } = await reader.read();
      if (ended) break;
      bytes += value.byteLength;
      if (bytes > MAX_STREAM_BYTES) {
        problems.push(`the stream went past ${MAX_STREAM_BYTES} bytes; it was cut there`);
        await reader.cancel();
        break;
      }
      for (const event of parser.push(value)) handle(event.data);
    }
    for (const event of parser.end()) handle(event.data);
  } catch (error) {
    broke = true;
    problems.push(`the stream broke after ${events} event(s): ${describeFetchError(error, timeoutMs)}`);
  }
  const totalMs = performance.now() - sentAt;
  if (!done && !broke) {
    problems.push("the stream ended without `data: [DONE]`");
  }
  if (!usage) problems.push("no usage in the stream, though stream_options.include_usage was set");
  return {
    status: 200,
    content,
    ...(finishReason === undefined ? {} : { finishReason }),
    ...(usage ? { usage } : {}),
    ...(ttftMs === undefined ? {} : { ttftMs }),
    totalMs,
    ...(problems.length ? { protocolProblems: problems } : {}),
  };
}

async function readJson(
  response: Response,
  timeoutMs: number,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const text = await readCappedText(response, MAX_BODY_BYTES).catch((error: unknown) => ({
    failed: describeFetchError(error, timeoutMs),
  }));
  if (typeof text !== "string") return { ok: false, error: `the body could not be read: ${text.failed}` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: `the body is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
}

/** The error's message from an OpenAI-style `{"error": {"message"}}` body, else the body's start. */
async function readErrorBody(response: Response): Promise<string> {
  const text = await readCappedText(response, MAX_BODY_BYTES).catch(() => "");
  try {
    const message = field(field(JSON.parse(text), "error"), "message");
    if (typeof message === "string") return message.slice(0, ERROR_BODY_CHARS);
  } catch {
    // Not JSON: the text itself says what happened.
  }
  return text.trim().slice(0, ERROR_BODY_CHARS);
}

/** The body as text, but never more than `maxBytes` of it: a server's size claims are not trusted. */
async function readCappedText(response: Response, maxBytes: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`the body is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * The global fetch takes no per-request CA, so a private CA an endpoint names (the EKS API server's) joins
 * the CAs this process trusts by default. It signs only its own cluster's servers; the public CAs stay.
 */
function trustCertificate(pem: string): void {
  const trusted = getCACertificates("default");
  if (trusted.some((ca) => ca.trim() === pem.trim())) return;
  setDefaultCACertificates([...trusted, pem]);
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (isTimeout(error)) return `no complete answer within ${timeoutMs / 1000} s`;
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause && "code" in cause ? String(cause.code) : undefined;
  return [error.message, cause?.message, code && !cause?.message.includes(code) ? code : undefined]
    .filter(Boolean)
    .join(": ");
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
