// The local llama.cpp server, for real: one server process over a generated tiny GGUF serves the whole file
// (threads 1, context 256, a few tokens per request). The model has random weights, so its text is noise;
// what is specified is the protocol: shapes, token counts, finish reasons, streaming, stop strings, errors.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parsePrometheusText } from "../../lib/core/prometheus/prometheus-text";
import { VllmMetricsRecorder } from "../../lib/core/prometheus/vllm-metrics";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { createLlamaHttpServer } from "../../lib/local/llama-server/http-server";
import { llamaServerCommand } from "../../lib/local/llama-server/launch";
import type { OpenAiErrorBody } from "../../lib/local/llama-server/openai-error";
import { isRunning } from "../support/process-alive";

const NAME = "tiny-chat";
const CONTEXT = 256;

let work: string;
let server: ChildProcess;
let serverExit: Promise<number | null>;
let output = "";
let base: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-llama-server-"));
  const modelPath = join(work, "tiny.gguf");
  await writeFile(modelPath, buildTinyLlamaGguf({ seed: 1 }));
  const port = await freePort();
  const { command, args } = llamaServerCommand({
    modelPath,
    port,
    servedName: NAME,
    threads: 1,
    contextSize: CONTEXT,
  });
  server = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  serverExit = new Promise((resolve) => server.once("exit", (code) => resolve(code)));
  server.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  server.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  base = `http://127.0.0.1:${port}`;
  await vi.waitFor(
    async () => {
      if (server.exitCode !== null) throw new Error(`the server exited:\n${output}`);
      expect((await fetch(`${base}/health`)).status).toBe(200);
    },
    { timeout: 30_000, interval: 100 },
  );
});

afterAll(async () => {
  if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  await serverExit;
  expect(isRunning(server.pid as number)).toBe(false);
  await rm(work, { recursive: true, force: true });
});

describe("The local llama.cpp server", () => {
  it("answers /health and lists the served name in /v1/models, with its context as max_model_len", async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const models = await getJson("/v1/models");
    expect(models.status).toBe(200);
    // The context a prompt and its answer share, listed as vLLM lists it.
    expect(models.body).toMatchObject({
      object: "list",
      data: [{ id: NAME, object: "model", max_model_len: CONTEXT }],
    });
  });

  it("answers a chat through the chat template, counting the template's tokens as the prompt", async () => {
    const { status, body } = await postJson("/v1/chat/completions", {
      model: NAME,
      messages: [{ role: "user", content: "xyz" }],
      max_tokens: 8,
      temperature: 1,
      seed: 3,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      object: "chat.completion",
      model: NAME,
      choices: [{ index: 0, message: { role: "assistant" } }],
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(typeof body.choices[0].message.content).toBe("string");
    // ChatML, one token per byte except the control tokens: <|endoftext|> (the wrapper's BOS), <|im_start|>,
    // "user\n" (5), "xyz" (3), <|im_end|>, "\n", <|im_start|>, "assistant\n" (10).
    expect(body.usage.prompt_tokens).toBe(23);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);

    const longer = await postJson("/v1/chat/completions", {
      model: NAME,
      messages: [{ role: "user", content: "xyzxyz" }],
      max_tokens: 1,
    });
    expect(longer.body.usage.prompt_tokens).toBe(26);
  });

  it("finishes with `length` when it has generated max_tokens tokens, and counts them", async () => {
    // Greedy decoding never ends a turn on the generated model (its control tokens' logits are zero).
    for (const maxTokens of [1, 12]) {
      const { body } = await postJson("/v1/chat/completions", {
        model: NAME,
        messages: [{ role: "user", content: "Say something." }],
        max_completion_tokens: maxTokens,
        temperature: 0,
      });
      expect(body.choices[0].finish_reason).toBe("length");
      expect(body.usage.completion_tokens).toBe(maxTokens);
    }
  });

  it("finishes with `stop` when the model ends its turn before max_tokens", async () => {
    // At a high temperature the generated model sometimes samples its end-of-turn token: take the first seed.
    let ended;
    for (let seed = 1; seed <= 30 && !ended; seed++) {
      const { body } = await postJson("/v1/chat/completions", {
        model: NAME,
        messages: [{ role: "user", content: "Say something." }],
        max_tokens: 60,
        temperature: 2,
        seed,
      });
      if (body.choices[0].finish_reason !== "length") ended = body;
    }
    expect(ended, "no seed ended its turn").toBeDefined();
    expect(ended.choices[0].finish_reason).toBe("stop");
    expect(ended.usage.completion_tokens).toBeLessThan(60);
  });

  it("streams a chat: the role first, deltas adding up to the same seeded answer, the finish reason, usage, [DONE]", async () => {
    const request = {
      model: NAME,
      messages: [{ role: "user", content: "Stream this." }],
      max_tokens: 16,
      temperature: 1,
      seed: 7,
    };
    const whole = await postJson("/v1/chat/completions", request);
    const events = await postStream("/v1/chat/completions", {
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });

    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(new Set(chunks.map((chunk) => chunk.object))).toEqual(new Set(["chat.completion.chunk"]));
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(whole.body.usage);
    const finishChunk = chunks.at(-2);
    expect(finishChunk.choices[0]).toMatchObject({
      delta: {},
      finish_reason: whole.body.choices[0].finish_reason,
    });
    const deltas = chunks.slice(1, -2);
    for (const chunk of deltas) expect(chunk.choices[0].finish_reason).toBeNull();
    const streamed = deltas.map((chunk) => chunk.choices[0].delta.content).join("");
    expect(streamed).toBe(whole.body.choices[0].message.content);
    expect(streamed.length).toBeGreaterThan(0);
  });

  it("completes a prompt, counting one prompt token per byte of this byte-level vocabulary, streaming too", async () => {
    const request = { model: NAME, prompt: "xyzxyz", max_tokens: 6, temperature: 1, seed: 11 };
    const { status, body } = await postJson("/v1/completions", request);
    expect(status).toBe(200);
    expect(body).toMatchObject({ object: "text_completion", model: NAME, choices: [{ index: 0 }] });
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.usage.prompt_tokens).toBe(6);
    expect(body.usage.total_tokens).toBe(6 + body.usage.completion_tokens);
    expect(["stop", "length"]).toContain(body.choices[0].finish_reason);

    const events = await postStream("/v1/completions", { ...request, stream: true });
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.at(-1).choices[0]).toMatchObject({
      text: "",
      finish_reason: body.choices[0].finish_reason,
    });
    expect(chunks.map((chunk) => chunk.choices[0].text).join("")).toBe(body.choices[0].text);
    expect(chunks.every((chunk) => !("usage" in chunk))).toBe(true);
  });

  it("stops just before a stop string, streaming or not, and says `stop`", async () => {
    const request = { model: NAME, prompt: "abc", max_tokens: 40, temperature: 1, seed: 5 };
    const free = (await postJson("/v1/completions", request)).body.choices[0].text as string;
    // Two characters of the free answer, first seen a few characters in: the answer must end just before them.
    const at = Array.from({ length: free.length }, (_, index) => index).find((index) => {
      const pair = free.slice(index, index + 2);
      return (
        index >= 4 && pair.length === 2 && !/[\uFFFD\uD800-\uDFFF]/.test(pair) && free.indexOf(pair) === index
      );
    });
    expect(at, `no usable stop string in ${JSON.stringify(free)}`).toBeDefined();
    const stop = free.slice(at, (at as number) + 2);
    const expected = free.slice(0, at);

    const stopped = await postJson("/v1/completions", { ...request, stop: [stop, "never generated"] });
    expect(stopped.body.choices[0]).toMatchObject({ text: expected, finish_reason: "stop" });
    const events = await postStream("/v1/completions", { ...request, stop, stream: true });
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.map((chunk) => chunk.choices[0].text).join("")).toBe(expected);
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
  });

  it("serves concurrent requests one at a time, each answering as it would alone", async () => {
    const request = (seed: number) => ({ model: NAME, prompt: "xyz", max_tokens: 24, temperature: 1, seed });
    const alone = [];
    for (const seed of [21, 22, 23]) alone.push((await postJson("/v1/completions", request(seed))).body);
    const together = await Promise.all(
      [21, 22, 23].map((seed) => postJson("/v1/completions", request(seed))),
    );
    expect(together.map((answer) => answer.body.choices[0].text)).toEqual(
      alone.map((answer) => answer.choices[0].text),
    );
  });

  it("keeps serving after a client hangs up in the middle of a stream", async () => {
    const hangUp = new AbortController();
    const response = await fetch(`${base}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: NAME, prompt: "xyz", max_tokens: 200, stream: true }),
      signal: hangUp.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    hangUp.abort();
    await reader.cancel().catch(() => {});

    const next = await postJson("/v1/completions", { model: NAME, prompt: "xyz", max_tokens: 2 });
    expect(next.status).toBe(200);
    expect(next.body.usage.completion_tokens).toBeLessThanOrEqual(2);
  });

  it("refuses malformed requests with OpenAI-style error bodies", async () => {
    const badJson = await fetch(`${base}/v1/chat/completions`, { method: "POST", body: "{not json" });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({
      error: {
        type: "invalid_request_error",
        code: "invalid_json",
        param: null,
        message: expect.any(String),
      },
    });

    const wrongModel = await postJson("/v1/chat/completions", {
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(wrongModel.status).toBe(404);
    expect(wrongModel.body.error).toMatchObject({
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
    expect(wrongModel.body.error.message).toContain(NAME);

    const unknownPath = await fetch(`${base}/v1/embeddings`, { method: "POST", body: "{}" });
    expect(unknownPath.status).toBe(404);
    expect((await errorOf(unknownPath)).message).toContain("/v1/embeddings");

    const wrongMethod = await fetch(`${base}/v1/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect((await errorOf(wrongMethod)).type).toBe("invalid_request_error");
  });

  it("names every bad field at once", async () => {
    const { status, body } = await postJson("/v1/chat/completions", {
      model: NAME,
      messages: [{ role: "robot", content: "hi" }],
      temperature: 3,
      max_tokens: 0,
      stop: ["a", "b", "c", "d", "e"],
    });
    expect(status).toBe(400);
    expect(body.error.param).toBe("messages[0].role");
    for (const field of ["messages[0].role", "temperature", "max_tokens", "stop"]) {
      expect(body.error.message).toContain(`\`${field}\``);
    }
  });

  it("refuses a prompt longer than the context, and a max_tokens that does not fit, with the numbers", async () => {
    const tooLong = await postJson("/v1/completions", { model: NAME, prompt: "x".repeat(300) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ param: "prompt", code: "context_length_exceeded" });
    expect(tooLong.body.error.message).toContain("300 tokens");
    expect(tooLong.body.error.message).toContain(`${CONTEXT} tokens`);

    const tooMany = await postJson("/v1/completions", { model: NAME, prompt: "xyzxyz", max_tokens: 251 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ param: "max_tokens", code: "context_length_exceeded" });
    expect(tooMany.body.error.message).toContain("at most 250 tokens");
  });

  it("exposes vLLM's request metrics on /metrics: each answered request by finish reason, not a refused one", async () => {
    const before = await metricsNow();
    await postJson("/v1/chat/completions", {
      model: NAME,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    await postJson("/v1/completions", { model: NAME, prompt: "x".repeat(400), max_tokens: 3 });
    const after = await metricsNow();
    expect(
      after.counter('vllm:request_success_total{finished_reason="length"}') -
        before.counter('vllm:request_success_total{finished_reason="length"}') +
        after.counter('vllm:request_success_total{finished_reason="stop"}') -
        before.counter('vllm:request_success_total{finished_reason="stop"}'),
    ).toBe(1);
    expect(
      after.counter("vllm:e2e_request_latency_seconds_count") -
        before.counter("vllm:e2e_request_latency_seconds_count"),
    ).toBe(1);
    expect(
      after.counter("vllm:time_to_first_token_seconds_count") -
        before.counter("vllm:time_to_first_token_seconds_count"),
    ).toBe(1);
    expect(after.text).toContain("# TYPE vllm:inter_token_latency_seconds histogram");
    expect(after.text).toMatch(/^process_start_time_seconds \d+\.?\d*$/m);
  });

  it("holds a long prompt for the gateway's server delay before it joins the queue, and not a short one", async () => {
    const before = await metricsNow();
    const fault = { "x-modelship-fault-server-delay": "delayMs=3000;minPromptTokens=100" };
    const short = await postJson("/v1/completions", { model: NAME, prompt: "short", max_tokens: 1 }, fault);
    const long = await postJson(
      "/v1/completions",
      { model: NAME, prompt: "y".repeat(150), max_tokens: 1 },
      fault,
    );
    expect([short.status, long.status]).toEqual([200, 200]);
    const after = await metricsNow();
    // The long prompt waited 3 s before its turn: its E2E and TTFT are over 2.5 s, not its queue time; the
    // short one (a single token) was not held, far below 2.5 s.
    const slowE2e =
      after.counter('vllm:e2e_request_latency_seconds_bucket{le="2.5"}') -
      before.counter('vllm:e2e_request_latency_seconds_bucket{le="2.5"}');
    expect(slowE2e).toBe(1);
    const fastTtft =
      after.counter('vllm:time_to_first_token_seconds_bucket{le="2.5"}') -
      before.counter('vllm:time_to_first_token_seconds_bucket{le="2.5"}');
    expect(fastTtft).toBe(1);
    const queued =
      after.counter('vllm:request_queue_time_seconds_bucket{le="2.5"}') -
      before.counter('vllm:request_queue_time_seconds_bucket{le="2.5"}');
    expect(queued).toBe(2);
  });

  it("refuses a server delay it cannot read", async () => {
    const { status, body } = await postJson(
      "/v1/completions",
      { model: NAME, prompt: "x", max_tokens: 1 },
      { "x-modelship-fault-server-delay": "lots" },
    );
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { code: "invalid_fault" } });
  });

  it("refuses a body over its size limit with 413", async () => {
    const response = await fetch(`${base}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: NAME, prompt: "x".repeat(4 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("request_too_large");
  });

  it("exits when its stdin closes: the parent that started it is gone", async () => {
    server.stdin?.end();
    expect(await serverExit).toBe(0);
    expect(output).toContain("stdin closed");
  });
});

describe("The local llama.cpp server while its model loads", () => {
  let loading: Server;
  let loadingBase: string;

  beforeAll(async () => {
    loading = createLlamaHttpServer({
      servedName: NAME,
      model: () => undefined,
      maxBodyBytes: 1024,
      metrics: new VllmMetricsRecorder(NAME, 0),
    });
    await new Promise<void>((resolve) => loading.listen(0, "127.0.0.1", resolve));
    loadingBase = `http://127.0.0.1:${(loading.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => loading.close(resolve));
  });

  it("answers /health with 503 and model requests with an OpenAI-style 503", async () => {
    const health = await fetch(`${loadingBase}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "loading" });
    const chat = await fetch(`${loadingBase}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: NAME, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(chat.status).toBe(503);
    expect((await errorOf(chat)).code).toBe("model_loading");
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any -- OpenAI bodies, read field by field */
async function getJson(path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, body: await response.json() };
}

async function postJson(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The server's /metrics now: its text, and a counter by name and labels (e.g. `m{le="0.5"}`), summed. */
async function metricsNow(): Promise<{ text: string; counter: (selector: string) => number }> {
  const response = await fetch(`${base}/metrics`);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  const samples = parsePrometheusText(text, () => true);
  const counter = (selector: string) => {
    const [, name = selector, labelText = ""] = /^([^{]+)(?:\{(.*)\})?$/.exec(selector) ?? [];
    const wanted = [...labelText.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v] as const);
    return samples
      .filter((s) => s.name === name && wanted.every(([k, v]) => s.labels[k as string] === v))
      .reduce((sum, s) => sum + s.value, 0);
  };
  return { text, counter };
}

async function errorOf(response: Response): Promise<OpenAiErrorBody["error"]> {
  return ((await response.json()) as OpenAiErrorBody).error;
}

/** The `data:` payloads of a server-sent event stream, in order. */
async function postStream(path: string, body: unknown): Promise<string[]> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const text = await response.text();
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter((event) => event !== "")
    .map((event) => {
      expect(event.startsWith("data: ")).toBe(true);
      return event.slice("data: ".length);
    });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
