// The MergeStress stage, after the StressTest Map: reads every worker's LoadResult from the bucket, merges
// them (exactly: the histograms one client seeing every request would have), summarizes the load and applies
// the stress gate (lib/core/gates/stress-gate.ts): each SLO the manifest sets and, when the stable version kept a
// stress result of the same profile (the same load on the same prompts: synthetic ones of the same length, or
// the same prompt set file), maxRegressionRatio against it. It writes
// `reports/<model>/<version>/<rolloutId>/stress.json` — the merged result, the summary, every check with its
// threshold, measured value and verdict, and the profile — then either returns `$.stress`, a small summary
// that Promote keeps with the version (RolloutStore.saveVersionResults → `{stress: …}`) for the next
// rollout's regression check, or fails with SloViolated naming every violated check.

import { z } from "zod";
import { SloViolated } from "../core/errors";
import type { Finding } from "../core/findings";
import type { ResolvedStressGate } from "../core/manifest/manifest-schema";
import type { ExecutionState, RolloutIdentity, RolloutPlan, StressPromptSet } from "../core/rollout/rollout";
import {
  checkRegression,
  checkSlos,
  describeProfile,
  profileDifferences,
  type StressCheck,
  type StressMeasurement,
  type StressProfile,
  stressProfile,
} from "../core/gates/stress-gate";
import type { LatencyMetric } from "../loadgen/histogram-set";
import {
  type LoadResult,
  LoadResultInvalid,
  mergeLoadResults,
  parseLoadResult,
} from "../loadgen/load-result";
import { type LoadSummary, summarizeLoad } from "../loadgen/load-summary";
import { combinedUse, type DepsUsing } from "./port-use";
import { rolloutEvent } from "./events";
import { GATE_MERGE_USES, writeRolloutReport } from "./rollout-report";
import type { StressWorkerResult } from "./stress-worker";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";

export const MERGE_STRESS_USES = combinedUse(GATE_MERGE_USES, ABORT_WATCH_USES);

type MergeStressDeps = DepsUsing<typeof MERGE_STRESS_USES>;

/** One metric's percentiles in ms, rounded to 0.01 ms. */
export interface Percentiles {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

/** Whether the candidate was compared with the stable version, and if not, why. */
export interface StableComparison {
  readonly stableVersion: string;
  readonly compared: boolean;
  /** Why it was not compared (a different profile, no stored result, no maxRegressionRatio) or what was left out. */
  readonly notes: readonly string[];
  /** When not compared, the reason in a few words, for the gate's one-line summary. */
  readonly skippedBecause?: string;
}

/** `$.stress` after MergeStress: what the registry shows and what Promote keeps for the next rollout. */
export interface StressGateResult {
  /** One line a user reads (the registry's metadata shows it). */
  readonly summary: string;
  readonly profile: StressProfile;
  /** Workers that sent load. */
  readonly workers: number;
  readonly requests: number;
  readonly failed: number;
  readonly errorRate: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly measuredSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly goodputPerSecond: number;
  readonly latency: Partial<Record<LatencyMetric, Percentiles>>;
  readonly checks: readonly StressCheck[];
  /** Absent for a first release. */
  readonly comparison?: StableComparison;
  /** `reports/<model>/<version>/<rolloutId>/stress.json`: everything. */
  readonly reportKey: string;
  /** `reports/<model>/<version>/<rolloutId>/report.html`: the rollout's page, charts and tables. */
  readonly pageKey: string;
}

/** What the stable version kept, as far as the regression check needs it. */
interface StableStress {
  readonly version: string;
  readonly profile?: StressProfile;
  readonly measurement?: StressMeasurement;
  /** Why there is nothing to compare with, as a sentence. */
  readonly missing?: string;
}

const STAGE = "MergeStress";

export async function mergeStress(state: ExecutionState, deps: MergeStressDeps): Promise<StressGateResult> {
  const { rollout, manifest, plan } = state;
  if (!manifest) throw new Error(`${STAGE} needs $.manifest from Prepare; the state has none.`);
  if (!plan) throw new Error(`${STAGE} needs $.plan from Prepare; the state has none.`);
  // A load cut short by an abort is not judged.
  await assertNotAborted(deps, rollout, STAGE);
  const gate = manifest.gates.stress;
  const workers = workerResults(state, plan);
  const loaded = workers.filter((w) => w.resultKey !== undefined);
  const merged = mergeLoadResults(await readLoadResults(loaded, deps));
  const load = summarizeLoad(merged);
  const measurement = measurementOf(load);
  const profile = stressProfile(gate, promptSetOf(gate, plan));

  const sloChecks = checkSlos(gate.slo, measurement);
  const stable = await stableStress(rollout, plan, deps);
  const regression = compareWithStable(gate, profile, measurement, stable);
  const checks = [...sloChecks, ...(regression?.checks ?? [])];
  const comparison = regression?.comparison;
  const violated = checks.filter((c) => !c.pass);

  const reportKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/stress.json`;
  const report = {
    model: rollout.model,
    version: rollout.version,
    rolloutId: rollout.id,
    at: deps.clock.now().toISOString(),
    passed: violated.length === 0,
    profile,
    gate,
    workers,
    checks,
    ...(comparison ? { comparison } : {}),
    ...(stable?.measurement
      ? { stable: { version: stable.version, profile: stable.profile, measurement: stable.measurement } }
      : {}),
    summary: load,
    result: merged,
  };
  await deps.objects.put(reportKey, `${JSON.stringify(report, null, 2)}\n`, {
    contentType: "application/json",
  });

  const pageKey = await writeRolloutReport(rollout, deps, STAGE);
  if (violated.length > 0) {
    const where = `${deps.objects.location}/${pageKey} (data: ${deps.objects.location}/${reportKey})`;
    throw gateFailure(rollout, gate, profile, loaded.length, checks, where);
  }
  const result: StressGateResult = {
    summary: describeLoad(load, profile, comparison),
    profile,
    workers: loaded.length,
    requests: load.requests,
    failed: load.failed,
    errorRate: load.errorRate,
    errors: load.errors,
    measuredSeconds: load.measuredSeconds,
    requestsPerSecond: round(load.requestsPerSecond),
    outputTokensPerSecond: round(load.outputTokensPerSecond),
    goodputPerSecond: round(load.goodputPerSecond),
    latency: percentilesOf(load),
    checks,
    ...(comparison ? { comparison } : {}),
    reportKey,
    pageKey,
  };
  await deps.events.emit(
    rolloutEvent(
      "Stage Succeeded",
      rollout,
      STAGE,
      `${rollout.model} ${rollout.version} passed the stress gate: ${result.summary}.`,
      deps.clock,
      {
        data: {
          requests: result.requests,
          errorRate: result.errorRate,
          ttftP95Ms: result.latency.ttft?.p95Ms ?? null,
          tpotP95Ms: result.latency.tpot?.p95Ms ?? null,
          e2eP95Ms: result.latency.e2e?.p95Ms ?? null,
          outputTokensPerSecond: result.outputTokensPerSecond,
          stableVersion: comparison?.stableVersion ?? null,
          reportKey,
          pageKey,
        },
      },
    ),
  );
  return result;
}

/** `$.stress.workers`, as the StressTest Map's ResultSelector leaves it, checked against the plan: it crossed a JSON boundary. */
function workerResults(state: ExecutionState, plan: RolloutPlan): StressWorkerResult[] {
  const workers: unknown = state.stress?.["workers"];
  if (!Array.isArray(workers)) {
    throw new Error(
      `${STAGE} needs $.stress.workers, the StressTest Map's results; the state has ${state.stress === undefined ? "no $.stress" : `$.stress with keys [${Object.keys(state.stress).join(", ")}]`}.`,
    );
  }
  const problems: string[] = [];
  if (workers.length !== plan.stressWorkers.length) {
    problems.push(
      `there are ${workers.length} results for the ${plan.stressWorkers.length} workers of $.plan.stressWorkers`,
    );
  }
  const results = workers.map((value: unknown, i) => {
    const worker = (value ?? {}) as Partial<StressWorkerResult>;
    const planned = plan.stressWorkers[i];
    const shapeOk =
      Number.isInteger(worker.index) &&
      Number.isInteger(worker.of) &&
      Number.isInteger(worker.requests) &&
      Number.isInteger(worker.failed) &&
      typeof worker.measuredSeconds === "number" &&
      (typeof worker.resultKey === "string" || typeof worker.idle === "string");
    if (!shapeOk) {
      problems.push(
        `$.stress.workers[${i}] is not what StressWorker returns ({index, of, resultKey or idle, requests, failed, measuredSeconds}): ${JSON.stringify(value).slice(0, 200)}`,
      );
    } else if (planned && (worker.index !== planned.index || worker.of !== planned.of)) {
      problems.push(
        `$.stress.workers[${i}] is worker ${worker.index} of ${worker.of}; the plan has worker ${planned.index} of ${planned.of} there`,
      );
    }
    return worker as StressWorkerResult;
  });
  if (problems.length === 0 && !results.some((w) => w.resultKey !== undefined)) {
    problems.push("no worker sent any load (every one is idle)");
  }
  if (problems.length > 0) {
    throw new Error(
      `${STAGE} cannot merge the stress workers' results:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return results;
}

/** The prompt set the workers sent: the one the gate names, as Prepare checked it (`$.plan.stressPrompts`). */
function promptSetOf(gate: ResolvedStressGate, plan: RolloutPlan): StressPromptSet | undefined {
  const planned = plan.stressPrompts ?? undefined;
  if (gate.prompts === planned?.name) return planned;
  throw new Error(
    `${STAGE}: the stress gate names ${gate.prompts === undefined ? "no prompt set" : `the prompt set '${gate.prompts}'`}, but $.plan.stressPrompts from Prepare is ${JSON.stringify(planned ?? null)}.`,
  );
}

/** Every loaded worker's LoadResult, checked; every missing or bad object is named, not just the first. */
async function readLoadResults(
  workers: readonly StressWorkerResult[],
  deps: MergeStressDeps,
): Promise<LoadResult[]> {
  const problems: string[] = [];
  const results = await Promise.all(
    workers.map(async (worker) => {
      const key = worker.resultKey as string;
      const where = `${deps.objects.location}/${key}`;
      const bytes = await deps.objects.get(key);
      if (!bytes) {
        problems.push(`worker ${worker.index} of ${worker.of}: ${where} does not exist`);
        return undefined;
      }
      try {
        const result = parseLoadResult(JSON.parse(new TextDecoder().decode(bytes)), where);
        const requests = result.counters.completed + result.counters.failed;
        if (requests !== worker.requests) {
          problems.push(
            `worker ${worker.index} of ${worker.of}: ${where} holds ${requests} measured requests, but the worker reported ${worker.requests}; it is not the result this worker wrote`,
          );
        }
        return result;
      } catch (error) {
        if (!(error instanceof SyntaxError || error instanceof LoadResultInvalid)) throw error;
        const why = error instanceof SyntaxError ? `${where} is not JSON (${error.message})` : error.message;
        problems.push(`worker ${worker.index} of ${worker.of}: ${why}`);
        return undefined;
      }
    }),
  );
  if (problems.length > 0) {
    throw new Error(
      `${STAGE} cannot read the stress workers' results:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "They are written by StressWorker in this execution; rerun the rollout (upload the manifest again).",
    );
  }
  return results as LoadResult[];
}

function measurementOf(load: LoadSummary): StressMeasurement {
  return {
    requests: load.requests,
    failed: load.failed,
    errorRate: load.errorRate,
    errors: load.errors,
    errorExamples: load.errorExamples,
    outputTokensPerSecond: load.outputTokensPerSecond,
    ...(load.latency.ttft ? { ttftP95Ms: load.latency.ttft.p95Ms } : {}),
    ...(load.latency.tpot ? { tpotP95Ms: load.latency.tpot.p95Ms } : {}),
    ...(load.latency.e2e ? { e2eP95Ms: load.latency.e2e.p95Ms } : {}),
  };
}

/** The regression checks against stable, or why there are none; undefined for a first release. */
function compareWithStable(
  gate: ResolvedStressGate,
  profile: StressProfile,
  measurement: StressMeasurement,
  stable: StableStress | undefined,
): { checks: readonly StressCheck[]; comparison: StableComparison } | undefined {
  if (!stable) return undefined;
  const skipped = (why: string, because: string) => ({
    checks: [],
    comparison: { stableVersion: stable.version, compared: false, notes: [why], skippedBecause: because },
  });
  if (!stable.profile || !stable.measurement) {
    return skipped(
      stable.missing ?? `Stable ${stable.version} kept no stress result.`,
      "no usable result of it kept",
    );
  }
  const differences = profileDifferences(profile, stable.profile);
  if (differences.length > 0) {
    return skipped(
      `The regression check was skipped: stable ${stable.version} was measured with a different profile (${differences.join(", ")}), so its numbers are not comparable.`,
      "measured with a different profile",
    );
  }
  const ratio = gate.slo.maxRegressionRatio;
  if (ratio === undefined) {
    return skipped(
      `The regression check was skipped: gates.stress.slo.maxRegressionRatio is not set (stable ${stable.version} kept a comparable result).`,
      "gates.stress.slo.maxRegressionRatio not set",
    );
  }
  const { checks, notCompared } = checkRegression(ratio, measurement, stable.measurement, stable.version);
  return { checks, comparison: { stableVersion: stable.version, compared: true, notes: notCompared } };
}

/** What `$.stress` the stable version kept at its promotion, when the plan names one. */
async function stableStress(
  rollout: RolloutIdentity,
  plan: RolloutPlan,
  deps: MergeStressDeps,
): Promise<StableStress | undefined> {
  const version = plan.stableVersion;
  if (!plan.hasStable || version === undefined) return undefined;
  const kept = (await deps.store.getVersionResults(rollout.model, version))?.["stress"];
  if (kept === undefined) {
    return {
      version,
      missing: `The regression check was skipped: stable ${version} kept no stress result (it was released with the stress gate off, or before modelship kept them).`,
    };
  }
  const parsed = storedStressSchema.safeParse(kept);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    return {
      version,
      missing: `The regression check was skipped: the stress result stable ${version} kept cannot be read (${problems.slice(0, 3).join("; ")}).`,
    };
  }
  const { profile, latency, outputTokensPerSecond, requests, failed, errorRate, errors } = parsed.data;
  return {
    version,
    profile,
    measurement: {
      requests,
      failed,
      errorRate,
      errors,
      errorExamples: {},
      outputTokensPerSecond,
      ...(latency.ttft ? { ttftP95Ms: latency.ttft.p95Ms } : {}),
      ...(latency.tpot ? { tpotP95Ms: latency.tpot.p95Ms } : {}),
      ...(latency.e2e ? { e2eP95Ms: latency.e2e.p95Ms } : {}),
    },
  };
}

const storedPercentiles = z.object({ p95Ms: z.number().nonnegative() });
/** The part of a kept StressGateResult the regression check reads; other keys may come and go between releases. */
const storedStressSchema = z.object({
  profile: z.strictObject({
    mode: z.enum(["concurrency", "rate"]),
    concurrency: z.number().optional(),
    rate: z.number().optional(),
    burstiness: z.number().optional(),
    inputTokens: z.number().optional(),
    prompts: z.strictObject({ name: z.string(), sha256: z.string() }).optional(),
    outputTokens: z.number(),
  }),
  requests: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  errorRate: z.number().min(0).max(1),
  errors: z.record(z.string(), z.number()),
  outputTokensPerSecond: z.number().nonnegative(),
  latency: z.object({
    ttft: storedPercentiles.optional(),
    tpot: storedPercentiles.optional(),
    e2e: storedPercentiles.optional(),
  }),
});

function percentilesOf(load: LoadSummary): Partial<Record<LatencyMetric, Percentiles>> {
  const latency: Partial<Record<LatencyMetric, Percentiles>> = {};
  for (const [metric, stats] of Object.entries(load.latency) as [
    LatencyMetric,
    LoadSummary["latency"]["ttft"],
  ][]) {
    if (!stats) continue;
    latency[metric] = {
      p50Ms: round(stats.p50Ms),
      p90Ms: round(stats.p90Ms),
      p95Ms: round(stats.p95Ms),
      p99Ms: round(stats.p99Ms),
    };
  }
  return latency;
}

/** `240 requests at concurrency 16, 512 → 128 tokens: TTFT p95 312.4 ms, … 0.00% errors (vs stable v2: compared)`. */
function describeLoad(
  load: LoadSummary,
  profile: StressProfile,
  comparison: StableComparison | undefined,
): string {
  const p95 = (metric: LatencyMetric, label: string) => {
    const stats = load.latency[metric];
    return stats ? `${label} p95 ${round(stats.p95Ms, 1)} ms` : undefined;
  };
  const numbers = [
    p95("ttft", "TTFT"),
    p95("tpot", "TPOT"),
    p95("e2e", "E2E"),
    `${round(load.outputTokensPerSecond, 1)} output tokens/s`,
    `${(load.errorRate * 100).toFixed(2)}% errors`,
  ].filter(Boolean);
  const versus = comparison
    ? comparison.compared
      ? `; within maxRegressionRatio of stable ${comparison.stableVersion}`
      : `; not compared with stable ${comparison.stableVersion}${comparison.skippedBecause ? ` (${comparison.skippedBecause})` : ""}`
    : "";
  return `${load.requests} requests at ${describeProfile(profile)}: ${numbers.join(", ")}${versus}`;
}

function gateFailure(
  rollout: RolloutIdentity,
  gate: ResolvedStressGate,
  profile: StressProfile,
  workers: number,
  checks: readonly StressCheck[],
  reportUri: string,
): SloViolated {
  const violated = checks.filter((c) => !c.pass);
  const findings: Finding[] = violated.map((check) => ({
    severity: "error",
    code: `stress.${check.kind === "slo" ? `slo.${check.name}` : check.name}`,
    path: `gates.stress.slo.${check.kind === "slo" ? check.name : "maxRegressionRatio"}`,
    message: check.message,
  }));
  const names = violated.map((c) => c.name).join(", ");
  const load = gate.mode === "concurrency" ? "gates.stress.concurrency" : "gates.stress.rate";
  return new SloViolated(
    `${rollout.model} ${rollout.version} failed the stress gate: ${violated.length} of ${checks.length} checks violated (${names}) under ${describeProfile(profile)} from ${workers} worker${workers === 1 ? "" : "s"}.`,
    {
      findings,
      hint:
        `If the SLO is stricter than the model needs, raise it in gates.stress.slo; if the load is more than it will serve, lower ${load}; ` +
        `otherwise fix the model or server config (more GPUs, serving.maxModelLen, serving.extraArgs) and upload again. The full report is ${reportUri}.`,
    },
  );
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
