import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { decodeFromCompressedBase64 } from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import {
  HistogramSet,
  HistogramSetInvalid,
  LATENCY_METRICS,
  type LatencyMetric,
} from "../../lib/loadgen/histogram-set";
import { seededRandom } from "../../lib/loadgen/random";

/** Latency-like values in ms: mostly 20–400, a long tail to a few seconds. */
function latencies(seed: number, count: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => (random() < 0.95 ? 20 + random() * 380 : 400 + random() * 4000));
}

function recordAll(set: HistogramSet, metric: LatencyMetric, values: readonly number[]): void {
  for (const value of values) set.record(metric, value);
}

function nearestRank(values: readonly number[], percentile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((percentile / 100) * sorted.length) - 1] as number;
}

describe("HistogramSet", () => {
  it("merged from per-worker sets, equals the set that recorded everything (byte for byte)", () => {
    const single = new HistogramSet();
    const workers = [new HistogramSet(), new HistogramSet(), new HistogramSet()];
    for (const [m, metric] of LATENCY_METRICS.entries()) {
      const values = latencies(m, 3000);
      recordAll(single, metric, values);
      values.forEach((value, i) => workers[i % 3]?.record(metric, value));
    }
    const merged = new HistogramSet();
    for (const worker of workers) merged.add(HistogramSet.deserialize(worker.serialize()));

    expect(merged.serialize()).toBe(single.serialize());
    for (const metric of LATENCY_METRICS) expect(merged.stats(metric)).toEqual(single.stats(metric));
  });

  it("reports percentiles within 1 ms of the exact nearest-rank values below 1 s, and exact mean and max", () => {
    const values = latencies(42, 5000).filter((v) => v < 1000);
    const set = new HistogramSet();
    recordAll(set, "ttft", values);
    const stats = set.stats("ttft");
    for (const [p, measured] of [
      [50, stats?.p50Ms],
      [90, stats?.p90Ms],
      [95, stats?.p95Ms],
      [99, stats?.p99Ms],
    ] as const) {
      expect(Math.abs((measured as number) - nearestRank(values, p))).toBeLessThanOrEqual(1);
    }
    const exactMean = values.reduce((a, b) => a + Math.round(b * 1000), 0) / values.length / 1000;
    expect(stats?.meanMs).toBeCloseTo(exactMean, 9);
    expect(stats?.maxMs).toBe(Math.round(Math.max(...values) * 1000) / 1000);
    expect(stats?.count).toBe(values.length);
  });

  it("clamps values above an hour and counts them, keeping the exact maximum", () => {
    const set = new HistogramSet();
    set.record("queue", 10);
    set.record("queue", 5 * 3_600_000);
    const stats = set.stats("queue");
    expect(stats?.clamped).toBe(1);
    expect(stats?.maxMs).toBe(5 * 3_600_000);
    expect(stats?.p99Ms).toBeLessThanOrEqual(3_600_000 * 1.001);
  });

  it("reads the value at any percentile: the same as stats at p50–p99, never decreasing, never above the maximum", () => {
    const values = latencies(7, 4000);
    const set = new HistogramSet();
    recordAll(set, "e2e", values);
    const percentiles = [0, 10, 50, 90, 95, 99, 99.9, 100];
    const curve = set.valuesAtPercentiles("e2e", percentiles) ?? [];
    const stats = set.stats("e2e");

    expect([curve[2], curve[3], curve[4], curve[5]]).toEqual([
      stats?.p50Ms,
      stats?.p90Ms,
      stats?.p95Ms,
      stats?.p99Ms,
    ]);
    expect(curve).toEqual([...curve].sort((a, b) => a - b));
    expect(curve.at(-1)).toBe(stats?.maxMs);
    expect(Math.abs((curve[0] as number) - Math.min(...values))).toBeLessThanOrEqual(
      Math.min(...values) / 1000,
    );
    expect(new HistogramSet().valuesAtPercentiles("e2e", percentiles)).toBeUndefined();
  });

  it("has no stats for a metric nothing was recorded in", () => {
    expect(new HistogramSet().stats("tpot")).toBeUndefined();
  });

  it("serializes to a compact string JSON carries unescaped, in the standard HDR encoding", () => {
    const set = new HistogramSet();
    recordAll(set, "e2e", latencies(3, 10_000));
    const text = set.serialize();
    expect(JSON.stringify(text)).toBe(`"${text}"`);
    expect(text.length).toBeLessThan(8000);
    const e2ePart = text.split(" ").find((p) => p.startsWith("e2e:")) as string;
    const standard = decodeFromCompressedBase64(e2ePart.split(":")[4] as string);
    expect(standard.totalCount).toBe(10_000);
  });

  it("names the part of a damaged serialized set that is wrong", () => {
    const text = new HistogramSet().serialize();
    const read = (t: string) => () => HistogramSet.deserialize(t);
    expect(read("hdrset9 x")).toThrow("starts with 'hdrset1'");
    expect(read(text.replace("itl:", "ITL:"))).toThrow("ttft, itl, tpot, e2e, queue in that order");
    expect(read(text.replace(/tpot:0:0:0:/, "tpot:x:0:0:"))).toThrow(
      "the 'tpot' part of a serialized histogram set must be tpot:<sum>:<max>:<clamped>:<base64>",
    );
    expect(read(text.replace(/e2e:0:0:0:[^ ]+/, "e2e:0:0:0:AAAA"))).toThrow(
      "the 'e2e' histogram cannot be read: it does not start with a compressed V2 histogram cookie",
    );
  });

  it("refuses a histogram whose header claims another range instead of allocating for it", () => {
    const header = Buffer.alloc(40);
    header.writeUInt32BE(0x1c849313, 0);
    header.writeUInt32BE(0, 4);
    header.writeUInt32BE(3, 12);
    header.writeBigUInt64BE(1n, 16);
    header.writeBigUInt64BE(2n ** 52n, 24);
    const body = deflateSync(header);
    const wrapper = Buffer.alloc(8 + body.length);
    wrapper.writeUInt32BE(0x1c849314, 0);
    wrapper.writeUInt32BE(body.length, 4);
    body.copy(wrapper, 8);
    const text = new HistogramSet()
      .serialize()
      .replace(/ttft:0:0:0:[^ ]+/, `ttft:0:0:0:${wrapper.toString("base64")}`);
    expect(() => HistogramSet.deserialize(text)).toThrow(/over \[1, 4503599627370496\], not the expected/);
  });

  it("never fails on damaged input with anything but HistogramSetInvalid", () => {
    const valid = (() => {
      const set = new HistogramSet();
      recordAll(set, "itl", latencies(9, 200));
      return set.serialize();
    })();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.string({ maxLength: 8 }),
        fc.integer({ min: 0, max: 8 }),
        (at, insert, cut) => {
          const damaged = valid.slice(0, at) + insert + valid.slice(at + cut);
          try {
            HistogramSet.deserialize(damaged);
          } catch (error) {
            expect(error).toBeInstanceOf(HistogramSetInvalid);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
