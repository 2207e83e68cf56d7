// The local gateway's front door, over real HTTP: OpenAI requests routed by the body's model and the
// route's weights (drawn from a seeded random, so counts are exact per seed), a sticky rollout's
// conversation key, the variant header, streams
// passed through chunk by chunk, headers, errors in OpenAI's shape, fault injection by percentage, and the
// observation each proxied request leaves for the canary's alarms. Every server is closed after each test.

import { type IncomingHttpHeaders, request, type ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import type { Stickiness } from "../../lib/core/manifest/rollout-settings";
import { seededRandom } from "../../lib/examples/seeded-random";
import type { OpenAiErrorBody } from "../../lib/local/llama-server/openai-error";
import type { LocalGateway, LocalGatewayOptions } from "../../lib/local/gateway/local-gateway";
import { gatewayBench } from "./gateway-bench";

const { gateways, ...bench } = gatewayBench("modelship-gateway-", { random: seededRandom(42) });
const upstream = bench.upstream;

async function openGateway(options: Partial<LocalGatewayOptions> = {}) {
  return { gateway: await bench.openGateway(options) };
}

/** A model with stable v1 on one server and candidate v2 on another, at the given candidate weight. */
async function canary(candidateWeight: number, options: Partial<LocalGatewayOptions> = {}) {
  const stable = await upstream("stable-server");
  const candidate = await upstream("candidate-server");
  const opened = await openGateway(options);
  await opened.gateway.register("chat", stable.handle("chat", "v1"));
  await opened.gateway.promote("chat", "v1");
  await opened.gateway.register("chat", candidate.handle("chat", "v2"));
  if (candidateWeight > 0) {
    await opened.gateway.setWeights("chat", { stable: 100 - candidateWeight, candidate: candidateWeight });
  }
  return { ...opened, stable, candidate };
}

async function chat(
  gateway: LocalGateway,
  body: unknown = { model: "chat" },
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

function rawPost(url: string, body: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    const sent = request(url, { method: "POST", headers, agent: false }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    sent.on("error", reject);
    sent.end(body);
  });
}

async function countServed(gateway: LocalGateway, requests: number, headers: Record<string, string> = {}) {
  const served: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const version =
      (await chat(gateway, { model: "chat" }, headers)).headers.get("x-modelship-version") ?? "none";
    served[version] = (served[version] ?? 0) + 1;
  }
  return served;
}

describe("LocalGateway routing", () => {
  it("sends each request to a backend drawn by the route's weights", async () => {
    const { gateway } = await canary(20);
    const served = await countServed(gateway, 400);
    expect((served["v1"] ?? 0) + (served["v2"] ?? 0)).toBe(400);
    // 20% of 400 is 80; a binomial draw stays within ±4 standard deviations (8) of it.
    expect(served["v2"]).toBeGreaterThan(80 - 32);
    expect(served["v2"]).toBeLessThan(80 + 32);
  });

  it("draws the same backends for the same seed", async () => {
    const first = await canary(50, { random: seededRandom(9) });
    const a = await countServed(first.gateway, 40);
    const second = await canary(50, { random: seededRandom(9) });
    expect(await countServed(second.gateway, 40)).toEqual(a);
  });

  it("sends everything to stable at weight 0 and everything to the candidate at 100", async () => {
    const { gateway } = await canary(0);
    expect(await countServed(gateway, 30)).toEqual({ v1: 30 });
    await gateway.setWeights("chat", { stable: 0, candidate: 100 });
    expect(await countServed(gateway, 30)).toEqual({ v2: 30 });
  });

  it("honours x-modelship-variant, reaching a candidate that carries no traffic", async () => {
    const { gateway, candidate } = await canary(0);
    expect(await countServed(gateway, 10, { "x-modelship-variant": "candidate" })).toEqual({ v2: 10 });
    await gateway.setWeights("chat", { stable: 0, candidate: 100 });
    expect(await countServed(gateway, 10, { "x-modelship-variant": "stable" })).toEqual({ v1: 10 });
    // The header is the gateway's: the model server never sees it.
    expect(candidate.received.every((r) => r.headers["x-modelship-variant"] === undefined)).toBe(true);
  });

  it("refuses a variant header it does not know, saying which values it takes", async () => {
    const { gateway } = await canary(10);
    const answer = await chat(gateway, { model: "chat" }, { "x-modelship-variant": "canary" });
    expect(answer.status).toBe(400);
    expect(answer.json().error).toMatchObject({ code: "invalid_variant" });
    expect(answer.json().error.message).toContain("candidate or stable");
  });

  it("answers an unknown model with an OpenAI-style 404 naming the models it serves", async () => {
    const { gateway } = await canary(10);
    const answer = await chat(gateway, { model: "llama-9" });
    expect(answer.status).toBe(404);
    expect(answer.json()).toEqual({
      error: {
        message: "The model 'llama-9' does not exist here. Models served: chat.",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  });

  it("answers 503 when the model has no backend carrying traffic (a first release before its promotion)", async () => {
    const first = await upstream("first");
    const { gateway } = await openGateway();
    await gateway.register("fresh", first.handle("fresh", "v1"));
    const answer = await chat(gateway, { model: "fresh" });
    expect(answer.status).toBe(503);
    expect(answer.json().error).toMatchObject({ code: "no_backend", type: "unavailable_error" });
    expect((await chat(gateway, { model: "fresh" }, { "x-modelship-variant": "stable" })).status).toBe(503);
    // Test traffic reaches it by the header all the same.
    expect((await chat(gateway, { model: "fresh" }, { "x-modelship-variant": "candidate" })).status).toBe(
      200,
    );
  });

  it("tells a request with no model or no JSON body what the gateway needs", async () => {
    const { gateway } = await canary(10);
    const noModel = await chat(gateway, { messages: [] });
    expect(noModel.status).toBe(400);
    expect(noModel.json().error).toMatchObject({ code: "missing_model", param: "model" });
    const notJson = await chat(gateway, "{model: chat");
    expect(notJson.status).toBe(400);
    expect(notJson.json().error.code).toBe("invalid_json");
    const elsewhere = await fetch(`${gateway.url}/chat/completions`, { method: "POST", body: "{}" });
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as OpenAiErrorBody).error.message).toContain("/v1/");
  });

  it("lists the models it routes at GET /v1/models", async () => {
    const { gateway } = await canary(10);
    const response = await fetch(`${gateway.url}/v1/models`);
    expect(await response.json()).toMatchObject({ object: "list", data: [{ id: "chat", object: "model" }] });
  });
});

describe("LocalGateway sticky routing", () => {
  const SESSIONS = Array.from({ length: 40 }, (_, i) => `conversation-${i}`);

  /** A canary of `chat` whose rollout keeps requests with `x-session-id` (or `stickiness`) on one version. */
  async function stickyCanary(candidateWeight: number, stickiness: Stickiness = { header: "x-session-id" }) {
    const opened = await canary(0);
    await opened.gateway.register("chat", opened.candidate.handle("chat", "v2"), stickiness);
    await setCandidateWeight(opened.gateway, candidateWeight, stickiness);
    return opened;
  }

  function setCandidateWeight(gateway: LocalGateway, weight: number, stickiness: Stickiness) {
    return gateway.setWeights("chat", { stable: 100 - weight, candidate: weight }, stickiness);
  }

  /** The version each session's requests went to (two requests each); fails when a session got two. */
  async function versionsBySession(
    gateway: LocalGateway,
    header: (session: string) => Record<string, string> = (s) => ({ "x-session-id": s }),
  ) {
    const versions: Record<string, string> = {};
    for (const session of SESSIONS) {
      const served = await countServed(gateway, 2, header(session));
      expect(Object.keys(served), session).toHaveLength(1);
      versions[session] = Object.keys(served)[0] as string;
    }
    return versions;
  }

  it("keeps each conversation on one version while the weights rise, moving conversations only to the candidate", async () => {
    const stickiness = { header: "x-session-id" };
    const { gateway } = await stickyCanary(25, stickiness);
    const at25 = await versionsBySession(gateway);
    await setCandidateWeight(gateway, 50, stickiness);
    const at50 = await versionsBySession(gateway);
    await setCandidateWeight(gateway, 75, stickiness);
    const at75 = await versionsBySession(gateway);

    for (const session of SESSIONS) {
      if (at25[session] === "v2") expect(at50[session], session).toBe("v2");
      if (at50[session] === "v2") expect(at75[session], session).toBe("v2");
    }
    // Each weight puts some conversations on each version (40 keys: not all on one side at 25% or 75%).
    const onCandidate = [at25, at50, at75].map((v) => SESSIONS.filter((s) => v[s] === "v2").length);
    expect(onCandidate[0]).toBeGreaterThan(0);
    expect(onCandidate[2]).toBeLessThan(SESSIONS.length);
    expect(onCandidate[0]).toBeLessThanOrEqual(onCandidate[1] as number);
    expect(onCandidate[1]).toBeLessThanOrEqual(onCandidate[2] as number);
  });

  it("splits requests without the key by the weights, as without stickiness", async () => {
    const { gateway } = await stickyCanary(20);
    const served = await countServed(gateway, 400);
    // 20% of 400 is 80; a binomial draw stays within ±4 standard deviations (8) of it.
    expect(served["v2"]).toBeGreaterThan(80 - 32);
    expect(served["v2"]).toBeLessThan(80 + 32);
  });

  it("reads the key from a cookie when the rollout names one", async () => {
    const stickiness = { cookie: "chat_session" };
    const { gateway } = await stickyCanary(50, stickiness);
    const cookie = (session: string) => ({ cookie: `theme=dark; chat_session=${session}` });
    const at50 = await versionsBySession(gateway, cookie);
    expect(new Set(Object.values(at50))).toEqual(new Set(["v1", "v2"]));
    await setCandidateWeight(gateway, 75, stickiness);
    const at75 = await versionsBySession(gateway, cookie);
    for (const session of SESSIONS) if (at50[session] === "v2") expect(at75[session]).toBe("v2");
  });

  it("sends every conversation to stable on a rollback, whatever its key", async () => {
    const { gateway } = await stickyCanary(75);
    const before = await versionsBySession(gateway);
    expect(Object.values(before)).toContain("v2");
    // What Rollback does to the route: the stable takes 100% again, then the candidate goes.
    await gateway.promote("chat", "v1");
    expect(new Set(Object.values(await versionsBySession(gateway)))).toEqual(new Set(["v1"]));
    expect((await gateway.describe("chat"))?.stickiness).toBeUndefined();
  });

  it("lets x-modelship-variant pick the version over the conversation's key", async () => {
    const { gateway } = await stickyCanary(50);
    const versions = await versionsBySession(gateway);
    const onStable = SESSIONS.find((s) => versions[s] === "v1") as string;
    const onCandidate = SESSIONS.find((s) => versions[s] === "v2") as string;
    expect(
      await countServed(gateway, 3, { "x-session-id": onStable, "x-modelship-variant": "candidate" }),
    ).toEqual({ v2: 3 });
    expect(
      await countServed(gateway, 3, { "x-session-id": onCandidate, "x-modelship-variant": "stable" }),
    ).toEqual({ v1: 3 });
  });

  it("ignores the key when the rollout is not sticky", async () => {
    const { gateway } = await canary(50);
    const served = await countServed(gateway, 60, { "x-session-id": "one-conversation" });
    expect(Object.keys(served).sort()).toEqual(["v1", "v2"]);
  });
});

describe("LocalGateway forwarding", () => {
  it("forwards path, query and body untouched, with the endpoint's headers and without hop-by-hop ones", async () => {
    const { gateway, stable } = await canary(0);
    const body = '{"model":"chat",  "messages":[{"role":"user","content":"hé"}]}';
    // node:http, not fetch: fetch refuses to send hop-by-hop headers at all.
    const response = await rawPost(`${gateway.url}/v1/chat/completions?trace=1`, body, {
      "content-type": "application/json",
      "x-request-id": "abc",
      "keep-alive": "timeout=5",
      connection: "keep-alive, x-drop-me",
      "x-drop-me": "hop",
    });
    expect(response.status).toBe(200);
    expect(response.headers["x-upstream"]).toBe("stable-server");
    expect(response.headers["x-modelship-variant"]).toBe("stable");
    const [received] = stable.received;
    expect(received).toMatchObject({ method: "POST", path: "/v1/chat/completions?trace=1", body });
    expect(received?.headers).toMatchObject({
      "x-request-id": "abc",
      "content-type": "application/json",
      authorization: "Bearer upstream-token",
      "content-length": String(Buffer.byteLength(body)),
      host: `127.0.0.1:${stable.port}`,
    });
    expect(received?.headers["keep-alive"]).toBeUndefined();
    expect(received?.headers["x-drop-me"]).toBeUndefined();
  });

  it("drops hop-by-hop headers of the server's answer and keeps the rest", async () => {
    const server = await upstream("odd", (_request, response) => {
      response.writeHead(201, {
        "x-kept": "yes",
        "keep-alive": "timeout=1",
        connection: "x-secret",
        "x-secret": "s",
      });
      response.end("{}");
    });
    const { gateway } = await openGateway();
    await gateway.register("odd", server.handle("odd", "v1"));
    await gateway.promote("odd", "v1");
    const answer = await chat(gateway, { model: "odd" });
    expect(answer.status).toBe(201);
    expect(answer.headers.get("x-kept")).toBe("yes");
    expect(answer.headers.get("x-secret")).toBeNull();
    expect(answer.headers.get("keep-alive")).not.toBe("timeout=1");
  });

  it("passes a stream through chunk by chunk: the first chunk arrives before the server has finished", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n';
    const rest = ['data: {"choices":[{"delta":{"content":"lo"}}]}\n\n', "data: [DONE]\n\n"];
    const server = await upstream("streamer", async (_request, response: ServerResponse) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(first);
      await released;
      for (const chunk of rest) response.write(chunk);
      response.end();
    });
    const { gateway } = await openGateway();
    await gateway.register("chat", server.handle("chat", "v1"));
    await gateway.promote("chat", "v1");

    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "chat", stream: true }),
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    // The server is still holding the rest back: what arrives now was forwarded as it was written.
    let received = decoder.decode((await reader.read()).value, { stream: true });
    expect(received).toBe(first);
    release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      received += decoder.decode(chunk.value, { stream: true });
    }
    expect(received).toBe(first + rest.join(""));
  });

  it("answers 502 when the backend's server cannot be reached", async () => {
    const gone = await upstream("gone");
    const { gateway } = await openGateway();
    await gateway.register("chat", gone.handle("chat", "v1"));
    await gateway.promote("chat", "v1");
    await gone.close();
    const answer = await chat(gateway);
    expect(answer.status).toBe(502);
    expect(answer.json().error).toMatchObject({ code: "upstream_failed", type: "server_error" });
    expect(answer.json().error.message).toContain("could not be reached");
  });

  it("cuts the client's stream when the server breaks off its answer", async () => {
    const server = await upstream("breaker", (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: {}\n\n", () => response.socket?.destroy());
    });
    const { gateway } = await openGateway();
    await gateway.register("chat", server.handle("chat", "v1"));
    await gateway.promote("chat", "v1");
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      body: '{"model":"chat"}',
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it("answers 503 when the backend's endpoint cannot be resolved", async () => {
    const server = await upstream("unresolvable");
    const { gateway } = await openGateway({
      endpointOf: async () => {
        throw new Error("the server process (pid 4242) is gone");
      },
    });
    await gateway.register("chat", server.handle("chat", "v1"));
    await gateway.promote("chat", "v1");
    const answer = await chat(gateway);
    expect(answer.status).toBe(503);
    expect(answer.json().error.message).toContain("pid 4242");
  });

  it("closes: stops listening and ends the streams in flight", async () => {
    const server = await upstream("endless", (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: {}\n\n");
    });
    const { gateway } = await openGateway();
    await gateway.register("chat", server.handle("chat", "v1"));
    await gateway.promote("chat", "v1");
    const url = gateway.url;
    const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", body: '{"model":"chat"}' });
    const reader = response.body!.getReader();
    await reader.read();
    await gateways.splice(0)[0]?.close();
    await expect(
      (async () => {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
      })(),
    ).rejects.toThrow();
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  });
});

describe("LocalGateway and the prober", () => {
  it("applies faults to a prober's request (x-modelship-probe) too, and does not forward the marker", async () => {
    const { gateway, candidate } = await canary(0);
    await gateway.setFault("chat", "candidate", { abort: { httpStatus: 503, percentage: 100 } });
    const probed = await chat(
      gateway,
      { model: "chat" },
      { "x-modelship-variant": "candidate", "x-modelship-probe": "1" },
    );
    // That is what the prober is there to measure.
    expect(probed.status).toBe(503);
    await gateway.setFault("chat", "candidate", undefined);
    await chat(gateway, { model: "chat" }, { "x-modelship-variant": "candidate", "x-modelship-probe": "1" });
    expect(candidate.received[0]?.headers["x-modelship-probe"]).toBeUndefined();
  });
});

describe("LocalGateway fault injection", () => {
  async function faultCounts(percentage: number, fault: "delay" | "abort") {
    const { gateway, candidate } = await canary(0, { random: seededRandom(5) });
    await gateway.setFault(
      "chat",
      "candidate",
      fault === "delay"
        ? { delay: { fixedDelayMs: 2, percentage } }
        : { abort: { httpStatus: 503, percentage } },
    );
    let faulted = 0;
    const requests = 100;
    for (let i = 0; i < requests; i++) {
      const answer = await chat(gateway, { model: "chat" }, { "x-modelship-variant": "candidate" });
      const header = answer.headers.get(
        fault === "delay" ? "x-modelship-fault-delay-ms" : "x-modelship-fault-abort",
      );
      if (header !== null) faulted++;
      if (fault === "abort") expect(answer.status).toBe(header === null ? 200 : 503);
    }
    // Stable is untouched by the candidate's fault.
    const stableAnswer = await chat(gateway);
    expect(stableAnswer.headers.get("x-modelship-fault-abort")).toBeNull();
    expect(stableAnswer.headers.get("x-modelship-fault-delay-ms")).toBeNull();
    return { faulted, requests, reached: candidate.received.length };
  }

  it.each([0, 50, 100])(
    "aborts %i%% of the variant's requests with the status, without reaching the server",
    async (percentage) => {
      const { faulted, requests, reached } = await faultCounts(percentage, "abort");
      if (percentage === 0) expect(faulted).toBe(0);
      if (percentage === 100) expect(faulted).toBe(requests);
      if (percentage === 50) {
        expect(faulted).toBeGreaterThan(30);
        expect(faulted).toBeLessThan(70);
      }
      expect(reached).toBe(requests - faulted);
    },
  );

  it.each([0, 50, 100])(
    "delays %i percent of the variant's requests, then forwards them",
    async (percentage) => {
      const { faulted, requests, reached } = await faultCounts(percentage, "delay");
      if (percentage === 0) expect(faulted).toBe(0);
      if (percentage === 100) expect(faulted).toBe(requests);
      if (percentage === 50) {
        expect(faulted).toBeGreaterThan(30);
        expect(faulted).toBeLessThan(70);
      }
      expect(reached).toBe(requests);
    },
  );

  it("passes a server delay on to the model's server with the request, and says so in the answer", async () => {
    const { gateway, candidate } = await canary(0);
    await gateway.setFault("chat", "candidate", {
      serverDelay: { fixedDelayMs: 1500, minPromptTokens: 100, percentage: 100 },
    });
    const answer = await chat(gateway, { model: "chat" }, { "x-modelship-variant": "candidate" });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-modelship-fault-server-delay")).toBe("1500");
    expect(candidate.received[0]?.headers["x-modelship-fault-server-delay"]).toBe(
      "delayMs=1500;minPromptTokens=100",
    );
  });

  it("never forwards a server delay a client sent itself", async () => {
    const { gateway, candidate } = await canary(0);
    await chat(
      gateway,
      { model: "chat" },
      {
        "x-modelship-variant": "candidate",
        "x-modelship-fault-server-delay": "delayMs=99999;minPromptTokens=0",
      },
    );
    expect(candidate.received[0]?.headers["x-modelship-fault-server-delay"]).toBeUndefined();
  });

  it("answers an abort in OpenAI's error shape, saying it was injected", async () => {
    const { gateway } = await canary(0);
    await gateway.setFault("chat", "stable", { abort: { httpStatus: 429, percentage: 100 } });
    const answer = await chat(gateway);
    expect(answer.status).toBe(429);
    expect(answer.json().error).toMatchObject({ code: "fault_injected" });
    expect(answer.json().error.message).toContain("chat's stable");
  });

  it("stops injecting once the fault is cleared", async () => {
    const { gateway } = await canary(0);
    await gateway.setFault("chat", "stable", { abort: { httpStatus: 500, percentage: 100 } });
    expect((await chat(gateway)).status).toBe(500);
    await gateway.setFault("chat", "stable", undefined);
    expect((await chat(gateway)).status).toBe(200);
  });

  it("refuses a fault for a model it does not route", async () => {
    const { gateway } = await canary(0);
    await expect(
      gateway.setFault("other", "stable", { abort: { httpStatus: 500, percentage: 100 } }),
    ).rejects.toThrow("no route for other");
  });
});
