import { describe, expect, it } from "vitest";
import { HistogramSet } from "../../lib/loadgen/histogram-set";
import { seededRandom } from "../../lib/loadgen/random";
import { StreamTiming } from "../../lib/loadgen/stream-timing";

const chunk = (delta: object) => JSON.stringify({ choices: [{ index: 0, delta, finish_reason: null }] });
const usage = (prompt: number, completion: number) =>
  JSON.stringify({ choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion } });

/** Feeds `[time, data]` events to a timing whose request went out at 1000 ms, and finishes at `endAt`. */
function measure(events: readonly (readonly [number, string])[], endAt: number, estimatedInput = 10) {
  const timing = new StreamTiming(1000, estimatedInput);
  for (const [at, data] of events) timing.observe(data, at);
  return timing.finish(endAt);
}

describe("StreamTiming", () => {
  it("takes TTFT from the first content delta, not the role-only chunk before it", () => {
    const result = measure(
      [
        [1005, chunk({ role: "assistant" })],
        [1006, chunk({ role: "assistant", content: "" })],
        [1120, chunk({ content: "Hello" })],
        [1150, chunk({ content: " world" })],
        [1151, "[DONE]"],
      ],
      1152,
    );
    expect(result).toMatchObject({ ok: true, ttftMs: 120, itlMs: [30], e2eMs: 152 });
  });

  it("counts reasoning deltas (reasoning_content, or reasoning) as the first token and in the gaps", () => {
    const result = measure(
      [
        [1040, chunk({ reasoning_content: "Let me think" })],
        [1060, chunk({ reasoning: "…" })],
        [1100, chunk({ content: "42" })],
        [1100, "[DONE]"],
      ],
      1100,
    );
    expect(result).toMatchObject({ ok: true, ttftMs: 40, itlMs: [20, 40], outputTokens: 3 });
  });

  it("computes TPOT as (E2E − TTFT) / (output tokens − 1), with output tokens from usage when sent", () => {
    const result = measure(
      [
        [1100, chunk({ content: "a b" })],
        [1200, chunk({ content: " c d e" })],
        [1201, usage(33, 5)],
        [1201, "[DONE]"],
      ],
      1300,
    );
    expect(result).toMatchObject({
      ok: true,
      e2eMs: 300,
      ttftMs: 100,
      tpotMs: 50,
      outputTokens: 5,
      outputTokensFrom: "usage",
      inputTokens: 33,
      inputTokensFrom: "usage",
    });
  });

  it("counts content chunks as output tokens, and estimates input tokens, when the server sends no usage", () => {
    const result = measure(
      [
        [1010, chunk({ content: "a" })],
        [1020, chunk({ content: "b" })],
        [1030, chunk({ content: "c" })],
        [1030, "[DONE]"],
      ],
      1030,
      64,
    );
    expect(result).toMatchObject({
      outputTokens: 3,
      outputTokensFrom: "counted",
      inputTokens: 64,
      inputTokensFrom: "estimated",
      tpotMs: 10,
    });
  });

  it("leaves TPOT undefined for a one-token answer, and TTFT undefined for an answer without content", () => {
    expect(
      measure(
        [
          [1010, chunk({ content: "a" })],
          [1010, "[DONE]"],
        ],
        1010,
      ),
    ).toMatchObject({
      ok: true,
      ttftMs: 10,
      tpotMs: undefined,
    });
    expect(
      measure(
        [
          [1010, chunk({ role: "assistant" })],
          [1010, "[DONE]"],
        ],
        1010,
      ),
    ).toMatchObject({
      ok: true,
      ttftMs: undefined,
      tpotMs: undefined,
      outputTokens: 0,
    });
  });

  it("calls a stream broken when an event is not JSON, carries an error, or [DONE] never comes", () => {
    expect(
      measure(
        [
          [1010, "{oops"],
          [1011, "[DONE]"],
        ],
        1011,
      ),
    ).toEqual({
      ok: false,
      error: "broken_stream",
      detail: 'event 1 is not JSON: "{oops"',
    });
    const errorEvent = JSON.stringify({ error: { message: "CUDA out of memory", code: 500 } });
    expect(
      measure(
        [
          [1010, chunk({ content: "a" })],
          [1020, errorEvent],
        ],
        1021,
      ),
    ).toEqual({
      ok: false,
      error: "broken_stream",
      detail: "the stream carried an error: CUDA out of memory",
    });
    expect(measure([[1010, chunk({ content: "a" })]], 1020)).toEqual({
      ok: false,
      error: "broken_stream",
      detail: "the stream ended after 1 event(s) without data: [DONE]",
    });
    expect(measure([], 1020)).toMatchObject({ ok: false, error: "broken_stream" });
  });

  it("feeds histograms whose p99 is within 1 ms of the injected truth", () => {
    // Streams replayed from known injected delays: TTFT 50–450 ms, gaps 5–45 ms, 2–12 tokens each (E2E
    // under 1 s, where 3 significant digits mean buckets of at most 0.5 ms).
    const random = seededRandom(11);
    const truth = { ttft: [] as number[], itl: [] as number[], e2e: [] as number[] };
    const set = new HistogramSet();
    for (let r = 0; r < 2000; r++) {
      const ttft = 50 + random() * 400;
      const tokens = 2 + Math.floor(random() * 11);
      const events: [number, string][] = [[1000, chunk({ role: "assistant" })]];
      let at = 1000 + ttft;
      for (let t = 0; t < tokens; t++) {
        const gap = t === 0 ? 0 : 5 + random() * 40;
        at += gap;
        if (t > 0) truth.itl.push(gap);
        events.push([at, chunk({ content: "x" })]);
      }
      events.push([at, "[DONE]"]);
      truth.ttft.push(ttft);
      truth.e2e.push(at - 1000);
      const result = measure(events, at);
      if (!result.ok) throw new Error("a well-formed replay was judged broken");
      set.record("ttft", result.ttftMs as number);
      for (const gap of result.itlMs) set.record("itl", gap);
      set.record("e2e", result.e2eMs);
    }
    for (const metric of ["ttft", "itl", "e2e"] as const) {
      const sorted = [...truth[metric]].sort((a, b) => a - b);
      const exactP99 = sorted[Math.ceil(0.99 * sorted.length) - 1] as number;
      expect(Math.abs((set.stats(metric)?.p99Ms as number) - exactP99)).toBeLessThanOrEqual(1);
    }
  });
});
