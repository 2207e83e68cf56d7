// What the rollout report reads from the reports the stages wrote next to it — validation.json (Validate),
// stress.json (MergeStress), eval.json (MergeEval), shadow.json (CheckShadow), outcome.json (the stage that
// ended the rollout) — checked, since a report is only as good as its input: a
// document that is missing, is not what its stage writes, or belongs to another rollout becomes a sentence
// in the page, never an exception or a wrong number. Only the fields the page shows are required; other
// fields may come and go.

import { z } from "zod";
import { MAX_HISTORY_PERIODS } from "../alarms/alarm-history";
import { HOOK_POINTS } from "../manifest/manifest-schema";
import type { RolloutIdentity } from "../rollout/rollout";

/** One of the gate documents, as the report found it. */
export type ReportDocument<T> =
  | { readonly status: "missing"; readonly key: string }
  | { readonly status: "unreadable"; readonly key: string; readonly problems: readonly string[] }
  | { readonly status: "read"; readonly key: string; readonly value: T };

const count = z.number().int().nonnegative();
const amount = z.number().nonnegative();
const fraction = z.number().min(0).max(1);

/** Every document says whose it is. */
const owner = { rolloutId: z.string(), version: z.string(), at: z.string() };

const findingSchema = z.object({
  severity: z.enum(["error", "warning", "info"]),
  code: z.string(),
  message: z.string(),
  file: z.string().optional(),
  tensor: z.string().optional(),
  path: z.string().optional(),
  hint: z.string().optional(),
});

const validationDocumentSchema = z.object({
  ...owner,
  valid: z.boolean(),
  location: z.string(),
  format: z.enum(["safetensors", "gguf"]).optional(),
  architecture: z.string().optional(),
  parameters: count,
  dtypes: z.record(z.string(), count),
  weightBytes: count,
  totalBytes: count,
  files: z.array(z.object({ path: z.string() })),
  requests: count,
  bytesRead: count,
  gpu: z.object({
    weightBytes: amount,
    kvCacheBytes: amount,
    overheadBytes: amount,
    totalBytes: amount,
    gpus: count,
    gpuMemoryGiB: amount,
    explanation: z.string(),
    fits: z.boolean(),
  }),
  errors: count,
  warnings: count,
  findings: z.array(findingSchema),
});

const metricStatsSchema = z.object({
  count,
  meanMs: amount,
  p50Ms: amount,
  p90Ms: amount,
  p95Ms: amount,
  p99Ms: amount,
  maxMs: amount,
  clamped: count,
});

const stressDocumentSchema = z.object({
  ...owner,
  passed: z.boolean(),
  profile: z.object({
    mode: z.enum(["concurrency", "rate"]),
    concurrency: z.number().optional(),
    rate: z.number().optional(),
    burstiness: z.number().optional(),
    inputTokens: count.optional(),
    prompts: z.object({ name: z.string(), sha256: z.string() }).optional(),
    outputTokens: count,
  }),
  workers: z.array(z.object({ resultKey: z.string().optional() })),
  checks: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["slo", "regression"]),
      pass: z.boolean(),
      threshold: z.number(),
      measured: z.number().nullable(),
      stable: z.number().optional(),
      message: z.string(),
    }),
  ),
  comparison: z
    .object({ stableVersion: z.string(), compared: z.boolean(), notes: z.array(z.string()) })
    .optional(),
  summary: z.object({
    requests: count,
    completed: count,
    failed: count,
    warmupRequests: count,
    cancelled: count,
    measuredSeconds: amount,
    requestsPerSecond: amount,
    outputTokensPerSecond: amount,
    inputTokensPerSecond: amount,
    goodputPerSecond: amount,
    goodputSlo: z.record(z.string(), z.number()),
    errorRate: fraction,
    errors: z.record(z.string(), count),
    errorExamples: z.record(z.string(), z.string()),
    inputTokens: count,
    outputTokens: count,
    outputTokensFrom: z.object({ usage: count, counted: count }),
    inputTokensFrom: z.object({ usage: count, estimated: count }),
    latency: z.object({
      ttft: metricStatsSchema.optional(),
      itl: metricStatsSchema.optional(),
      tpot: metricStatsSchema.optional(),
      e2e: metricStatsSchema.optional(),
      queue: metricStatsSchema.optional(),
    }),
    stoppedEarly: z.boolean(),
  }),
  result: z.object({
    histograms: z.string(),
    timeline: z.object({
      bucketSeconds: z.number().int().positive(),
      completed: z.array(count).max(10_000),
      failed: z.array(count).max(10_000),
      outputTokens: z.array(count).max(10_000),
    }),
  }),
});

const intervalSchema = z.object({ low: fraction, high: fraction });

const evalItemSchema = z.object({
  id: z.string(),
  scorer: z.string(),
  prompt: z.union([
    z.object({ messages: z.array(z.object({ role: z.string(), content: z.string() })) }),
    z.object({ prompt: z.string() }),
  ]),
  expected: z.string().optional(),
  output: z.string().optional(),
  extracted: z.string().optional(),
  verdict: z.enum(["correct", "wrong", "error"]),
  error: z.string().optional(),
});

const evalDocumentSchema = z.object({
  ...owner,
  passed: z.boolean(),
  stable: z.object({ version: z.string(), missing: z.string().optional() }).nullable(),
  suites: z.array(
    z.object({
      suite: z.string(),
      pass: z.boolean(),
      minScore: fraction,
      maxRegression: fraction,
      score: z.object({
        items: count,
        correct: count,
        wrong: count,
        errors: count,
        score: fraction,
        interval: intervalSchema,
      }),
      comparison: z
        .object({
          paired: count,
          candidateScore: fraction,
          stableScore: fraction,
          onlyStableCorrect: count,
          onlyCandidateCorrect: count,
          pValue: fraction,
        })
        .optional(),
      /** Items without an answer against gates.eval.maxErrorRate; absent in reports written before it existed. */
      unanswered: z
        .object({
          count,
          share: fraction,
          maxErrorRate: fraction,
          tooMany: z.boolean(),
          kinds: z.record(z.string(), count),
        })
        .optional(),
      reasons: z.array(z.string()),
      items: z.array(evalItemSchema),
    }),
  ),
});

/** A hook's run (core/gates/hooks.ts HookRun), kept with its RunHooks transition. */
const hookRunSchema = z.object({
  name: z.string(),
  at: z.enum(HOOK_POINTS),
  result: z.enum(["passed", "failed", "ignored"]),
  reason: z.string(),
  durationMs: amount,
  attempts: count,
  step: count.optional(),
});

const transitionSchema = z.object({
  at: z.string(),
  stage: z.string(),
  status: z.string(),
  reason: z.string(),
  weights: z.object({ stable: amount, candidate: amount }).optional(),
  hook: hookRunSchema.optional(),
});

/** The plan's strategy (core/traffic/rollout-strategy.ts RolloutStrategy). */
const strategySchema = z.discriminatedUnion("kind", [
  /** `weights`: the planned steps' candidate weights. */
  z.object({ kind: z.literal("canary"), weights: z.array(amount).optional() }),
  z.object({ kind: z.literal("linear"), stepPercent: amount, intervalSeconds: amount }),
  z.object({ kind: z.literal("blueGreen") }),
]);

const alarmSeriesSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  threshold: z.number(),
  comparison: z.enum([
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
  ]),
  alarmPeriodSeconds: z.number().positive(),
  evaluationPeriods: count,
  datapointsToAlarm: count,
  periodSeconds: z.number().positive(),
  points: z.array(z.object({ at: z.string(), value: z.number() })).max(MAX_HISTORY_PERIODS + 1),
});

/** The states a rollout ends in, as the execution and `modelship status` name them. */
export const END_STATES = ["Succeeded", "RolledBack", "Aborted", "Failed"] as const;

const outcomeDocumentSchema = z.object({
  ...owner,
  model: z.string(),
  end: z.object({
    state: z.enum(END_STATES),
    /** The stage that ended the rollout: Finalize, Rollback or Cleanup. */
    stage: z.string(),
    at: z.string(),
    reason: z.string(),
    /** Who ended it: an alarm, a command (with who sent it), or the state machine. */
    trigger: z.enum(["alarm", "command", "state machine"]).optional(),
    requestedBy: z.string().optional(),
    alarm: z.string().optional(),
    /** For a failure: the error name and the stage that raised it. */
    error: z.string().optional(),
    failedStage: z.string().optional(),
    hint: z.string().optional(),
    leftBehind: z.array(z.string()).optional(),
  }),
  stableVersion: z.string().optional(),
  /** How traffic moved and the conversation key, when the stage that wrote this knew the plan. */
  strategy: strategySchema.optional(),
  stickiness: z.union([z.object({ header: z.string() }), z.object({ cookie: z.string() })]).optional(),
  steps: z.array(
    z.object({
      step: count,
      /** How many steps the plan has, when the stage that wrote this knew the plan. */
      of: count.optional(),
      weight: amount,
      stableWeight: amount,
      at: z.string(),
      /** When the next step, the promotion or the end came. */
      until: z.string().optional(),
      plannedBakeSeconds: amount.optional(),
    }),
  ),
  promotion: z.object({ at: z.string(), reason: z.string(), requested: z.string().optional() }).optional(),
  /** The alarms' metrics from arming to the end; null when the rollout ended before any alarm was armed. */
  alarms: z
    .object({
      start: z.string(),
      end: z.string(),
      /** Why the metrics could not be read, when they could not. */
      problem: z.string().optional(),
      series: z.array(alarmSeriesSchema),
    })
    .nullable(),
  /** The rollout's transitions in the model's history, oldest first. */
  transitions: z.array(transitionSchema),
});

const shadowAnswerSchema = z.object({
  status: z.number().int().optional(),
  text: z.string().max(2000),
  outputChars: count,
  completionTokens: count.optional(),
  latencyMs: amount,
  error: z.string().optional(),
});

/** shadow.json (CheckShadow): the shadow's settings, its verdict and the gateway's paired answers. */
const shadowDocumentSchema = z.object({
  ...owner,
  model: z.string(),
  percent: amount,
  seconds: amount,
  since: z.string().optional(),
  stableVersion: z.string().optional(),
  verdict: z.object({ rollback: z.boolean(), reason: z.string() }),
  samples: z.union([
    z.object({
      version: z.string(),
      percent: amount,
      mirrored: count,
      dropped: count,
      failed: count,
      pairs: z
        .array(
          z.object({
            at: z.string(),
            request: z.string().max(2000),
            stable: shadowAnswerSchema,
            candidate: shadowAnswerSchema,
          }),
        )
        .max(50),
    }),
    z.object({ unavailable: z.string() }),
  ]),
});

export type ValidationDocument = z.infer<typeof validationDocumentSchema>;
export type ShadowDocument = z.infer<typeof shadowDocumentSchema>;
export type OutcomeDocument = z.infer<typeof outcomeDocumentSchema>;
export type AlarmSeries = z.infer<typeof alarmSeriesSchema>;
export type EndState = (typeof END_STATES)[number];
export type StressDocument = z.infer<typeof stressDocumentSchema>;
export type EvalDocument = z.infer<typeof evalDocumentSchema>;
export type EvalSuiteEntry = EvalDocument["suites"][number];
export type EvalItem = z.infer<typeof evalItemSchema>;
export type LatencyStats = z.infer<typeof metricStatsSchema>;

const SCHEMAS = {
  validation: validationDocumentSchema,
  stress: stressDocumentSchema,
  eval: evalDocumentSchema,
  outcome: outcomeDocumentSchema,
  shadow: shadowDocumentSchema,
} as const;

export type DocumentKind = keyof typeof SCHEMAS;
/** The checked shape of one kind of document. */
export type DocumentOf<K extends DocumentKind> = z.infer<(typeof SCHEMAS)[K]>;

/** Problems listed by name; beyond this many, the rest are counted. */
const MAX_LISTED_PROBLEMS = 12;

/**
 * Checks a parsed document against what its stage writes and against the rollout it should belong to.
 * `value` is whatever JSON.parse returned.
 */
export function readReportDocument<K extends DocumentKind>(
  kind: K,
  key: string,
  value: unknown,
  rollout: Pick<RolloutIdentity, "id" | "version">,
): ReportDocument<DocumentOf<K>> {
  const parsed = SCHEMAS[kind].safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) =>
        `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(the document)"}: ${issue.message.replace(/^Invalid input: /, "")}`,
    );
    return { status: "unreadable", key, problems: capped(problems) };
  }
  const document = parsed.data as DocumentOf<K>;
  const stranger: string[] = [];
  if (document.rolloutId !== rollout.id) {
    stranger.push(`it is the report of rollout '${document.rolloutId}', not of '${rollout.id}'`);
  }
  if (document.version !== rollout.version) {
    stranger.push(`it is the report of version '${document.version}', not of '${rollout.version}'`);
  }
  if (stranger.length > 0) return { status: "unreadable", key, problems: stranger };
  return { status: "read", key, value: document };
}

function capped(problems: readonly string[]): string[] {
  if (problems.length <= MAX_LISTED_PROBLEMS) return [...problems];
  return [
    ...problems.slice(0, MAX_LISTED_PROBLEMS),
    `and ${problems.length - MAX_LISTED_PROBLEMS} more problems`,
  ];
}
