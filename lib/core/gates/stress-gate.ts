// The stress gate's rules. A candidate passes when every SLO the manifest sets (gates.stress.slo) holds on
// the load it was given, and — when a stable version kept a stress result measured with the same profile —
// when it is not slower than stable by more than maxRegressionRatio:
//
//   candidate p95 / stable p95                        ≤ maxRegressionRatio   for TTFT, TPOT and E2E
//   stable output tokens/s / candidate output tokens/s ≤ maxRegressionRatio
//
// Results measured with different profiles are not compared: a p95 at twice the concurrency, or on other
// prompts (a different prompt set, or a changed file of the same name), says nothing about regression. A
// value that could not be measured (no request completed) fails the check it is needed for. Every check
// carries its threshold, the measured value and a sentence with both.

import { clipText } from "../text/clip-text";
import type { ResolvedStressGate, Slo } from "../manifest/manifest-schema";

/**
 * The longest warm-up + measured load one worker runs: its Task's 900 s, less a request's 120 s timeout for
 * the requests still in flight at the end and 60 s to start and to write the result.
 */
export const MAX_STRESS_RUN_SECONDS = 720;

/** The load a result was measured under: two results are comparable only when their profiles are equal. */
export interface StressProfile {
  readonly mode: "concurrency" | "rate";
  /** Requests in flight, in concurrency mode. */
  readonly concurrency?: number;
  /** Requests per second, in rate mode. */
  readonly rate?: number;
  /** The arrivals' gamma shape, in rate mode (it changes queueing, so the latencies). */
  readonly burstiness?: number;
  /** Synthetic prompts' length in approximate tokens; absent when a prompt set was sent. */
  readonly inputTokens?: number;
  /** The prompt set sent instead of synthetic prompts: its name and the SHA-256 of its file. */
  readonly prompts?: PromptSetIdentity;
  readonly outputTokens: number;
}

interface PromptSetIdentity {
  readonly name: string;
  readonly sha256: string;
}

/** What the gate judges, from the merged load of every worker. Latencies in ms; absent when not measured. */
export interface StressMeasurement {
  /** Measured requests: completed + failed. */
  readonly requests: number;
  readonly failed: number;
  /** failed / requests. */
  readonly errorRate: number;
  /** Failed requests by class (`http_503`, `timeout` …) and the first one's detail in each. */
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: Readonly<Record<string, string>>;
  readonly outputTokensPerSecond: number;
  readonly ttftP95Ms?: number;
  readonly tpotP95Ms?: number;
  readonly e2eP95Ms?: number;
}

export interface StressCheck {
  /** The SLO's name (`ttftP95Ms` …), or `regression.<metric>` against the stable version. */
  readonly name: string;
  readonly kind: "slo" | "regression";
  readonly pass: boolean;
  /** The limit: ms, a fraction, tokens/s, or for a regression check the allowed ratio. */
  readonly threshold: number;
  /** The measured value (the ratio to stable, for a regression check); null when it could not be measured. */
  readonly measured: number | null;
  /** For a regression check: stable's value of the metric. */
  readonly stable?: number;
  /** A sentence with the threshold and the measured value. */
  readonly message: string;
}

/** Regression checks, and the metrics that could not be compared, with why. */
export interface RegressionChecks {
  readonly checks: readonly StressCheck[];
  readonly notCompared: readonly string[];
}

/** The gate's profile; `prompts` is the prompt set the workers sent, when the gate names one. */
export function stressProfile(gate: ResolvedStressGate, prompts?: PromptSetIdentity): StressProfile {
  const load =
    gate.mode === "concurrency"
      ? { concurrency: gate.concurrency }
      : { rate: gate.rate, burstiness: gate.burstiness };
  const input = prompts
    ? { prompts: { name: prompts.name, sha256: prompts.sha256 } }
    : { inputTokens: gate.inputTokens };
  return { mode: gate.mode, ...load, ...input, outputTokens: gate.outputTokens };
}

/**
 * `concurrency 16, 512 → 128 tokens`, `4 requests/s (burstiness 1), 512 → 128 tokens`, or with a prompt set
 * `concurrency 16, prompt set chat-sample (sha256 1a2b3c4d5e6f…) → 128 tokens`.
 */
export function describeProfile(profile: StressProfile): string {
  const load =
    profile.mode === "concurrency"
      ? `concurrency ${profile.concurrency}`
      : `${profile.rate} requests/s (burstiness ${profile.burstiness})`;
  const input = profile.prompts ? `prompt set ${describePromptSet(profile.prompts)}` : profile.inputTokens;
  return `${load}, ${input} → ${profile.outputTokens} tokens`;
}

/** How `stable`'s profile differs from `candidate`'s, one phrase per difference; empty when they are the same. */
export function profileDifferences(candidate: StressProfile, stable: StressProfile): string[] {
  const fields = ["mode", "concurrency", "rate", "burstiness", "inputTokens", "outputTokens"] as const;
  const differences = fields
    .filter((field) => candidate[field] !== stable[field])
    .map((field) => `${field} ${show(stable[field])} (now ${show(candidate[field])})`);
  const now = candidate.prompts;
  const then = stable.prompts;
  if (now?.name !== then?.name || now?.sha256 !== then?.sha256) {
    const prompts = (set: PromptSetIdentity | undefined) => (set ? describePromptSet(set) : "unset");
    differences.push(`prompts ${prompts(then)} (now ${prompts(now)})`);
  }
  return differences;
}

/** Enough of the hash to tell two files apart at a glance. */
function describePromptSet({ name, sha256 }: PromptSetIdentity): string {
  return `${name} (sha256 ${sha256.slice(0, 12)}…)`;
}

const LATENCIES = [
  { slo: "ttftP95Ms", label: "TTFT p95" },
  { slo: "tpotP95Ms", label: "TPOT p95" },
  { slo: "e2eP95Ms", label: "E2E p95" },
] as const;

/** One check per SLO the manifest sets, in a fixed order. maxRegressionRatio is checkRegression's. */
export function checkSlos(slo: Slo, measured: StressMeasurement): StressCheck[] {
  const checks: StressCheck[] = [];
  for (const { slo: name, label } of LATENCIES) {
    const limit = slo[name];
    if (limit === undefined) continue;
    const value = measured[name];
    if (value === undefined) {
      checks.push({
        name,
        kind: "slo",
        pass: false,
        threshold: limit,
        measured: null,
        message: `${label} could not be measured: ${unmeasuredWhy(name, measured)}; the SLO is ${ms(limit)}.`,
      });
      continue;
    }
    const pass = value <= limit;
    checks.push({
      name,
      kind: "slo",
      pass,
      threshold: limit,
      measured: value,
      message: pass
        ? `${label} was ${ms(value)}, within the SLO of ${ms(limit)}.`
        : `${label} was ${ms(value)}; the SLO allows at most ${ms(limit)}.`,
    });
  }
  if (slo.errorRate !== undefined) checks.push(errorRateCheck(slo.errorRate, measured));
  if (slo.minOutputTokensPerSecond !== undefined) {
    const floor = slo.minOutputTokensPerSecond;
    const value = measured.outputTokensPerSecond;
    const pass = value >= floor;
    checks.push({
      name: "minOutputTokensPerSecond",
      kind: "slo",
      pass,
      threshold: floor,
      measured: value,
      message: pass
        ? `Output throughput was ${tokensPerSecond(value)}, above the SLO of ${tokensPerSecond(floor)}.`
        : `Output throughput was ${tokensPerSecond(value)}; the SLO asks for at least ${tokensPerSecond(floor)}.`,
    });
  }
  return checks;
}

/** The candidate against the stable version's result of the same profile, within `maxRatio`. */
export function checkRegression(
  maxRatio: number,
  candidate: StressMeasurement,
  stable: StressMeasurement,
  stableVersion: string,
): RegressionChecks {
  const checks: StressCheck[] = [];
  const notCompared: string[] = [];
  for (const { slo: metric, label } of LATENCIES) {
    const base = stable[metric];
    const name = `regression.${metric}`;
    if (base === undefined || base <= 0) {
      notCompared.push(`${label}: stable ${stableVersion}'s result has none.`);
      continue;
    }
    const value = candidate[metric];
    if (value === undefined) {
      const message = `${label} could not be measured (${unmeasuredWhy(metric, candidate)}), so it cannot be compared with stable ${stableVersion}'s ${ms(base)}.`;
      checks.push({
        name,
        kind: "regression",
        pass: false,
        threshold: maxRatio,
        measured: null,
        stable: base,
        message,
      });
      continue;
    }
    const ratio = value / base;
    const pass = ratio <= maxRatio;
    checks.push({
      name,
      kind: "regression",
      pass,
      threshold: maxRatio,
      measured: ratio,
      stable: base,
      message:
        `${label} was ${times(ratio)} stable ${stableVersion}'s (${ms(value)} vs ${ms(base)}); ` +
        regressionLimit(pass, maxRatio),
    });
  }
  const base = stable.outputTokensPerSecond;
  const value = candidate.outputTokensPerSecond;
  const name = "regression.outputTokensPerSecond";
  if (!(base > 0)) {
    notCompared.push(`output throughput: stable ${stableVersion}'s result has none.`);
  } else if (!(value > 0)) {
    checks.push({
      name,
      kind: "regression",
      pass: false,
      threshold: maxRatio,
      measured: null,
      stable: base,
      message: `The candidate produced no output tokens; stable ${stableVersion} produced ${tokensPerSecond(base)}.`,
    });
  } else {
    const ratio = base / value;
    const pass = ratio <= maxRatio;
    checks.push({
      name,
      kind: "regression",
      pass,
      threshold: maxRatio,
      measured: ratio,
      stable: base,
      message:
        `Output throughput was ${tokensPerSecond(value)}, stable ${stableVersion}'s ${tokensPerSecond(base)}: ` +
        `stable is ${times(ratio)} faster; ${regressionLimit(pass, maxRatio)}`,
    });
  }
  return { checks, notCompared };
}

function errorRateCheck(limit: number, measured: StressMeasurement): StressCheck {
  if (measured.requests === 0) {
    return {
      name: "errorRate",
      kind: "slo",
      pass: false,
      threshold: limit,
      measured: null,
      message: `The error rate could not be measured: no request was measured; the SLO is ${percent(limit)}.`,
    };
  }
  const pass = measured.errorRate <= limit;
  const counted = `${measured.failed} of ${measured.requests} requests failed`;
  const classes = Object.entries(measured.errors)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, count]) => {
      const example = measured.errorExamples[kind];
      return `${kind} ×${count}${example ? ` (${JSON.stringify(clipText(example, 120))})` : ""}`;
    });
  return {
    name: "errorRate",
    kind: "slo",
    pass,
    threshold: limit,
    measured: measured.errorRate,
    message: pass
      ? `The error rate was ${percent(measured.errorRate)} (${counted}), within the SLO of ${percent(limit)}.`
      : `The error rate was ${percent(measured.errorRate)} (${counted}: ${classes.join(", ")}); the SLO allows at most ${percent(limit)}.`,
  };
}

function unmeasuredWhy(metric: (typeof LATENCIES)[number]["slo"], measured: StressMeasurement): string {
  if (measured.requests === measured.failed) return "no request completed";
  return metric === "tpotP95Ms"
    ? "no answer had 2 or more tokens (raise gates.stress.outputTokens)"
    : "no completed request recorded it";
}

function regressionLimit(pass: boolean, maxRatio: number): string {
  return pass
    ? `within maxRegressionRatio ${times(maxRatio)}.`
    : `maxRegressionRatio allows at most ${times(maxRatio)}.`;
}

function show(value: string | number | undefined): string {
  return value === undefined ? "unset" : String(value);
}

/** Tenths of a millisecond, and three significant digits below 10 ms, so a tight SLO never shows as 0. */
function ms(value: number): string {
  return `${Math.abs(value) >= 10 ? round(value, 1) : Number(value.toPrecision(3))} ms`;
}

function tokensPerSecond(value: number): string {
  return `${round(value, 1)} tokens/s`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

function times(ratio: number): string {
  return `${round(ratio, 2)}×`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
