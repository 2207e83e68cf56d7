import { afterEach, describe, expect, it } from "vitest";
import type { ItemResult } from "../../../lib/core/eval/eval-results";
import { mergeShardDetails } from "../../../lib/core/eval/merge-shards";
import { checkSuiteItem, type SuiteItem, type SuiteLine } from "../../../lib/core/eval/suite-item";
import { runEvalItems } from "../../../lib/eval/run-eval";
import type { Endpoint } from "../../../lib/ports";
import { type Script, ScriptedModelServer } from "./scripted-model-server";

const FAST_RETRIES = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

let server: ScriptedModelServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(script: Script): Promise<Endpoint> {
  server = await ScriptedModelServer.start(script);
  return { baseUrl: server.baseUrl, headers: { authorization: "Bearer test" }, servedName: "scripted" };
}

function items(...lines: SuiteLine[]): SuiteItem[] {
  return lines.map((line) => {
    const { item } = checkSuiteItem(line);
    if (!item) throw new Error(`bad test item ${String(line.id)}`);
    return item;
  });
}

const ask = (content: string) => [{ role: "user" as const, content }];
const question = (id: string, answer = "yes") =>
  ({ id, messages: ask(`Question ${id}?`), answer, scorer: "contains" }) as const;

describe("runEvalItems", () => {
  it("asks each question at temperature 0 and keeps prompt, output, extracted answer, verdict and attempts", async () => {
    const endpoint = await serve(({ question: q }) => {
      if (q.startsWith("Which is a fruit?")) return { content: "Let me think. The answer is **(B)**." };
      if (q === "Q: 2+2=") return { content: " 5" };
      return { content: "OK." };
    });
    const suite = items(
      {
        id: "fruit",
        messages: ask("Which is a fruit?"),
        choices: ["Carrot", "Apple"],
        answer: "B",
        scorer: "choice",
      },
      { id: "sum", prompt: "Q: 2+2=", answer: 4, scorer: "numeric", maxTokens: 8 },
      { id: "ok", messages: ask("Say OK."), answer: "OK", scorer: "exact" },
    );
    const { summary, detail } = await runEvalItems(suite, endpoint, { suite: "demo", retry: FAST_RETRIES });

    expect(summary).toEqual({
      suite: "demo",
      shard: { index: 0, of: 1 },
      items: 3,
      correct: 2,
      wrong: 1,
      errors: 0,
      failures: [],
    });
    const [fruit, sum, ok] = detail.items;
    expect(fruit).toMatchObject({
      id: "fruit",
      scorer: "choice",
      expected: "B",
      output: "Let me think. The answer is **(B)**.",
      extracted: "B",
      verdict: "correct",
      attempts: 1,
    });
    expect(fruit?.prompt).toEqual({
      messages: ask(
        "Which is a fruit?\n\nA. Carrot\nB. Apple\n\nAnswer with the letter of the correct option (A or B).",
      ),
    });
    expect(sum).toMatchObject({
      prompt: { prompt: "Q: 2+2=" },
      output: " 5",
      extracted: "5",
      verdict: "wrong",
    });
    expect(ok).toMatchObject({ extracted: "ok", verdict: "correct" });
    expect(detail.items.every((i) => i.latencyMs >= 0)).toBe(true);

    const chat = server!.requests.find((r) => r.question.startsWith("Which"))!;
    const completion = server!.requests.find((r) => r.question === "Q: 2+2=")!;
    expect(chat.path).toBe("/v1/chat/completions");
    expect(chat.body).toMatchObject({ model: "scripted", temperature: 0, max_tokens: 512, stream: false });
    expect(completion.path).toBe("/v1/completions");
    expect(completion.body).toMatchObject({
      model: "scripted",
      prompt: "Q: 2+2=",
      temperature: 0,
      max_tokens: 8,
    });
  });

  it("caps every item's max_tokens at the gate's maxTokens, keeping smaller ones", async () => {
    const endpoint = await serve(() => ({ content: "yes" }));
    await runEvalItems(
      items(question("a"), { ...question("b"), maxTokens: 8 }, { ...question("c"), maxTokens: 100 }),
      endpoint,
      { suite: "capped", maxTokens: 32 },
    );
    const asked = Object.fromEntries(server!.requests.map((r) => [r.question, r.body["max_tokens"]]));
    expect(asked).toEqual({ "Question a?": 32, "Question b?": 8, "Question c?": 32 });
  });

  it("retries a 500, then a 429, then scores the answer", async () => {
    const endpoint = await serve(({ attempt }) => {
      if (attempt === 1) return { status: 500, message: "CUDA error" };
      if (attempt === 2) return { status: 429, retryAfter: "0" };
      return { content: "yes" };
    });
    const { detail } = await runEvalItems(items(question("a")), endpoint, {
      suite: "s",
      retry: FAST_RETRIES,
    });
    expect(detail.items[0]).toMatchObject({ verdict: "correct", attempts: 3 });
    expect(server!.requests).toHaveLength(3);
  });

  it("retries a dropped connection", async () => {
    const endpoint = await serve(({ attempt }) => (attempt === 1 ? "drop" : { content: "yes" }));
    const { detail } = await runEvalItems(items(question("a")), endpoint, {
      suite: "s",
      retry: FAST_RETRIES,
    });
    expect(detail.items[0]).toMatchObject({ verdict: "correct", attempts: 2 });
  });

  it("gives up after its attempts: verdict error with the reason, listed and counted against the score", async () => {
    const endpoint = await serve(({ question: q }) =>
      q.includes("broken") ? { status: 503, message: "no healthy upstream" } : { content: "yes" },
    );
    const { summary, detail } = await runEvalItems(items(question("fine"), question("broken")), endpoint, {
      suite: "s",
      retry: FAST_RETRIES,
    });
    const broken = detail.items.find((i) => i.id === "broken");
    expect(broken).toMatchObject({
      verdict: "error",
      attempts: 3,
      error: "HTTP 503: no healthy upstream (after 3 attempts)",
    });
    expect(broken?.output).toBeUndefined();
    expect(summary).toMatchObject({ items: 2, correct: 1, errors: 1 });
    expect(summary.failures).toEqual([
      { id: "broken", reason: "HTTP 503: no healthy upstream (after 3 attempts)" },
    ]);
  });

  it("does not retry a request the server rejects (4xx)", async () => {
    const endpoint = await serve(() => ({ status: 400, message: "max_tokens is too large" }));
    const { detail } = await runEvalItems(items(question("a")), endpoint, {
      suite: "s",
      retry: FAST_RETRIES,
    });
    expect(detail.items[0]).toMatchObject({
      verdict: "error",
      attempts: 1,
      error: "HTTP 400: max_tokens is too large",
    });
  });

  it("ends an attempt that hangs at the timeout, without retrying it, and answers the other items", async () => {
    const endpoint = await serve(({ question: q }) => (q.includes("slow") ? "hang" : { content: "yes" }));
    const { detail } = await runEvalItems(items(question("slow"), question("quick")), endpoint, {
      suite: "s",
      timeoutMs: 1500,
      retry: FAST_RETRIES,
    });
    expect(detail.items.find((i) => i.id === "slow")).toMatchObject({
      verdict: "error",
      attempts: 1,
      error: "no answer within 1.5 s",
    });
    expect(detail.items.find((i) => i.id === "quick")).toMatchObject({ verdict: "correct" });
  });

  it("reports a refused connection as each item's error", async () => {
    const endpoint = await serve(() => ({ content: "yes" }));
    await server!.stop();
    server = undefined;
    const { summary, detail } = await runEvalItems(items(question("a"), question("b")), endpoint, {
      suite: "s",
      retry: FAST_RETRIES,
    });
    expect(summary).toMatchObject({ items: 2, errors: 2 });
    expect(detail.items[0]?.error).toContain("ECONNREFUSED");
    expect(detail.items[0]?.attempts).toBe(3);
  });

  it("has at most `concurrency` requests in flight, and uses them", async () => {
    const suite = items(...Array.from({ length: 20 }, (_, i) => question(`q${i}`)));
    const held: (() => void)[] = [];
    const endpoint = await serve(
      () =>
        new Promise((resolve) => {
          held.push(() => resolve({ content: "yes" }));
          if (server!.inFlight === 3 || server!.requests.length === suite.length) {
            for (const release of held.splice(0)) release();
          }
        }),
    );
    const { summary } = await runEvalItems(suite, endpoint, {
      suite: "s",
      concurrency: 3,
      timeoutMs: 20_000,
    });
    expect(summary.correct).toBe(20);
    expect(server!.maxInFlight).toBe(3);
  });

  it("merging the shards of a suite gives the same results as running it whole", async () => {
    const endpoint = await serve(({ question: q }) => {
      const n = Number(/\d+/.exec(q)?.[0]);
      if (n % 7 === 0) return { status: 400, message: "bad request" };
      return { content: n % 3 === 0 ? "no" : "yes" };
    });
    const suite = items(...Array.from({ length: 60 }, (_, i) => question(`item-${i}`)));
    const options = { suite: "demo", retry: FAST_RETRIES };
    const whole = await runEvalItems(suite, endpoint, options);
    const shards = await Promise.all(
      [0, 1, 2].map((index) => runEvalItems(suite, endpoint, { ...options, shard: { index, of: 3 } })),
    );
    const withoutTiming = (list: readonly ItemResult[]) => list.map(({ latencyMs: _, ...rest }) => rest);
    const merged = mergeShardDetails(shards.map((s) => s.detail));
    const unsharded = mergeShardDetails([whole.detail]);
    expect(merged.score).toEqual(unsharded.score);
    expect(withoutTiming(merged.items)).toEqual(withoutTiming(unsharded.items));
    expect(shards.map((s) => s.summary.items).reduce((a, b) => a + b)).toBe(60);
    expect(unsharded.score).toMatchObject({ items: 60, errors: 9, wrong: 17, correct: 34 });
  });

  it("keeps a shard's summary small however many items fail", async () => {
    const endpoint = await serve(() => ({ status: 400, message: "x".repeat(2000) }));
    const suite = items(...Array.from({ length: 200 }, (_, i) => question(`q${i}`)));
    const { summary } = await runEvalItems(suite, endpoint, { suite: "s", concurrency: 8 });
    expect(summary.errors).toBe(200);
    expect(summary.failures).toHaveLength(5);
    expect(JSON.stringify(summary).length).toBeLessThan(2000);
  });
});
