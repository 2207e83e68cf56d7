import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type PodScrape, TrafficWindows } from "../../lib/core/prometheus/traffic-window";
import { type FinishReason, VllmMetricsRecorder } from "../../lib/core/prometheus/vllm-metrics";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const EVERY_MS = 10_000;

/** A vLLM server's counters, finished requests at a time; `text()` is what its /metrics answers now. */
class FakeVllmPod {
  readonly recorder: VllmMetricsRecorder;

  constructor(
    readonly name: string,
    startTimeSeconds = 1_748_779_000,
  ) {
    this.recorder = new VllmMetricsRecorder("llama", startTimeSeconds);
  }

  serve(count: number, e2eSeconds: number, reason: FinishReason = "stop", ttftSeconds = 0.05): this {
    for (let i = 0; i < count; i++) {
      this.recorder.finish({
        reason,
        e2eSeconds,
        queueSeconds: 0.001,
        ttftSeconds,
        interTokenSeconds: [0.02, 0.03],
      });
    }
    return this;
  }

  scrape(): PodScrape {
    return { pod: this.name, text: this.recorder.exposition() };
  }
}

function windows() {
  return new TrafficWindows({ maxAgeMs: 2.5 * EVERY_MS });
}

describe("TrafficWindows", () => {
  it("takes a pod's first scrape as a baseline, then the increase since as the window's traffic", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("llama-v2-abc").serve(100, 0.4);
    const first = traffic.next("v2", [pod.scrape()], T0);
    expect(first.values).toEqual({ ScrapeFailures: 0, RequestsWaiting: 0 });
    expect(first.report).toMatchObject({ pods: 1, newPods: 1, measured: 0 });

    pod.serve(19, 0.4).serve(1, 3.2, "error");
    const second = traffic.next("v2", [pod.scrape()], T0 + EVERY_MS);
    expect(second.report).toMatchObject({ pods: 1, newPods: 0, measured: 1, resets: 0 });
    // E2E: 19 in (0.3, 0.5] s and 1 in (2.5, 5] s; rank 19 is the top of (0.3, 0.5]: 500 ms. TTFT: 20 in
    // (0.04, 0.06]: 40 + 20 × 19/20 = 59 ms. ITL: 20 gaps in (0.01, 0.025], 20 in (0.025, 0.05]; rank 38 is
    // 18 of 20 into the second: 25 + 25 × 18/20 = 47.5 ms. Queue: 20 in [0, 0.3]: 300 × 19/20 = 285 ms.
    expect(second.values).toEqual({
      ScrapeFailures: 0,
      RequestsWaiting: 0,
      Requests: 20,
      Errors: 1,
      Aborted: 0,
      LatencyP95: 500,
      TtftP95: 59,
      ItlP95: 47.5,
      QueueTimeP95: 285,
    });
  });

  it("interpolates each percentile within its bucket, as histogram_quantile does", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("p");
    traffic.next("v2", [pod.scrape()], T0);
    pod.serve(10, 1.2).serve(10, 1.7);
    // 20 requests, 10 in (1.0, 1.5] and 10 in (1.5, 2.0]: rank 19 → 1.5 + 0.5 × 9/10 = 1.95 s.
    expect(traffic.next("v2", [pod.scrape()], T0 + EVERY_MS).values.LatencyP95).toBe(1950);
  });

  it("gives the highest finite bucket bound when the percentile lies in +Inf", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("p");
    traffic.next("v2", [pod.scrape()], T0);
    pod.serve(20, 9000);
    expect(traffic.next("v2", [pod.scrape()], T0 + EVERY_MS).values.LatencyP95).toBe(7_680_000);
  });

  it("has no percentile, and zero requests, in a window without traffic (empty buckets)", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("p").serve(5, 0.4);
    traffic.next("v2", [pod.scrape()], T0);
    expect(traffic.next("v2", [pod.scrape()], T0 + EVERY_MS).values).toEqual({
      ScrapeFailures: 0,
      RequestsWaiting: 0,
      Requests: 0,
      Errors: 0,
      Aborted: 0,
    });
  });

  it("sums the increases of every pod of the version, and merges their buckets", () => {
    const traffic = windows();
    const a = new FakeVllmPod("a");
    const b = new FakeVllmPod("b");
    traffic.next("v2", [a.scrape(), b.scrape()], T0);
    a.serve(10, 0.4);
    b.serve(10, 1.7);
    const window = traffic.next("v2", [a.scrape(), b.scrape()], T0 + EVERY_MS);
    expect(window.values).toMatchObject({ Requests: 20, LatencyP95: 1950 });
    expect(window.report.measured).toBe(2);
  });

  it("takes a restarted server's counters as the increase: a counter that went down was reset", () => {
    const traffic = windows();
    const before = new FakeVllmPod("p", 1000).serve(500, 0.4);
    traffic.next("v2", [before.scrape()], T0);
    const restarted = new FakeVllmPod("p", 1000).serve(7, 0.4);
    const window = traffic.next("v2", [restarted.scrape()], T0 + EVERY_MS);
    expect(window.report.resets).toBe(1);
    expect(window.values.Requests).toBe(7);
  });

  it("sees a restart by its new process start time even when the counters grew past the old ones", () => {
    const traffic = windows();
    traffic.next("v2", [new FakeVllmPod("p", 1000).serve(5, 0.4).scrape()], T0);
    const window = traffic.next("v2", [new FakeVllmPod("p", 2000).serve(9, 0.4).scrape()], T0 + EVERY_MS);
    expect(window.report.resets).toBe(1);
    expect(window.values.Requests).toBe(9);
  });

  it("takes a new pod as a baseline and forgets a vanished one, counting both", () => {
    const traffic = windows();
    const a = new FakeVllmPod("a");
    traffic.next("v2", [a.scrape()], T0);
    a.serve(4, 0.4);
    const b = new FakeVllmPod("b").serve(1000, 0.4);
    const window = traffic.next("v2", [b.scrape()], T0 + EVERY_MS);
    expect(window.report).toMatchObject({ newPods: 1, vanished: 1, measured: 0 });
    expect(window.values).toEqual({ ScrapeFailures: 0, RequestsWaiting: 0 });
  });

  it("counts a failed scrape, and takes the pod's next scrape as a new baseline rather than span two windows", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("p");
    traffic.next("v2", [pod.scrape()], T0);
    pod.serve(5, 0.4);
    const failed = traffic.next("v2", [{ pod: "p", error: "503 Service Unavailable" }], T0 + EVERY_MS);
    expect(failed.values).toEqual({ ScrapeFailures: 1 });
    expect(failed.report.problems).toEqual(["pod p: 503 Service Unavailable"]);
    pod.serve(5, 0.4);
    const after = traffic.next("v2", [pod.scrape()], T0 + 2 * EVERY_MS);
    expect(after.report).toMatchObject({ newPods: 1, measured: 0 });
    expect(after.values.Requests).toBeUndefined();
  });

  it("counts metrics it cannot read as a failed scrape, naming what is wrong", () => {
    const traffic = windows();
    const window = traffic.next(
      "v2",
      [{ pod: "p", text: 'vllm:request_success_total{finished_reason="stop} 1' }],
      T0,
    );
    expect(window.values.ScrapeFailures).toBe(1);
    expect(window.report.problems[0]).toMatch(/^pod p: its metrics could not be read: line 1: /);
  });

  it("does not take an increase over a previous scrape older than maxAgeMs", () => {
    const traffic = windows();
    const pod = new FakeVllmPod("p");
    traffic.next("v2", [pod.scrape()], T0);
    pod.serve(50, 0.4);
    const window = traffic.next("v2", [pod.scrape()], T0 + 60_000);
    expect(window.report).toMatchObject({ stale: 1, measured: 0 });
    expect(window.values.Requests).toBeUndefined();
  });

  it("reads the requests waiting now, summed over the pods", () => {
    const traffic = windows();
    const a = new FakeVllmPod("a");
    const b = new FakeVllmPod("b");
    a.recorder.setLoad(3, 1);
    b.recorder.setLoad(4, 1);
    expect(traffic.next("v2", [a.scrape(), b.scrape()], T0).values.RequestsWaiting).toBe(7);
  });

  it("reads older vLLM's time per output token when there is no inter-token latency", () => {
    const traffic = windows();
    const text = (count: number) =>
      [
        `vllm:request_success_total{finished_reason="stop"} ${count}`,
        `vllm:time_per_output_token_seconds_bucket{le="0.05"} ${count}`,
        `vllm:time_per_output_token_seconds_bucket{le="+Inf"} ${count}`,
        `vllm:time_per_output_token_seconds_count ${count}`,
      ].join("\n");
    traffic.next("v2", [{ pod: "p", text: text(0) }], T0);
    expect(traffic.next("v2", [{ pod: "p", text: text(20) }], T0 + EVERY_MS).values).toEqual({
      ScrapeFailures: 0,
      Requests: 20,
      ItlP95: 47.5,
    });
  });

  it("reads only the first maxPods pods of a version, counting the others as failures", () => {
    const traffic = new TrafficWindows({ maxAgeMs: 25_000, maxPods: 2 });
    const pods = ["a", "b", "c"].map((name) => new FakeVllmPod(name).scrape());
    const window = traffic.next("v2", pods, T0);
    expect(window.values.ScrapeFailures).toBe(1);
    expect(window.report.problems).toEqual(["pod c: not read: a version's first 2 pods are"]);
  });

  it("forgets versions it has not seen for long, so its memory stays bounded", () => {
    const traffic = windows();
    for (let i = 0; i < 400; i++) traffic.next(`v${i}`, [new FakeVllmPod("p").scrape()], T0);
    expect(traffic.size).toBeLessThanOrEqual(256);
    traffic.next("late", [], T0 + 60 * 60_000);
    expect(traffic.size).toBe(1);
  });

  it("counts exactly the requests served between two readable scrapes, over any rounds of traffic, restarts and failures", () => {
    type Step =
      | { readonly kind: "serve"; readonly pod: number; readonly count: number }
      | { readonly kind: "restart"; readonly pod: number }
      | { readonly kind: "fail"; readonly pod: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant("serve" as const), pod: fc.nat({ max: 2 }), count: fc.nat({ max: 30 }) }),
      fc.record({ kind: fc.constant("restart" as const), pod: fc.nat({ max: 2 }) }),
      fc.record({ kind: fc.constant("fail" as const), pod: fc.nat({ max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 5 }), { minLength: 1, maxLength: 12 }), (rounds) => {
        const traffic = windows();
        let generation = 0;
        const pods = [0, 1, 2].map((i) => new FakeVllmPod(`p${i}`, ++generation));
        /** Requests each pod served since its last readable scrape (or since its restart). */
        const served = [0, 0, 0];
        /** Whether the pod's last scrape was readable: a baseline to take the increase from. */
        const baseline = [false, false, false];
        let expected = 0;
        let measured = 0;
        rounds.forEach((steps, round) => {
          const failing = new Set<number>();
          for (const s of steps) {
            if (s.kind === "serve") {
              pods[s.pod]?.serve(s.count, 0.4);
              served[s.pod] = (served[s.pod] ?? 0) + s.count;
            } else if (s.kind === "restart") {
              // What it served before restarting in this window is gone with its counters.
              pods[s.pod] = new FakeVllmPod(`p${s.pod}`, ++generation);
              served[s.pod] = 0;
            } else {
              failing.add(s.pod);
            }
          }
          const scrapes = pods.map((pod, i) =>
            failing.has(i) ? { pod: pod.name, error: "connection refused" } : pod.scrape(),
          );
          measured += traffic.next("v", scrapes, T0 + round * EVERY_MS).values.Requests ?? 0;
          for (let i = 0; i < 3; i++) {
            if (failing.has(i)) {
              baseline[i] = false;
              continue;
            }
            if (baseline[i]) expected += served[i] ?? 0;
            served[i] = 0;
            baseline[i] = true;
          }
        });
        expect(measured).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
