// The HTTP face of the local llama.cpp server (node:http, no framework): `GET /health`, `GET /v1/models`,
// `POST /v1/chat/completions` and `POST /v1/completions`, as OpenAI clients and modelship's stages call them,
// streaming as server-sent events, and `GET /metrics`: vLLM's request metrics in the Prometheus text
// format (lib/core/prometheus/vllm-metrics.ts) — each request's E2E latency and queue time, time to first token and
// the gaps between the pieces of text it generates, counted by finish reason (`abort` when its client left,
// `error` when generation failed) — so real-traffic alarms read this server as they read a vLLM pod. It
// listens before the model has loaded — `/health` answers 503 until it has — so a supervisor can tell
// "loading" from "not started". Bad requests get OpenAI-style error bodies.
//
// A fault injected by the local gateway (`modelship fault --server-delay`) arrives as the header
// `x-modelship-fault-server-delay: delayMs=<ms>;minPromptTokens=<n>`: a request whose prompt has at least
// that many tokens waits that long before it joins the generation queue — a slow prefill of long prompts —
// so the delay is in this server's own TTFT and E2E, and shorter prompts (the prober's) are not held up.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { FinishReason, VllmMetricsRecorder } from "../../core/prometheus/vllm-metrics";
import { SERVER_DELAY_HEADER } from "../gateway/fault-injection";
import type { GenerationResult } from "./generation";
import type { LoadedModel, Prompt } from "./loaded-model";
import { OpenAiError } from "./openai-error";
import {
  type ChatRequest,
  type CompletionRequest,
  parseChatRequest,
  parseCompletionRequest,
} from "./openai-requests";
import {
  chatChunk,
  chatCompletion,
  responseHeader,
  textChunk,
  textCompletion,
  usage,
  usageChunk,
} from "./openai-responses";

interface LlamaHttpServerOptions {
  readonly servedName: string;
  /** The model once it has loaded; undefined while it loads. */
  readonly model: () => LoadedModel | undefined;
  /** Request bodies over this many bytes are refused with 413. */
  readonly maxBodyBytes: number;
  /** Where each finished request is counted, and what `GET /metrics` answers. */
  readonly metrics: VllmMetricsRecorder;
}

const ROUTES: Readonly<Record<string, "GET" | "POST">> = {
  "/health": "GET",
  "/metrics": "GET",
  "/v1/models": "GET",
  "/v1/chat/completions": "POST",
  "/v1/completions": "POST",
};

/** How far past the size limit a refused body is still read before the connection is cut. */
const DRAIN_LIMIT_FACTOR = 16;

const ROUTE_LIST =
  "GET /health, GET /metrics, GET /v1/models, POST /v1/chat/completions and POST /v1/completions";
/** A day, as the gateway's faults allow. */
const MAX_FAULT_DELAY_MS = 86_400_000;

export function createLlamaHttpServer(options: LlamaHttpServerOptions): Server {
  const startedAt = Math.floor(Date.now() / 1000);
  return createServer((request, response) => {
    handle(request, response, options, startedAt).catch((error: unknown) => {
      const failure =
        error instanceof OpenAiError
          ? error
          : new OpenAiError(500, `The server failed: ${(error as Error).message}`, null, "internal_error");
      sendError(request, response, failure, options.maxBodyBytes);
    });
  });
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: LlamaHttpServerOptions,
  startedAt: number,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  const method = ROUTES[path];
  if (!method) {
    throw new OpenAiError(
      404,
      `Unknown path: ${request.method} ${path}. This server answers ${ROUTE_LIST}.`,
      null,
      "unknown_url",
    );
  }
  if (request.method !== method) {
    response.setHeader("allow", method);
    throw new OpenAiError(
      405,
      `${path} answers ${method}, not ${request.method}.`,
      null,
      "method_not_allowed",
    );
  }
  const model = options.model();
  if (path === "/metrics") {
    const load = model?.load ?? { waiting: 0, running: 0 };
    options.metrics.setLoad(load.waiting, load.running);
    const text = options.metrics.exposition();
    response.writeHead(200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    response.end(text);
    return;
  }
  if (path === "/health") {
    sendJson(response, model ? 200 : 503, { status: model ? "ok" : "loading" });
    return;
  }
  if (!model) {
    throw new OpenAiError(
      503,
      "The model is still loading; retry when GET /health answers 200.",
      null,
      "model_loading",
      "unavailable_error",
    );
  }
  if (path === "/v1/models") {
    sendJson(response, 200, {
      object: "list",
      // `max_model_len` as vLLM lists it: the context a prompt and its answer share, so clients can size requests.
      data: [
        {
          id: options.servedName,
          object: "model",
          created: startedAt,
          owned_by: "modelship",
          max_model_len: model.contextSize,
        },
      ],
    });
    return;
  }
  const body = await readJsonBody(request, options.maxBodyBytes);
  const fault = serverDelayOf(request);
  if (path === "/v1/chat/completions") {
    const chat = parseChatRequest(body, options.servedName);
    const prompt = model.chatPrompt(chat.messages);
    await measured(options.metrics, fault, prompt, (timing) =>
      answer(response, model, "chat", chat, prompt, timing),
    );
  } else {
    const completion = parseCompletionRequest(body, options.servedName);
    const prompt = model.textPrompt(completion.prompt);
    await measured(options.metrics, fault, prompt, (timing) =>
      answer(response, model, "completion", completion, prompt, timing),
    );
  }
}

/** What `answer` tells `measured` about a request as it goes. */
interface Timing {
  /** Resolves once an injected delay is over (at once without one); rejects if the client left meanwhile. */
  readonly delayed: (signal: AbortSignal) => Promise<void>;
  /** Its turn came: generation starts. */
  readonly started: () => void;
  /** A piece of text was generated. */
  readonly generated: () => void;
  /** How it ended; an error thrown by `answer` is `error` unless the client had left. */
  readonly finished: (reason: FinishReason) => void;
}

/** Runs one request, counting it in vLLM's metrics however it ends (a refused request is not counted). */
async function measured(
  metrics: VllmMetricsRecorder,
  fault: ServerDelay | undefined,
  prompt: Prompt,
  run: (timing: Timing) => Promise<void>,
): Promise<void> {
  const arrived = performance.now();
  let queued = arrived;
  let started: number | undefined;
  let firstPiece: number | undefined;
  let lastPiece: number | undefined;
  const gaps: number[] = [];
  let reason: FinishReason | undefined;
  const timing: Timing = {
    delayed: async (signal) => {
      if (fault && prompt.tokens.length >= fault.minPromptTokens) {
        await sleep(fault.delayMs, undefined, { signal });
      }
      queued = performance.now();
    },
    started: () => void (started = performance.now()),
    generated: () => {
      const now = performance.now();
      if (lastPiece !== undefined) gaps.push((now - lastPiece) / 1000);
      firstPiece ??= now;
      lastPiece = now;
    },
    finished: (how) => void (reason = how),
  };
  let refused = false;
  try {
    await run(timing);
  } catch (error) {
    // A request refused as invalid (too long for the context) never reached generation: vLLM counts none.
    refused = error instanceof OpenAiError && error.status < 500 && started === undefined;
    reason ??= "error";
    throw error;
  } finally {
    const end = performance.now();
    if (!refused)
      metrics.finish({
        reason: reason ?? "abort",
        e2eSeconds: (end - arrived) / 1000,
        queueSeconds: ((started ?? end) - queued) / 1000,
        ...(firstPiece === undefined ? {} : { ttftSeconds: (firstPiece - arrived) / 1000 }),
        interTokenSeconds: gaps,
      });
  }
}

interface ServerDelay {
  readonly delayMs: number;
  readonly minPromptTokens: number;
}

/** The gateway's `delayMs=<ms>;minPromptTokens=<n>`; anything else is no fault (and a 400). */
function serverDelayOf(request: IncomingMessage): ServerDelay | undefined {
  const value = request.headers[SERVER_DELAY_HEADER];
  if (value === undefined) return undefined;
  const match = /^delayMs=(\d+);minPromptTokens=(\d+)$/.exec(String(value).trim());
  const delayMs = Number(match?.[1]);
  if (!match || delayMs > MAX_FAULT_DELAY_MS) {
    throw new OpenAiError(
      400,
      `${SERVER_DELAY_HEADER} must be delayMs=<0–${MAX_FAULT_DELAY_MS}>;minPromptTokens=<n>, got '${String(value)}'.`,
      null,
      "invalid_fault",
    );
  }
  return { delayMs, minPromptTokens: Number(match[2]) };
}

async function answer(
  response: ServerResponse,
  model: LoadedModel,
  kind: "chat" | "completion",
  parsed: ChatRequest | CompletionRequest,
  prompt: Prompt,
  timing: Timing,
): Promise<void> {
  const input = model.plan(prompt, parsed);
  const header = responseHeader(kind, parsed.model);
  const promptTokens = prompt.tokens.length;
  const gone = new AbortController();
  response.on("close", () => {
    if (!response.writableFinished) gone.abort();
  });
  try {
    await timing.delayed(gone.signal);
  } catch {
    // The client left during the injected delay: the request ends as aborted.
    return;
  }
  if (!parsed.stream) {
    const result = await model.run(input, {
      onStart: timing.started,
      onText: timing.generated,
      signal: gone.signal,
    });
    if (!result || gone.signal.aborted) return;
    timing.finished(result.finishReason);
    const body =
      kind === "chat"
        ? chatCompletion(header, result, promptTokens)
        : textCompletion(header, result, promptTokens);
    sendJson(response, 200, body);
    return;
  }
  const event = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`);
  const includeUsage = parsed.includeUsage;
  let result: GenerationResult | undefined;
  try {
    result = await model.run(input, {
      onStart: () => {
        timing.started();
        response.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          connection: "keep-alive",
        });
        if (kind === "chat") event(chatChunk(header, { role: "assistant", content: "" }, null, includeUsage));
      },
      onText: (piece) => {
        timing.generated();
        event(
          kind === "chat"
            ? chatChunk(header, { content: piece }, null, includeUsage)
            : textChunk(header, piece, null, includeUsage),
        );
      },
      signal: gone.signal,
    });
  } catch (error) {
    if (!response.headersSent) throw error;
    timing.finished("error");
    // The stream has started: the failure can only be told inside it.
    event(
      new OpenAiError(500, `Generation failed: ${(error as Error).message}`, null, "internal_error").toBody(),
    );
    response.end();
    return;
  }
  if (!result || gone.signal.aborted) return;
  timing.finished(result.finishReason);
  event(
    kind === "chat"
      ? chatChunk(header, {}, result.finishReason, includeUsage)
      : textChunk(header, "", result.finishReason, includeUsage),
  );
  if (includeUsage) {
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    event(usageChunk(header, object, usage(promptTokens, result)));
  }
  response.end("data: [DONE]\n\n");
}

async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(request, maxBytes);
  if (body === undefined) {
    throw new OpenAiError(
      413,
      `The request body is over this server's limit of ${maxBytes} bytes.`,
      null,
      "request_too_large",
    );
  }
  const text = body.toString("utf8");
  if (text.trim() === "") {
    throw new OpenAiError(400, "The request body is empty: send a JSON object.", null, "invalid_json");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new OpenAiError(
      400,
      `The request body is not valid JSON (${(error as Error).message}): send a JSON object with \`Content-Type: application/json\`.`,
      null,
      "invalid_json",
    );
  }
}

/**
 * The whole body, or undefined when it is over `maxBytes`. An oversized body is still read to its end (and
 * dropped), because a server that answers while its client is still sending resets the connection before
 * the client reads the answer; one far over the limit is cut off.
 */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > maxBytes * DRAIN_LIMIT_FACTOR) request.destroy();
    });
    request.once("end", () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    request.once("error", reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(
  request: IncomingMessage,
  response: ServerResponse,
  error: OpenAiError,
  maxBodyBytes: number,
): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  if (request.readableEnded) {
    sendJson(response, error.status, error.toBody());
    return;
  }
  // Refused before its body was read (an unknown path, a wrong method): read it first, as readBody explains.
  readBody(request, maxBodyBytes).then(
    () => sendJson(response, error.status, error.toBody()),
    () => response.destroy(),
  );
}
