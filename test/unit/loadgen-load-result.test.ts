import { describe, expect, it } from "vitest";
import {
  type LoadResult,
  LoadResultInvalid,
  mergeLoadResults,
  parseLoadResult,
} from "../../lib/loadgen/load-result";
import { summarizeLoad } from "../../lib/loadgen/load-summary";
import { LoadTally } from "../../lib/loadgen/load-tally";
import type { CompletedRequest, FailedRequest } from "../../lib/loadgen/request-record";
import { mergeTimelines, TimelineBuilder } from "../../lib/loadgen/throughput-timeline";

function ok(endedAtMs: number, fields: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    ok: true,
    scheduledAtMs: endedAtMs - 500,
    queueMs: 1,
    endedAtMs,
    warmup: false,
    ttftMs: 100,
    itlMs: [20, 20],
    tpotMs: 20,
    e2eMs: 140,
    inputTokens: 50,
    inputTokensFrom: "usage",
    outputTokens: 3,
    outputTokensFrom: "usage",
    ...fields,
  };
}

function failed(endedAtMs: number, error: FailedRequest["error"], detail = "boom"): FailedRequest {
  return { ok: false, scheduledAtMs: endedAtMs - 10, queueMs: 0, endedAtMs, warmup: false, error, detail };
}

describe("a load run's summary", () => {
  it("measures throughput from the end of the warm-up to the last measured request's end", () => {
    const tally = new LoadTally({}, 2000);
    tally.add(ok(1500, { warmup: true }));
    tally.add(ok(3000));
    tally.add(ok(4000, { outputTokens: 7, inputTokens: 10, inputTokensFrom: "estimated" }));
    tally.add(ok(6000));
    const summary = summarizeLoad(tally.build(false));

    expect(summary).toMatchObject({
      requests: 3,
      completed: 3,
      warmupRequests: 1,
      measuredSeconds: 4,
      requestsPerSecond: 0.75,
      outputTokensPerSecond: 13 / 4,
      inputTokensPerSecond: 110 / 4,
      goodputPerSecond: 0.75,
      inputTokensFrom: { usage: 2, estimated: 1 },
    });
    expect(summary.latency.e2e?.count).toBe(3);
  });

  it("counts as goodput only the requests meeting every per-request SLO given", () => {
    const tally = new LoadTally({ ttftP95Ms: 200, tpotP95Ms: 30 }, 0);
    tally.add(ok(1000)); // ttft 100, tpot 20: good
    tally.add(ok(1000, { ttftMs: 250 })); // too slow to start
    tally.add(ok(1000, { tpotMs: 31 })); // too slow per token
    tally.add(ok(1000, { tpotMs: undefined, outputTokens: 1 })); // one token: no TPOT to miss
    tally.add(ok(1000, { ttftMs: undefined, outputTokens: 0 })); // no first token at all
    tally.add(failed(1000, "http_503"));
    const result = tally.build(false);
    expect(result.counters.goodRequests).toBe(2);
    expect(summarizeLoad(result).goodputPerSecond).toBe(2);
    expect(result.goodputSlo).toEqual({ ttftP95Ms: 200, tpotP95Ms: 30 });
  });

  it("gives errors by class, the first detail of each, and the error rate", () => {
    const tally = new LoadTally({}, 0);
    tally.add(ok(100));
    tally.add(failed(200, "http_503", "overloaded"));
    tally.add(failed(300, "http_503", "still overloaded"));
    tally.add(failed(400, "broken_stream", "no [DONE]"));
    const summary = summarizeLoad(tally.build(false));
    expect(summary.errors).toEqual({ http_503: 2, broken_stream: 1 });
    expect(summary.errorExamples).toEqual({ http_503: "overloaded", broken_stream: "no [DONE]" });
    expect(summary.errorRate).toBe(0.75);
    expect(summary.latency.ttft?.count).toBe(1);
    expect(summary.latency.queue?.count).toBe(4);
  });

  it("reports zero throughput, not a division by zero, when nothing was measured", () => {
    const summary = summarizeLoad(new LoadTally({}, 5000).build(true));
    expect(summary).toMatchObject({ requests: 0, requestsPerSecond: 0, errorRate: 0, stoppedEarly: true });
    expect(summary.latency).toEqual({});
  });
});

describe("merging the results of parallel workers", () => {
  function workerResults(): { workers: LoadResult[]; everything: LoadResult } {
    const everything = new LoadTally({ e2eP95Ms: 150 }, 0);
    const workers = [new LoadTally({ e2eP95Ms: 150 }, 0), new LoadTally({ e2eP95Ms: 150 }, 0)];
    for (let i = 0; i < 50; i++) {
      const record =
        i % 7 === 0 ? failed(i * 100, "timeout") : ok(i * 100, { e2eMs: 100 + i, ttftMs: 50 + i });
      everything.add(record);
      workers[i % 2]?.add(record);
    }
    return { workers: workers.map((w) => w.build(false)), everything: everything.build(false) };
  }

  it("gives the result of one run that saw every request", () => {
    const { workers, everything } = workerResults();
    const merged = mergeLoadResults(workers.map((w) => parseLoadResult(JSON.parse(JSON.stringify(w)), "w")));
    expect(merged.histograms).toBe(everything.histograms);
    expect(merged.counters).toEqual(everything.counters);
    expect(merged.timeline).toEqual(everything.timeline);
    expect(merged.measuredSeconds).toBe(everything.measuredSeconds);
  });

  it("refuses to merge results that counted goodput against different SLOs", () => {
    const { workers } = workerResults();
    const other = new LoadTally({ e2eP95Ms: 999 }, 0).build(false);
    expect(() => mergeLoadResults([...workers, other])).toThrow(LoadResultInvalid);
  });

  it("checks a result read back from JSON and names what is wrong", () => {
    const { everything } = workerResults();
    expect(() =>
      parseLoadResult({ ...everything, timeline: { ...everything.timeline, bucketSeconds: 3 } }, "worker 2"),
    ).toThrow("worker 2 is not a load result: timeline.bucketSeconds: a power of two");
    expect(() =>
      parseLoadResult({ ...everything, counters: { ...everything.counters, completed: -1 } }, "worker 0"),
    ).toThrow(/worker 0 is not a load result: counters\.completed/);
    expect(() => parseLoadResult({ ...everything, histograms: "hdrset1" }, "worker 1")).toThrow(
      /^worker 1: a serialized histogram set holds/,
    );
  });
});

describe("the throughput timeline", () => {
  it("counts completions, failures and output tokens per second after the warm-up", () => {
    const timeline = new TimelineBuilder();
    timeline.add(100, true, 10);
    timeline.add(900, false, 0);
    timeline.add(2500, true, 5);
    expect(timeline.build()).toEqual({
      bucketSeconds: 1,
      completed: [1, 0, 1],
      failed: [1, 0, 0],
      outputTokens: [10, 0, 5],
    });
  });

  it("widens its buckets on a long run so it stays small, losing no count", () => {
    const timeline = new TimelineBuilder();
    for (let s = 0; s < 2000; s++) timeline.add(s * 1000 + 1, true, 2);
    const built = timeline.build();
    expect(built.bucketSeconds).toBe(4);
    expect(built.completed).toHaveLength(500);
    expect(built.completed.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(built.outputTokens.every((n) => n === 8)).toBe(true);
  });

  it("merges timelines of different widths at the widest", () => {
    const merged = mergeTimelines([
      { bucketSeconds: 1, completed: [1, 2, 3], failed: [0, 0, 1], outputTokens: [1, 1, 1] },
      { bucketSeconds: 2, completed: [10], failed: [0], outputTokens: [5] },
    ]);
    expect(merged).toEqual({ bucketSeconds: 2, completed: [13, 3], failed: [0, 1], outputTokens: [7, 1] });
  });
});
