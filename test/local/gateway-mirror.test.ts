// The local gateway's shadow, over real HTTP with small servers for the stable and the candidate: while a
// route mirrors `percent` to its candidate, exactly that share of the requests the stable serves is copied
// to the candidate, fire and forget — the user's answer is the stable's whether the candidate is slow,
// failing, unreachable or hanging; copies in flight are bounded (the rest dropped and counted); the stable's
// and the candidate's answers to the same request are kept in pairs, bounded and clipped; and the mirror
// comes off with nothing left open. Every server is closed after each test.

import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { GatewayFailed } from "../../lib/core/errors";
import {
  SHADOW_PAIRS_KEPT,
  SHADOW_TEXT_CHARS,
  type ShadowSamples,
} from "../../lib/core/traffic/shadow-samples";
import { seededRandom } from "../../lib/examples/seeded-random";
import type { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { MAX_MIRRORS_IN_FLIGHT } from "../../lib/local/gateway/request-mirror";
import { gatewayBench } from "./gateway-bench";
import type { Responder } from "./gateway-upstream";

const { gateways, ...bench } = gatewayBench("modelship-gateway-mirror-", { random: seededRandom(7) });

const WAIT = { timeout: 20_000, interval: 20 };

/** An OpenAI chat answer with `content` and its completion tokens (one per word). */
function answerWith(content: string): Responder {
  return (_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { completion_tokens: content.split(" ").length },
      }),
    );
  };
}

/** The stable's answer names the question it was asked, so a pair shows which request it belongs to. */
const stableEcho: Responder = (request, response) => {
  const { messages } = JSON.parse(request.body) as { messages?: { content: string }[] };
  return answerWith(`stable answer to ${messages?.at(-1)?.content ?? "nothing"}`)(request, response);
};

/** A candidate that never answers until the test says so; `closed` counts the copies cut on its side. */
function holdingCandidate() {
  const held: ServerResponse[] = [];
  let closed = 0;
  const respond: Responder = (_request, response) => {
    held.push(response);
    response.once("close", () => {
      if (!response.writableEnded) closed++;
    });
  };
  return {
    respond,
    held,
    closed: () => closed,
    release: (content: string) => {
      for (const response of held.splice(0)) answerWith(content)({} as never, response);
    },
  };
}

/** Stable v1 at 100% and candidate v2 registered beside it, with `percent` of v1's requests mirrored to v2. */
async function shadow(percent: number, candidateRespond?: Responder, home?: string) {
  const stable = await bench.upstream("stable-server", stableEcho);
  const candidate = await bench.upstream(
    "candidate-server",
    candidateRespond ?? answerWith("candidate answer"),
  );
  const gateway = await openGateway(home);
  await gateway.register("chat", stable.handle("chat", "v1"));
  await gateway.promote("chat", "v1");
  await gateway.register("chat", candidate.handle("chat", "v2"));
  await gateway.mirror("chat", { version: "v2", percent });
  return { gateway, stable, candidate };
}

const openGateway = (home?: string) => bench.openGateway({ home });

async function chat(gateway: LocalGateway, content = "hello", headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "chat", messages: [{ role: "user", content }], max_tokens: 8 }),
    signal: AbortSignal.timeout(20_000),
  });
  return {
    status: response.status,
    version: response.headers.get("x-modelship-version"),
    variant: response.headers.get("x-modelship-variant"),
    text: await response.text(),
  };
}

async function samplesOf(gateway: LocalGateway) {
  const samples: ShadowSamples = await gateway.shadowSamples("chat");
  if ("unavailable" in samples) throw new Error(`no samples: ${samples.unavailable}`);
  return samples;
}

/** 7 of `question 7 …`. */
const numberOf = (request: string | undefined) => Number(request?.split(" ")[1]);
const questions = (body: string) =>
  (JSON.parse(body) as { messages: { content: string }[] }).messages[0]?.content;

describe("LocalGateway mirror: which requests are copied", () => {
  it("copies exactly `percent` of the stable's requests, spread evenly: at 20%, the 5th, 10th, 15th …", async () => {
    const { gateway, candidate } = await shadow(20);
    for (let i = 1; i <= 50; i++) expect((await chat(gateway, `question ${i}`)).status).toBe(200);

    expect((await samplesOf(gateway)).mirrored).toBe(10);
    await vi.waitFor(() => expect(candidate.received).toHaveLength(10), WAIT);
    expect(candidate.received.map((r) => questions(r.body)).sort()).toEqual(
      [5, 10, 15, 20, 25, 30, 35, 40, 45, 50].map((i) => `question ${i}`).sort(),
    );
  });

  it("sends the copy as the user sent it, to the candidate's server with its endpoint's headers", async () => {
    const { gateway, candidate, stable } = await shadow(100);
    await chat(gateway, "what is a shadow?", { "x-user-header": "kept" });

    await vi.waitFor(() => expect(candidate.received).toHaveLength(1), WAIT);
    const [copy] = candidate.received;
    const [original] = stable.received;
    expect(copy?.path).toBe("/v1/chat/completions");
    expect(copy?.body).toBe(original?.body);
    expect(copy?.headers).toMatchObject({ authorization: "Bearer upstream-token", "x-user-header": "kept" });
  });

  it("never copies a test's request (the variant header), nor counts it toward the share", async () => {
    const { gateway, candidate, stable } = await shadow(50);
    for (let i = 1; i <= 4; i++) {
      await chat(gateway, `user ${i}`);
      await chat(gateway, `test ${i}`, { "x-modelship-variant": "stable" });
    }
    expect((await samplesOf(gateway)).mirrored).toBe(2);
    await vi.waitFor(() => expect(candidate.received).toHaveLength(2), WAIT);
    expect(candidate.received.map((r) => questions(r.body)).sort()).toEqual(["user 2", "user 4"]);
    expect(stable.received).toHaveLength(8);
  });
});

describe("LocalGateway mirror: the user's answer is always the stable's", () => {
  it("answers every user from the stable while the candidate hangs on every copy", async () => {
    const candidate = holdingCandidate();
    const { gateway } = await shadow(100, candidate.respond);
    const answers = [];
    for (let i = 1; i <= 4; i++) answers.push(await chat(gateway, `question ${i}`));

    expect(answers.map((a) => [a.status, a.variant, a.version])).toEqual(
      Array.from({ length: 4 }, () => [200, "stable", "v1"]),
    );
    expect(answers[0]?.text).toContain("stable answer to question 1");
    await vi.waitFor(() => expect(candidate.held).toHaveLength(4), WAIT);
    // The candidate has answered nothing yet: no pair can have been kept.
    expect((await samplesOf(gateway)).pairs).toEqual([]);

    candidate.release("late candidate answer");
    await vi.waitFor(async () => expect((await samplesOf(gateway)).pairs).toHaveLength(4), WAIT);
    expect((await samplesOf(gateway)).pairs[0]?.candidate).toMatchObject({
      status: 200,
      text: "late candidate answer",
    });
  });

  it("answers every user from the stable when the candidate fails, and counts the failed copies", async () => {
    const failing: Responder = (_request, response) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: "candidate broke" } }));
    };
    const { gateway } = await shadow(100, failing);
    for (let i = 1; i <= 3; i++) {
      expect(await chat(gateway, `question ${i}`)).toMatchObject({ status: 200, version: "v1" });
    }

    await vi.waitFor(async () => expect((await samplesOf(gateway)).failed).toBe(3), WAIT);
    await vi.waitFor(async () => expect((await samplesOf(gateway)).pairs).toHaveLength(3), WAIT);
    expect((await samplesOf(gateway)).pairs[0]).toMatchObject({
      stable: { status: 200, text: "stable answer to question 1" },
      candidate: { status: 500, error: "HTTP 500" },
    });
  });

  it("answers every user from the stable when the candidate's server is gone, and says the copy could not be sent", async () => {
    const { gateway, candidate } = await shadow(100);
    await candidate.close();
    expect(await chat(gateway)).toMatchObject({ status: 200, version: "v1" });

    await vi.waitFor(async () => expect((await samplesOf(gateway)).pairs).toHaveLength(1), WAIT);
    const samples = await samplesOf(gateway);
    expect(samples.failed).toBe(1);
    expect(samples.pairs[0]?.candidate.error).toMatch(/^the copy could not be sent \(/);
    expect(samples.pairs[0]?.candidate.status).toBeUndefined();
  });

  it("applies the candidate's injected abort to the copies, never to the user's answer", async () => {
    const { gateway, candidate } = await shadow(100);
    await gateway.setFault("chat", "candidate", { abort: { httpStatus: 503, percentage: 100 } });
    for (let i = 1; i <= 2; i++) expect(await chat(gateway)).toMatchObject({ status: 200, version: "v1" });

    await vi.waitFor(async () => expect((await samplesOf(gateway)).failed).toBe(2), WAIT);
    expect((await samplesOf(gateway)).pairs.map((p) => p.candidate)).toEqual([
      expect.objectContaining({ status: 503, error: "aborted by a fault injected into the candidate" }),
      expect.objectContaining({ status: 503, error: "aborted by a fault injected into the candidate" }),
    ]);
    expect(candidate.received).toEqual([]);
  });
});

describe("LocalGateway mirror: bounds", () => {
  it(`keeps at most ${MAX_MIRRORS_IN_FLIGHT} copies in flight, dropping and counting the rest, and copies again once they end`, async () => {
    const candidate = holdingCandidate();
    const { gateway } = await shadow(100, candidate.respond);
    for (let i = 1; i <= MAX_MIRRORS_IN_FLIGHT + 4; i++) {
      expect(await chat(gateway, `question ${i}`)).toMatchObject({ status: 200, version: "v1" });
    }

    await vi.waitFor(() => expect(candidate.held).toHaveLength(MAX_MIRRORS_IN_FLIGHT), WAIT);
    expect(await samplesOf(gateway)).toMatchObject({
      mirrored: MAX_MIRRORS_IN_FLIGHT,
      dropped: 4,
      failed: 0,
    });

    candidate.release("done");
    await vi.waitFor(
      async () => expect((await samplesOf(gateway)).pairs).toHaveLength(MAX_MIRRORS_IN_FLIGHT),
      WAIT,
    );
    await chat(gateway, "after the release");
    await vi.waitFor(() => expect(candidate.held).toHaveLength(1), WAIT);
    expect(await samplesOf(gateway)).toMatchObject({ mirrored: MAX_MIRRORS_IN_FLIGHT + 1, dropped: 4 });
  });

  it(`keeps the first and the last ${SHADOW_PAIRS_KEPT} pairs, each answer clipped with its whole length, tokens and latency`, async () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const { gateway } = await shadow(100, answerWith(long));
    const total = 2 * SHADOW_PAIRS_KEPT + 4;
    const longQuestion = `question ${total} ${"and more ".repeat(100)}`;
    for (let i = 1; i <= total; i++) {
      const question = i === total ? longQuestion : `question ${i}`;
      await chat(gateway, question);
      // One at a time, so the pairs are kept in the order the requests came.
      await vi.waitFor(
        async () => expect(numberOf((await samplesOf(gateway)).pairs.at(-1)?.request)).toBe(i),
        WAIT,
      );
    }

    const samples = await samplesOf(gateway);
    expect(samples).toMatchObject({ version: "v2", percent: 100, mirrored: total, dropped: 0, failed: 0 });
    const kept = Array.from({ length: total }, (_, i) => i + 1).filter(
      (i) => i <= SHADOW_PAIRS_KEPT || i > total - SHADOW_PAIRS_KEPT,
    );
    expect(samples.pairs.map((p) => numberOf(p.request))).toEqual(kept);
    for (const pair of samples.pairs) {
      expect(pair.candidate.text.length).toBeLessThanOrEqual(SHADOW_TEXT_CHARS);
      expect(pair.candidate.text.endsWith("…")).toBe(true);
      expect(pair.candidate).toMatchObject({ status: 200, outputChars: long.length, completionTokens: 200 });
      expect(pair.stable).toMatchObject({ status: 200, completionTokens: expect.any(Number) });
      expect(pair.stable.latencyMs).toBeGreaterThanOrEqual(0);
      expect(pair.candidate.latencyMs).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(pair.at))).toBe(false);
    }
    const last = samples.pairs.at(-1);
    expect(last?.request.length).toBeLessThanOrEqual(SHADOW_TEXT_CHARS);
    expect(last?.stable.text.length).toBeLessThanOrEqual(SHADOW_TEXT_CHARS);
    expect(last?.stable.outputChars).toBe(`stable answer to ${longQuestion}`.length);
  });
});

describe("LocalGateway mirror: on and off", () => {
  it("shows the mirror in describe, keeps it over a restart, and stops copying once it is taken off", async () => {
    const home = await bench.home();
    const first = await shadow(50, undefined, home);
    expect((await first.gateway.describe("chat"))?.mirror).toEqual({ version: "v2", percent: 50 });
    await first.gateway.close();
    gateways.splice(gateways.indexOf(first.gateway), 1);

    const gateway = await openGateway(home);
    expect((await gateway.describe("chat"))?.mirror).toEqual({ version: "v2", percent: 50 });
    for (let i = 1; i <= 4; i++) await chat(gateway, `before ${i}`);
    await vi.waitFor(() => expect(first.candidate.received).toHaveLength(2), WAIT);

    await gateway.mirror("chat", undefined);
    expect((await gateway.describe("chat"))?.mirror).toBeUndefined();
    for (let i = 1; i <= 4; i++) expect(await chat(gateway, `after ${i}`)).toMatchObject({ version: "v1" });
    // The decision to copy is made before the stable answers: no copy was decided after the mirror came off.
    expect((await samplesOf(gateway)).mirrored).toBe(2);
    expect(first.candidate.received.map((r) => questions(r.body))).toEqual(["before 2", "before 4"]);
    // The pairs stay readable for the report after the shadow.
    await vi.waitFor(async () => expect((await samplesOf(gateway)).pairs).toHaveLength(2), WAIT);
    const saved = JSON.parse(await readFile(join(home, "gateway.json"), "utf8")) as {
      routes: Record<string, Record<string, unknown>>;
    };
    expect(saved.routes["chat"]?.["mirror"]).toBeUndefined();
  });

  it("cuts the copies in flight when the gateway closes: nothing is left open to the candidate", async () => {
    const candidate = holdingCandidate();
    const { gateway } = await shadow(100, candidate.respond);
    for (let i = 1; i <= 3; i++) await chat(gateway);
    await vi.waitFor(() => expect(candidate.held).toHaveLength(3), WAIT);

    await gateway.close();
    gateways.splice(gateways.indexOf(gateway), 1);
    await vi.waitFor(() => expect(candidate.closed()).toBe(3), WAIT);
  });

  it("ends the mirror when the candidate is promoted or removed", async () => {
    const promoted = await shadow(30);
    await promoted.gateway.promote("chat", "v2");
    expect((await promoted.gateway.describe("chat"))?.mirror).toBeUndefined();

    const removed = await shadow(30);
    await removed.gateway.removeBackend("chat", "v2");
    expect((await removed.gateway.describe("chat"))?.mirror).toBeUndefined();
    await removed.gateway.register("chat", removed.candidate.handle("chat", "v3"));
    expect((await removed.gateway.describe("chat"))?.mirror).toBeUndefined();
  });

  it("refuses a mirror to a version that is not the route's candidate, or a share that is not a whole percent", async () => {
    const { gateway } = await shadow(10);
    const refused = gateway.mirror("chat", { version: "v9", percent: 0 });
    await expect(refused).rejects.toThrow(GatewayFailed);
    await expect(refused).rejects.toThrow(
      /Cannot mirror chat's requests to v9: 0 is not a whole percent from 1 to 100; v9 is not the candidate on the route/,
    );
    expect((await gateway.describe("chat"))?.mirror).toEqual({ version: "v2", percent: 10 });
  });
});
