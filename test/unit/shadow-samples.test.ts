import { describe, expect, it } from "vitest";
import { describeShadowProgress, mirrorsRequest } from "../../lib/core/traffic/shadow";
import {
  requestText,
  SHADOW_PAIRS_KEPT,
  SHADOW_TEXT_CHARS,
  type ShadowPair,
  ShadowSampleBook,
  shadowAnswer,
} from "../../lib/core/traffic/shadow-samples";

describe("mirrorsRequest", () => {
  it("copies exactly the percent of every 100 requests in a row, spread evenly", () => {
    for (const percent of [1, 5, 20, 33, 50, 99, 100]) {
      const copied = Array.from({ length: 300 }, (_, i) => i + 1).filter((n) => mirrorsRequest(n, percent));
      expect([percent, copied.length]).toEqual([percent, 3 * percent]);
    }
  });

  it("copies every fifth request at 20%, the first at 100%", () => {
    const copied = Array.from({ length: 20 }, (_, i) => i + 1).filter((n) => mirrorsRequest(n, 20));
    expect(copied).toEqual([5, 10, 15, 20]);
    expect(mirrorsRequest(1, 100)).toBe(true);
  });
});

describe("describeShadowProgress", () => {
  it("says the share, the version, the length and how far in", () => {
    const shadow = { percent: 20, seconds: 60, version: "v2", since: "2025-01-01T00:00:00.000Z" };
    expect(describeShadowProgress(shadow, new Date("2025-01-01T00:00:14.600Z"))).toBe(
      "shadowing 20% of stable's requests to v2 for 60 s, 14 s in",
    );
    expect(describeShadowProgress(shadow, new Date("2025-01-01T01:00:00Z"))).toMatch(/60 s, 60 s in$/);
  });
});

describe("shadowAnswer", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it("reads a JSON answer's first choice with its completion tokens and latency", () => {
    const body = JSON.stringify({
      choices: [{ message: { role: "assistant", content: "Paris." } }],
      usage: { completion_tokens: 3 },
    });
    expect(shadowAnswer(200, bytes(body), 41.6)).toEqual({
      status: 200,
      text: "Paris.",
      outputChars: 6,
      completionTokens: 3,
      latencyMs: 42,
    });
  });

  it("joins a streamed answer's deltas, ignoring a chunk cut by the capture's bound", () => {
    const body = [
      'data: {"choices":[{"delta":{"role":"assistant"}}]}',
      'data: {"choices":[{"delta":{"content":"Hel"}}]}',
      'data: {"choices":[{"delta":{"content":"lo"}}],"usage":{"completion_tokens":2}}',
      "data: [DONE]",
      'data: {"choices":[{"del',
    ].join("\n\n");
    expect(shadowAnswer(200, bytes(body), 5)).toMatchObject({
      text: "Hello",
      outputChars: 5,
      completionTokens: 2,
    });
  });

  it("reads a stream as the SSE format allows: a comment first, CRLF line endings, a named event", () => {
    const body = [
      ": ping",
      'data: {"choices":[{"delta":{"content":"Bon"}}]}',
      "event: message",
      'data: {"choices":[{"delta":{"content":"jour"}}],"usage":{"completion_tokens":2}}',
      "data: [DONE]",
      "",
    ].join("\r\n\r\n");
    expect(shadowAnswer(200, bytes(body), 5)).toMatchObject({ text: "Bonjour", completionTokens: 2 });
  });

  it("keeps an answer that is neither JSON nor a stream as it is", () => {
    expect(shadowAnswer(502, bytes("<html>Bad gateway</html>"), 5)).toMatchObject({
      text: "<html>Bad gateway</html>",
      error: "HTTP 502",
    });
  });

  it("clips a long answer to SHADOW_TEXT_CHARS but counts its length before clipping", () => {
    const long = "word ".repeat(1000).trim();
    const answer = shadowAnswer(200, bytes(JSON.stringify({ choices: [{ text: long }] })), 1);
    expect(answer.text.length).toBeLessThanOrEqual(SHADOW_TEXT_CHARS);
    expect(answer.text.endsWith("…")).toBe(true);
    expect(answer.outputChars).toBe(long.length);
  });

  it("names the failure of an answer that is not a 2xx, or that never came", () => {
    expect(shadowAnswer(503, bytes('{"error":{"message":"busy"}}'), 3).error).toBe("HTTP 503");
    expect(shadowAnswer(undefined, bytes(""), 120_000, "no answer within 120 s")).toEqual({
      text: "",
      outputChars: 0,
      latencyMs: 120_000,
      error: "no answer within 120 s",
    });
  });
});

describe("requestText", () => {
  it("is the last user message of a chat, or the prompt", () => {
    const chat = {
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: [{ type: "text", text: "second" }] },
      ],
    };
    expect(requestText(chat)).toBe("second");
    expect(requestText({ prompt: "Once upon" })).toBe("Once upon");
    expect(requestText({})).toBe("");
  });
});

describe("ShadowSampleBook", () => {
  const pair = (n: number): ShadowPair => ({
    at: `2025-01-01T00:00:${String(n % 60).padStart(2, "0")}.000Z`,
    request: `request ${n}`,
    stable: { text: `stable ${n}`, outputChars: 8, latencyMs: 10 },
    candidate: { text: `candidate ${n}`, outputChars: 11, latencyMs: 12 },
  });

  it("keeps the first and the last pairs, however many come", () => {
    const book = new ShadowSampleBook("v2", 20);
    for (let n = 1; n <= 1000; n++) book.add(pair(n));
    const samples = book.samples();
    expect("pairs" in samples && samples.pairs.map((p) => p.request)).toEqual([
      ...Array.from({ length: SHADOW_PAIRS_KEPT }, (_, i) => `request ${i + 1}`),
      ...Array.from({ length: SHADOW_PAIRS_KEPT }, (_, i) => `request ${1000 - SHADOW_PAIRS_KEPT + i + 1}`),
    ]);
  });

  it("counts what was mirrored, dropped and failed beside the pairs", () => {
    const book = new ShadowSampleBook("v2", 20);
    book.mirrored = 7;
    book.dropped = 2;
    book.failed = 1;
    book.add(pair(1));
    expect(book.samples()).toEqual({
      version: "v2",
      percent: 20,
      mirrored: 7,
      dropped: 2,
      failed: 1,
      pairs: [pair(1)],
    });
  });
});
