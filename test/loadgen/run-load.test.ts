import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { ResolvedStressGate } from "../../lib/core/manifest/manifest-schema";
import { HistogramSet } from "../../lib/loadgen/histogram-set";
import { summarizeLoad } from "../../lib/loadgen/load-summary";
import type { CompletedRequest, RequestRecord } from "../../lib/loadgen/request-record";
import { type LoadOptions, LoadOptionsInvalid, type LoadProgress, runLoad } from "../../lib/loadgen/run-load";
import { type Reply, StreamingServer } from "./streaming-server";

let server: StreamingServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(replyTo: (index: number) => Reply): Promise<StreamingServer> {
  server = await StreamingServer.start(replyTo);
  return server;
}

function options(baseUrl: string, overrides: Partial<LoadOptions> = {}): LoadOptions {
  return {
    baseUrl,
    model: "tiny",
    mode: "concurrency",
    concurrency: 4,
    rate: 1,
    burstiness: 1,
    requests: 12,
    warmupSeconds: 0,
    inputTokens: 16,
    outputTokens: 8,
    ...overrides,
  };
}

/** The nearest-rank percentile of exact values: the definition the histograms approximate. */
function nearestRank(values: readonly number[], percentile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)] as number;
}

const completed = (records: readonly RequestRecord[]) =>
  records.filter((r): r is CompletedRequest => r.ok && !r.warmup);

describe("runLoad against a streaming server", () => {
  it("measures TTFT from the first content chunk, never the role-only chunk sent at once", async () => {
    const { baseUrl } = await serve(() => ({ kind: "stream", ttftMs: 150, gapMs: 5, chunks: 3 }));
    const records: RequestRecord[] = [];
    const result = await runLoad(options(baseUrl, { onRequest: (r) => records.push(r) }));

    const ok = completed(records);
    expect(ok).toHaveLength(12);
    // The server waited 150 ms before the first content: a TTFT below it would be the role chunk's.
    for (const record of ok) expect(record.ttftMs).toBeGreaterThanOrEqual(150);
    expect(summarizeLoad(result).latency.ttft?.count).toBe(12);
  });

  it("counts reasoning deltas as tokens, like content", async () => {
    const { baseUrl } = await serve(() => ({
      kind: "stream",
      ttftMs: 120,
      gapMs: 0,
      chunks: 2,
      reasoning: true,
    }));
    const records: RequestRecord[] = [];
    await runLoad(options(baseUrl, { requests: 2, onRequest: (r) => records.push(r) }));
    for (const record of completed(records)) {
      expect(record.ttftMs).toBeGreaterThanOrEqual(120);
      expect(record.outputTokens).toBe(2);
    }
  });

  it("keeps every percentile within 1 ms of the exact values it measured, up to p99", async () => {
    // Known delays that the answer's length identifies: c chunks ⇒ TTFT 60 + 30·c ms, gaps 4·c ms.
    const truth = (chunks: number) => ({ ttftMs: 60 + 30 * chunks, gapMs: 4 * chunks });
    const { baseUrl } = await serve((i) => ({ kind: "stream", chunks: 2 + (i % 5), ...truth(2 + (i % 5)) }));
    const records: RequestRecord[] = [];
    const result = await runLoad(
      options(baseUrl, { concurrency: 8, requests: 60, onRequest: (r) => records.push(r) }),
    );
    const ok = completed(records);
    const exact = {
      ttft: ok.map((r) => r.ttftMs as number),
      itl: ok.flatMap((r) => r.itlMs),
      tpot: ok.map((r) => r.tpotMs as number),
      e2e: ok.map((r) => r.e2eMs),
    };
    const set = HistogramSet.deserialize(result.histograms);
    for (const [metric, values] of Object.entries(exact) as [keyof typeof exact, number[]][]) {
      const stats = set.stats(metric);
      expect(stats?.count).toBe(values.length);
      for (const [p, measured] of [
        [50, stats?.p50Ms],
        [90, stats?.p90Ms],
        [95, stats?.p95Ms],
        [99, stats?.p99Ms],
      ] as const) {
        // 1 ms below 1 s; 3 significant digits (1/1024) above, should a slow machine stretch a request.
        const exactValue = nearestRank(values, p);
        expect(Math.abs((measured as number) - exactValue)).toBeLessThanOrEqual(
          Math.max(1, exactValue / 1024),
        );
      }
    }
    // And no measurement is shorter than what the server injected (it can only be later).
    for (const record of ok) {
      const { ttftMs, gapMs } = truth(record.outputTokens);
      expect(record.ttftMs).toBeGreaterThanOrEqual(ttftMs);
      expect(record.e2eMs).toBeGreaterThanOrEqual(ttftMs + (record.outputTokens - 1) * gapMs);
    }
  });

  it("counts every error class exactly, and keeps their latencies out of the histograms", async () => {
    const plan: Reply[] = [
      { kind: "stream", ttftMs: 0, gapMs: 0, chunks: 2 },
      { kind: "status", status: 500 },
      { kind: "status", status: 429 },
      { kind: "broken" },
      { kind: "not-json" },
      { kind: "no-done" },
      { kind: "stream", ttftMs: 0, gapMs: 0, chunks: 2 },
      { kind: "status", status: 500 },
    ];
    const { baseUrl } = await serve((i) => plan[i % plan.length] as Reply);
    const result = await runLoad(options(baseUrl, { requests: 40 }));

    const summary = summarizeLoad(result);
    expect(summary.errors).toEqual({ http_500: 10, http_429: 5, broken_stream: 15 });
    expect(summary.completed).toBe(10);
    expect(summary.failed).toBe(30);
    expect(summary.errorRate).toBe(0.75);
    expect(summary.latency.e2e?.count).toBe(10);
    expect(summary.latency.queue?.count).toBe(40);
    expect(summary.errorExamples["http_500"]).toBe("injected 500");
  });

  it("classes a server that never answers as timeout", async () => {
    const { baseUrl } = await serve(() => ({ kind: "hang" }));
    const result = await runLoad(options(baseUrl, { requests: 3, requestTimeoutSeconds: 0.2 }));
    expect(result.counters.errors).toEqual({ timeout: 3 });
  });

  it("classes a refused connection as connect", async () => {
    const { baseUrl } = await serve(() => ({ kind: "hang" }));
    await server?.stop();
    server = undefined;
    const result = await runLoad(options(baseUrl, { requests: 3 }));
    expect(result.counters.errors).toEqual({ connect: 3 });
    expect(result.counters.errorExamples["connect"]).toMatch(/ECONNREFUSED/);
  });

  it("takes tokens from usage when the server sends it, and counts content chunks when it does not", async () => {
    const { baseUrl } = await serve((i) => ({
      kind: "stream",
      ttftMs: 0,
      gapMs: 0,
      chunks: 3,
      ...(i % 2 === 0 ? { usage: { prompt: 40, completion: 7 } } : {}),
    }));
    const records: RequestRecord[] = [];
    const result = await runLoad(
      options(baseUrl, { concurrency: 1, requests: 4, inputTokens: 25, onRequest: (r) => records.push(r) }),
    );
    const ok = completed(records);
    expect(ok.map((r) => [r.outputTokens, r.outputTokensFrom, r.inputTokens, r.inputTokensFrom])).toEqual([
      [7, "usage", 40, "usage"],
      [3, "counted", 25, "estimated"],
      [7, "usage", 40, "usage"],
      [3, "counted", 25, "estimated"],
    ]);
    expect(result.counters.outputTokens).toBe(20);
    expect(result.counters.outputTokensFrom).toEqual({ usage: 2, counted: 2 });
    expect(result.counters.inputTokensFrom).toEqual({ usage: 2, estimated: 2 });
  });

  it("sends streaming chat requests with usage requested, max_tokens and ignore_eos when asked", async () => {
    const srv = await serve(() => ({ kind: "stream", ttftMs: 0, gapMs: 0, chunks: 1 }));
    await runLoad(options(srv.baseUrl, { requests: 2, outputTokens: 33, ignoreEos: true }));
    expect(srv.bodies[0]).toMatchObject({
      model: "tiny",
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 33,
      ignore_eos: true,
    });
    const content = (srv.bodies[0]?.["messages"] as { content: string }[])[0]?.content ?? "";
    expect(content.split(" ")).toHaveLength(16);
  });

  it("posts to <base>/v1/chat/completions whether or not the base URL ends in /v1", async () => {
    const srv = await serve(() => ({ kind: "stream", ttftMs: 0, gapMs: 0, chunks: 1 }));
    const result = await runLoad(options(`${srv.baseUrl}/v1/`, { requests: 2 }));
    expect(result.counters.completed).toBe(2);
  });

  it("sends warm-up requests but leaves them out of the results", async () => {
    const srv = await serve(() => ({ kind: "stream", ttftMs: 0, gapMs: 0, chunks: 1 }));
    const result = await runLoad(options(srv.baseUrl, { concurrency: 1, warmupSeconds: 0.3, requests: 3 }));
    expect(result.counters.warmupRequests).toBeGreaterThan(0);
    expect(result.counters.completed).toBe(3);
    expect(srv.bodies).toHaveLength(3 + result.counters.warmupRequests);
    expect(HistogramSet.deserialize(result.histograms).count("e2e")).toBe(3);
  });

  it("in rate mode sends the scheduled number of requests and reports progress to the end", async () => {
    const srv = await serve(() => ({ kind: "stream", ttftMs: 0, gapMs: 0, chunks: 1 }));
    const progress: LoadProgress[] = [];
    const result = await runLoad(
      options(srv.baseUrl, {
        mode: "rate",
        rate: 50,
        burstiness: 1,
        requests: 20,
        seed: 7,
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(result.counters.completed).toBe(20);
    expect(srv.bodies).toHaveLength(20);
    expect(progress.at(-1)).toMatchObject({ phase: "done", completed: 20, failed: 0, inFlight: 0 });
  });

  it("stops early on its signal: no new requests, in-flight ones cancelled, the rest still reported", async () => {
    const controller = new AbortController();
    const srv = await serve((i) =>
      i === 0 ? { kind: "stream", ttftMs: 0, gapMs: 0, chunks: 1 } : { kind: "hang" },
    );
    const result = await runLoad(
      options(srv.baseUrl, {
        concurrency: 2,
        requests: undefined,
        durationSeconds: 3600,
        signal: controller.signal,
        onRequest: () => controller.abort(),
      }),
    );
    expect(result.stoppedEarly).toBe(true);
    expect(result.counters).toMatchObject({ completed: 1, failed: 0, cancelled: 1 });
    expect(srv.bodies.length).toBeLessThanOrEqual(2);
  });

  it("takes a manifest's gates.stress block as its profile, as the stress stage passes it", async () => {
    const srv = await serve(() => ({ kind: "stream", ttftMs: 0, gapMs: 0, chunks: 2 }));
    const gate: ResolvedStressGate = {
      ...DEFAULT_STACK_CONFIG.defaults.gates.stress,
      concurrency: 2,
      warmupSeconds: 0,
      outputTokens: 5,
      slo: { ttftP95Ms: 60_000, errorRate: 0.01 },
    };
    // Its `prompts` names a prompt set in the bucket: the stage reads that file and passes its prompts instead.
    const { prompts: _promptSetName, ...profile } = gate;
    const result = await runLoad({ ...profile, baseUrl: srv.baseUrl, model: "tiny", requests: 3 });
    expect(result.counters.completed).toBe(3);
    expect(result.goodputSlo).toEqual({ ttftP95Ms: 60_000 });
    expect(srv.bodies[0]).toMatchObject({ max_tokens: 5 });
  });

  it("refuses options it cannot run, naming every problem before sending anything", async () => {
    const error = await runLoad(
      options("ftp://nowhere", {
        concurrency: 0,
        requests: undefined,
        durationSeconds: undefined,
        outputTokens: 1.5,
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadOptionsInvalid);
    expect((error as LoadOptionsInvalid).problems).toEqual([
      "baseUrl must be http:// or https://, not ftp://",
      "concurrency must be a whole number above 0, not 0",
      "give durationSeconds, requests or both: the run needs an end",
      "outputTokens must be a whole number above 0, not 1.5",
    ]);
  });
});
