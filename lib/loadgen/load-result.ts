// What a load run returns: its histograms (serialized), its counters and its throughput timeline, as plain
// JSON-safe data — what a stress worker hands back through a Step Functions Map. Results of workers that
// ran side by side merge exactly; one read back from JSON is checked before it is trusted.

import { z } from "zod";
import type { Slo } from "../core/manifest/manifest-schema";
import { HistogramSet, HistogramSetInvalid } from "./histogram-set";
import { mergeTimelines, type ThroughputTimeline } from "./throughput-timeline";

/** The per-request SLOs goodput counts against: a request is good when it meets every one given. */
export type GoodputSlo = Pick<Slo, "ttftP95Ms" | "tpotP95Ms" | "e2eP95Ms">;

export interface LoadCounters {
  /** Measured requests that completed (warm-up and cancelled ones are never counted). */
  readonly completed: number;
  readonly failed: number;
  /** Failed requests by error class (`http_503`, `timeout`, `broken_stream`, `connect`). */
  readonly errors: Readonly<Record<string, number>>;
  /** The first failure's detail in each class, for a person to read. */
  readonly errorExamples: Readonly<Record<string, string>>;
  /** Completed requests that met every goodput SLO. */
  readonly goodRequests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** How many completed requests took their output token count from `usage`, and how many counted chunks. */
  readonly outputTokensFrom: { readonly usage: number; readonly counted: number };
  /** How many took their input token count from `usage`, and how many from the prompt's estimate. */
  readonly inputTokensFrom: { readonly usage: number; readonly estimated: number };
  readonly warmupRequests: number;
  /** Requests in flight when the run was stopped early: neither completed nor failed. */
  readonly cancelled: number;
}

export interface LoadResult {
  /** `HistogramSet.serialize()`: ttft, itl, tpot, e2e, queue. */
  readonly histograms: string;
  readonly counters: LoadCounters;
  readonly timeline: ThroughputTimeline;
  /** From the end of the warm-up to the end of the last measured request: the throughputs' denominator. */
  readonly measuredSeconds: number;
  readonly goodputSlo: GoodputSlo;
  /** The run was stopped (its AbortSignal) before its bounds were reached. */
  readonly stoppedEarly: boolean;
}

export class LoadResultInvalid extends Error {
  override readonly name = "LoadResultInvalid";
}

/**
 * The results of load workers that ran at the same time against the same endpoint, as one: histograms and
 * counters added, timelines summed, the measured time the longest worker's (they overlapped, so their
 * throughputs add up). Throws LoadResultInvalid if they counted goodput against different SLOs.
 */
export function mergeLoadResults(results: readonly LoadResult[]): LoadResult {
  const [first] = results;
  if (first === undefined) throw new LoadResultInvalid("there are no load results to merge");
  const slo = JSON.stringify(sortedSlo(first.goodputSlo));
  const odd = results.findIndex((r) => JSON.stringify(sortedSlo(r.goodputSlo)) !== slo);
  if (odd !== -1) {
    throw new LoadResultInvalid(
      `result ${odd} counted goodput against ${JSON.stringify(results[odd]?.goodputSlo)}, result 0 against ${slo}; ` +
        "give every worker the same SLOs",
    );
  }
  const histograms = new HistogramSet();
  for (const [i, result] of results.entries()) {
    try {
      histograms.add(HistogramSet.deserialize(result.histograms));
    } catch (error) {
      if (error instanceof HistogramSetInvalid) throw new LoadResultInvalid(`result ${i}: ${error.message}`);
      throw error;
    }
  }
  const counters = results.map((r) => r.counters);
  const total = (pick: (c: LoadCounters) => number) => counters.reduce((sum, c) => sum + pick(c), 0);
  return {
    histograms: histograms.serialize(),
    counters: {
      completed: total((c) => c.completed),
      failed: total((c) => c.failed),
      errors: addRecords(counters.map((c) => c.errors)),
      errorExamples: Object.assign({}, ...[...counters].reverse().map((c) => c.errorExamples)) as Record<
        string,
        string
      >,
      goodRequests: total((c) => c.goodRequests),
      inputTokens: total((c) => c.inputTokens),
      outputTokens: total((c) => c.outputTokens),
      outputTokensFrom: {
        usage: total((c) => c.outputTokensFrom.usage),
        counted: total((c) => c.outputTokensFrom.counted),
      },
      inputTokensFrom: {
        usage: total((c) => c.inputTokensFrom.usage),
        estimated: total((c) => c.inputTokensFrom.estimated),
      },
      warmupRequests: total((c) => c.warmupRequests),
      cancelled: total((c) => c.cancelled),
    },
    timeline: mergeTimelines(results.map((r) => r.timeline)),
    measuredSeconds: Math.max(...results.map((r) => r.measuredSeconds)),
    goodputSlo: first.goodputSlo,
    stoppedEarly: results.some((r) => r.stoppedEarly),
  };
}

const count = z.number().int().min(0);
const series = z.array(count).max(10_000);
const loadResultSchema = z.strictObject({
  histograms: z.string().max(1_000_000),
  counters: z.strictObject({
    completed: count,
    failed: count,
    errors: z.record(z.string().regex(/^(http_\d{3}|timeout|broken_stream|connect)$/), count),
    errorExamples: z.record(z.string(), z.string().max(1000)),
    goodRequests: count,
    inputTokens: count,
    outputTokens: count,
    outputTokensFrom: z.strictObject({ usage: count, counted: count }),
    inputTokensFrom: z.strictObject({ usage: count, estimated: count }),
    warmupRequests: count,
    cancelled: count,
  }),
  timeline: z.strictObject({
    bucketSeconds: z
      .number()
      .int()
      .min(1)
      .max(2 ** 20)
      .refine((n) => (n & (n - 1)) === 0, "a power of two"),
    completed: series,
    failed: series,
    outputTokens: series,
  }),
  measuredSeconds: z.number().min(0).finite(),
  goodputSlo: z.strictObject({
    ttftP95Ms: z.number().positive().optional(),
    tpotP95Ms: z.number().positive().optional(),
    e2eP95Ms: z.number().positive().optional(),
  }),
  stoppedEarly: z.boolean(),
});

/** A LoadResult read back from JSON (a worker's output), checked; `where` names it in the error. */
export function parseLoadResult(value: unknown, where: string): LoadResult {
  const parsed = loadResultSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new LoadResultInvalid(`${where} is not a load result: ${problems.join("; ")}`);
  }
  try {
    HistogramSet.deserialize(parsed.data.histograms);
  } catch (error) {
    if (error instanceof HistogramSetInvalid) throw new LoadResultInvalid(`${where}: ${error.message}`);
    throw error;
  }
  return parsed.data;
}

function addRecords(records: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) sum[key] = (sum[key] ?? 0) + value;
  }
  return sum;
}

function sortedSlo(slo: GoodputSlo): [string, unknown][] {
  return Object.entries(slo)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b));
}
