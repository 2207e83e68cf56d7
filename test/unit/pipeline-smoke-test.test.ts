import { createServer } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SmokeFailed } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { smokeTest } from "../../lib/pipeline/smoke-test";
import type { CandidateHandle } from "../../lib/ports";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryServing } from "../support/memory-serving";
import { OpenAiTestServer } from "../support/openai-test-server";
import { selfSignedCertificate } from "../support/self-signed-certificate";
import { ROLLOUT, stateAfterValidate, stateWithCandidate } from "../support/rollout-state";
import { MemoryRolloutStore } from "../support/memory-rollout-store";

let server: OpenAiTestServer;
let serving: MemoryServing;
let events: MemoryEvents;
let clock: FixedClock;

beforeAll(async () => {
  server = await OpenAiTestServer.start("llama");
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  server.behave({});
  server.received.length = 0;
  clock = new FixedClock();
  events = new MemoryEvents();
  serving = new MemoryServing(clock, (handle) => ({
    baseUrl: server.baseUrl,
    headers: { authorization: "Bearer candidate-token" },
    servedName: handle.servedName,
  }));
});

/** No pause between retries: the test server answers at once. */
const OPTIONS = { retryDelayMs: 0, timeoutMs: 10_000 };

async function readyCandidate(manifestYaml = ""): Promise<ExecutionState> {
  const state = stateAfterValidate(manifestYaml);
  const handle: CandidateHandle = await serving.deploy({
    model: "llama",
    version: "v3",
    rolloutId: ROLLOUT.id,
    servedName: "llama",
    runtime: "vllm",
    image: "vllm/vllm-openai:v0.11.0",
    gpus: 1,
    maxModelLen: 8192,
    extraArgs: [],
    format: "safetensors",
    weights: { bucket: "b", prefix: "models/llama/v3/" },
    weightBytes: 1,
  });
  return stateWithCandidate(state, handle, { phase: "ready", readySeconds: 42.25 });
}

async function smokeFailure(state: ExecutionState, options = OPTIONS): Promise<SmokeFailed> {
  const failure = await smokeTest(
    state,
    { serving, events, clock, store: new MemoryRolloutStore() },
    options,
  ).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(SmokeFailed);
  return failure as SmokeFailed;
}

function errorLines(failure: SmokeFailed): string[] {
  return failure.findings.filter((f) => f.severity === "error").map((f) => `${f.path ?? ""}: ${f.message}`);
}

describe("SmokeTest", () => {
  it("passes a server that answers well, and records load time, time to first token and tokens/s", async () => {
    const result = await smokeTest(
      await readyCandidate(),
      { serving, events, clock, store: new MemoryRolloutStore() },
      OPTIONS,
    );

    expect(result.verdicts.map((v) => [v.request, v.source ?? "", v.problems])).toEqual([
      ["GET /v1/models", "", []],
      ["chat", "default prompt 1", []],
      ["completion", "default prompt 2", []],
      ["chat", "default prompt 3", []],
      ["chat (streamed)", "default prompt 1", []],
    ]);
    expect(result.loadSeconds).toBe(42.3);
    expect(result.ttftMs).toBeGreaterThanOrEqual(0);
    expect(result.completionTokens).toBe(6);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.testedAt).toBe("2025-06-01T12:00:00.000Z");
    expect(events.emitted).toEqual([
      expect.objectContaining({
        detailType: "Stage Succeeded",
        detail: expect.objectContaining({
          stage: "SmokeTest",
          message: expect.stringMatching(
            /^llama v3 passed the smoke test \(5 checks\): ready in 42.3 s, first token in [\d.]+ ms, [\d.]+ tokens\/s\.$/,
          ),
        }),
      }),
    ]);
  });

  it("sends the served name, the endpoint's headers, one chat through the template and one stream with usage", async () => {
    await smokeTest(
      await readyCandidate(),
      { serving, events, clock, store: new MemoryRolloutStore() },
      OPTIONS,
    );

    const posts = server.received.filter((r) => r.method === "POST");
    expect(posts.map((r) => [r.path, r.body?.["stream"] ?? false])).toEqual([
      ["/v1/chat/completions", false],
      ["/v1/completions", false],
      ["/v1/chat/completions", false],
      ["/v1/chat/completions", true],
    ]);
    for (const request of posts) {
      expect(request.body?.["model"]).toBe("llama");
      expect(request.headers.authorization).toBe("Bearer candidate-token");
    }
    expect(posts[3]?.body?.["stream_options"]).toEqual({ include_usage: true });
    expect(posts[3]?.headers.accept).toBe("text/event-stream");
  });

  it("runs the manifest's prompts, checks expectContains case-insensitively, and adds a chat when they have none", async () => {
    server.behave({ answer: (r) => (r["prompt"] === "2 + 2 =" ? " FOUR, of course." : "Hi there, friend.") });
    const state = await readyCandidate(
      'gates: {smoke: {prompts: [{prompt: "2 + 2 =", expectContains: four, maxTokens: 4}]}}',
    );

    const result = await smokeTest(
      state,
      { serving, events, clock, store: new MemoryRolloutStore() },
      OPTIONS,
    );

    expect(result.verdicts.map((v) => [v.request, v.source])).toEqual([
      ["GET /v1/models", undefined],
      ["completion", "gates.smoke.prompts[0]"],
      ["chat", "default chat prompt (the manifest's prompts have no chat)"],
      ["chat (streamed)", "default chat prompt (the manifest's prompts have no chat)"],
    ]);
    expect(server.received.find((r) => r.body?.["prompt"] === "2 + 2 =")?.body?.["max_tokens"]).toBe(4);
  });

  it("fails an answer that misses expectContains, showing the prompt and what came back", async () => {
    server.behave({ answer: () => "Five." });
    const state = await readyCandidate(
      'gates: {smoke: {prompts: [{messages: [{role: user, content: "What is 2 + 2?"}], expectContains: "4"}]}}',
    );

    const failure = await smokeFailure(state);

    expect(failure.reason).toBe("llama v3 failed 2 of 3 smoke checks.");
    expect(errorLines(failure)).toEqual([
      'gates.smoke.prompts[0]: chat "What is 2 + 2?" → "Five.": does not contain "4".',
      'gates.smoke.prompts[0]: chat (streamed) "What is 2 + 2?" → "Five.": does not contain "4".',
    ]);
    expect(failure.hint).toContain("expectContains");
  });

  it("fails empty answers and invalid finish reasons, listing every problem of every prompt", async () => {
    server.behave({ answer: () => "", finishReason: "abort" });

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)).toEqual([
      'default prompt 1: chat "Hello! In one sentence, what can you help me with?" → "": the answer has no content; finish_reason is "abort"; expected "stop" or "length".',
      'default prompt 2: completion "The three primary colors are" → "": the answer has no content; finish_reason is "abort"; expected "stop" or "length".',
      'default prompt 3: chat "Name two planets of the solar system, separated by a comma." → "": the answer has no content; finish_reason is "abort"; expected "stop" or "length".',
      'default prompt 1: chat (streamed) "Hello! In one sentence, what can you help me with?" → "": the answer has no content; finish_reason is "abort"; expected "stop" or "length".',
    ]);
    expect(failure.message).toContain('info    GET /v1/models → "llama": ok.');
  });

  it("fails degenerate answers, and says how to let random-weight test models through", async () => {
    server.behave({ answer: () => "the the the the the the the the the the the the the the the the" });

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)).toHaveLength(4);
    expect(errorLines(failure)[0]).toMatch(/degenerate output: it repeats "the" in 16 of 16 words\.$/);
    expect(failure.hint).toContain("gates.smoke.rejectDegenerate: false");
  });

  it("lets degenerate answers through when the manifest turns that check off", async () => {
    server.behave({ answer: () => "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD" });

    const result = await smokeTest(
      await readyCandidate("gates: {smoke: {rejectDegenerate: false}}"),
      { serving, events, clock, store: new MemoryRolloutStore() },
      OPTIONS,
    );

    expect(result.verdicts.every((v) => v.problems.length === 0)).toBe(true);
  });

  it("fails when /v1/models does not list the served name, naming what it lists", async () => {
    server.behave({ models: ["/models/llama-3-8b"] });

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)).toEqual([
      ': GET /v1/models → "/models/llama-3-8b": does not list "llama"; it lists "/models/llama-3-8b".',
    ]);
    expect(failure.hint).toContain("--served-model-name");
  });

  it("retries a cold server's 503s a couple of times, then passes", async () => {
    server.behave({ failFirst: { count: 2, status: 503 } });

    const result = await smokeTest(
      await readyCandidate(),
      { serving, events, clock, store: new MemoryRolloutStore() },
      OPTIONS,
    );

    expect(result.verdicts.every((v) => v.problems.length === 0)).toBe(true);
    expect(server.received.filter((r) => r.path === "/v1/models")).toHaveLength(3);
  });

  it("fails with the server's error message when the 500s do not stop", async () => {
    server.behave({ failFirst: { count: 1000, status: 500 } });

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)[0]).toBe(": GET /v1/models: HTTP 500: The model is still loading..");
    expect(server.received).toHaveLength(5 * 3);
  });

  it("gives each request a bounded time, and does not retry one that ran out of it", async () => {
    server.behave({ hang: true });

    const failure = await smokeFailure(await readyCandidate(), { ...OPTIONS, timeoutMs: 300 });

    expect(errorLines(failure)).toHaveLength(4);
    for (const line of errorLines(failure))
      expect(line).toMatch(/no answer: POST .*: no complete answer within 0.3 s\.$/);
    expect(server.received.filter((r) => r.method === "POST")).toHaveLength(4);
  });

  it("does not retry a 4xx: the request itself is wrong", async () => {
    server.behave({ failFirst: { count: 1, status: 400 } });

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)).toEqual([": GET /v1/models: HTTP 400: The model is still loading.."]);
    expect(server.received.filter((r) => r.path === "/v1/models")).toHaveLength(1);
  });

  it.each([
    ["breaks off mid-answer", "broken", /the stream broke after 2 event\(s\)/],
    ["never sends [DONE]", "no-done", /the stream ended without `data: \[DONE\]`/],
    ["reports no usage", "no-usage", /no usage in the stream, though stream_options.include_usage was set/],
    ["sends a chunk that is not JSON", "not-json", /event 3 is not JSON: "\{not json"/],
    [
      "answers JSON instead of SSE",
      "json-not-sse",
      /content-type is "application\/json", not text\/event-stream/,
    ],
  ] as const)("fails a stream that %s", async (_, stream, problem) => {
    server.behave({ stream });

    const failure = await smokeFailure(await readyCandidate());

    const errors = errorLines(failure);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^default prompt 1: chat \(streamed\) /);
    expect(errors[0]).toMatch(problem);
    expect(failure.hint).toContain("SSE");
  });

  it("reports an unreachable server on every check, with the connection error", async () => {
    const closedPort = await freePort();
    serving = new MemoryServing(clock, (handle) => ({
      baseUrl: `http://127.0.0.1:${closedPort}/v1`,
      headers: {},
      servedName: handle.servedName,
    }));

    const failure = await smokeFailure(await readyCandidate());

    expect(errorLines(failure)).toHaveLength(5);
    expect(errorLines(failure)[0]).toMatch(
      /^: GET \/v1\/models: no answer: GET http:\/\/127\.0\.0\.1:\d+\/v1\/models: fetch failed.*ECONNREFUSED.* \(3 attempts\)\.$/,
    );
    expect(failure.hint).toContain("The server stopped answering");
  });
  it("reaches a server whose certificate a private CA signed, when the endpoint names that CA", async () => {
    const certificate = selfSignedCertificate("candidate-proxy");
    const tlsServer = await OpenAiTestServer.start("llama", certificate);
    try {
      serving = new MemoryServing(clock, (handle) => ({
        baseUrl: tlsServer.baseUrl,
        headers: {},
        servedName: handle.servedName,
        caCertificate: certificate.cert,
      }));

      const result = await smokeTest(
        await readyCandidate(),
        { serving, events, clock, store: new MemoryRolloutStore() },
        OPTIONS,
      );

      expect(tlsServer.baseUrl).toMatch(/^https:/);
      expect(result.verdicts.every((v) => v.problems.length === 0)).toBe(true);
    } finally {
      await tlsServer.stop();
    }
  });
});

/** A port nothing listens on: one the system just gave out and took back. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
