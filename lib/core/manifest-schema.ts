// The manifest's shape (modelship.yaml / .json), as written by a user: every field optional, unknown keys
// rejected. Defaults come from the stack config (config.ts); `resolveManifest` in manifest.ts merges them
// into a ResolvedManifest that stages read without checking for undefined.

import { z } from "zod";
import type { RolloutStrategy } from "./rollout-strategy";
import type { ShadowSettings } from "./shadow";
import { HTTP_TOKEN_PATTERN, type Stickiness } from "./sticky-routing";

/** `<name>` becomes a Kubernetes name: a DNS-1123 label, ≤ 63 chars, starting and ending alphanumeric. */
export const MODEL_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** `<version>` appears in S3 keys, labels and execution names. */
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const positiveInt = z.number().int().positive();
/** A canary weight: a whole percent, as HTTPRoute backendRef weights and the local gateway take them. */
const percent = z.number().int().gt(0).lte(100);

export const chatMessageSchema = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

/** Where in a rollout a hook runs (core/hooks.ts): before any traffic, after each canary step, before and after promotion. */
export const HOOK_POINTS = ["preTraffic", "eachStep", "prePromote", "postPromote"] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/**
 * A rollout hook: a function the stack allow-lists (`lambda`) or an HTTPS endpoint (`url`) that judges the
 * candidate at one point of the rollout; core/hooks.ts resolves and checks it against the stack config.
 */
export const hookSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_' or '-'"),
  at: z.enum(HOOK_POINTS),
  /** The name of a function on the stack's allow-list (locally: a hook command in config.json). */
  lambda: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "a Lambda function name: 1-64 letters, digits, '_' or '-'")
    .optional(),
  url: z.string().min(1).max(2048).optional(),
  /** Seconds the hook may take in all, its retries included. */
  timeoutSeconds: z.number().int().min(1).max(600).optional(),
  /** `rollback` (the default): a failing hook ends the rollout; `ignore`: it is recorded and the rollout goes on. */
  onFailure: z.enum(["rollback", "ignore"]).optional(),
});

export const smokePromptSchema = z.strictObject({
  /** A chat prompt (exercises the chat template). */
  messages: z.array(chatMessageSchema).min(1).optional(),
  /** A plain completion prompt. */
  prompt: z.string().min(1).optional(),
  /** The answer must contain this text (case-insensitive). */
  expectContains: z.string().optional(),
  maxTokens: positiveInt.max(4096).optional(),
});

export const sloSchema = z.strictObject({
  ttftP95Ms: z.number().positive().optional(),
  tpotP95Ms: z.number().positive().optional(),
  e2eP95Ms: z.number().positive().optional(),
  /** Fraction of failed requests, 0..1. */
  errorRate: z.number().min(0).max(1).optional(),
  minOutputTokensPerSecond: z.number().positive().optional(),
  /** Allowed slowdown against the stable version's stored stress result, e.g. 1.2 = 20% slower. */
  maxRegressionRatio: z.number().gte(1).optional(),
});

/** Where a manual approval holds the rollout: after the gates, before any traffic moves; or before the promotion. */
export const APPROVAL_POINTS = ["beforeTraffic", "beforePromote"] as const;
export type ApprovalPoint = (typeof APPROVAL_POINTS)[number];

/**
 * The longest an approval may wait: 7 days. Step Functions would hold the task for up to a year, but the
 * candidate's workload (a GPU pod) runs all that time, so a longer wait is far more likely a mistake; and
 * the local executor times the wait with one Node timer, which takes at most 2^31 − 1 ms (24.8 days).
 */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** `auto`, `manual`, or `{mode, at, timeoutSeconds}`. */
export const approvalSchema = z.union([
  z.enum(["auto", "manual"]),
  z.strictObject({
    mode: z.enum(["auto", "manual"]),
    at: z.enum(APPROVAL_POINTS).optional(),
    timeoutSeconds: positiveInt.max(MAX_APPROVAL_TIMEOUT_SECONDS).optional(),
  }),
]);

export const evalSuiteSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "a suite name: letters, digits, '.', '_' or '-'"),
  minScore: z.number().min(0).max(1).optional(),
  maxRegression: z.number().min(0).max(1).optional(),
});

const STICKINESS_NAME =
  "an HTTP header or cookie name: 1–128 letters, digits or !#$%&'*+-.^_`|~ (no spaces, ':' or '=')";

export const canaryStepSchema = z.union([
  percent,
  z.strictObject({ weight: percent, bakeSeconds: z.number().int().min(0).optional() }),
]);

/**
 * What an alarm watches: `traffic` (real traffic, from the serving pods' metrics or the stack's
 * Prometheus), `probe` (the prober's chats), `both` (one alarm on each; either rolls back), or `auto`: real
 * traffic in a period in which the candidate served at least `minRequests` requests, the prober's otherwise.
 */
export const ALARM_SOURCES = ["auto", "traffic", "probe", "both"] as const;
export type AlarmSource = (typeof ALARM_SOURCES)[number];
const alarmSource = z.enum(ALARM_SOURCES);

/** An alarm's threshold, alone or with the source it watches: `2000` or `{threshold: 2000, source: traffic}`. */
function thresholdSchema(value: z.ZodNumber) {
  return z.union([value, z.strictObject({ threshold: value, source: alarmSource.optional() })]);
}

export const alarmsSchema = z.strictObject({
  latencyP95Ms: thresholdSchema(z.number().positive()).optional(),
  /** Fraction of failed requests, 0..1. */
  errorRate: thresholdSchema(z.number().min(0).max(1)).optional(),
  /** p95 time to first token of real traffic (the prober does not stream, so it cannot measure it). */
  ttftP95Ms: thresholdSchema(z.number().positive()).optional(),
  vsStable: z
    .strictObject({
      latencyP95Ratio: z.number().gt(1).optional(),
      errorRateDelta: z.number().min(0).max(1).optional(),
      source: alarmSource.optional(),
    })
    .optional(),
  /** The source of every alarm that does not name its own. */
  source: alarmSource.optional(),
  /** `auto`: the fewest real requests in a period for real traffic to decide it. */
  minRequests: positiveInt.optional(),
  periodSeconds: positiveInt.optional(),
  datapointsToAlarm: positiveInt.optional(),
  evaluationPeriods: positiveInt.optional(),
  treatMissingData: z.enum(["breaching", "notBreaching", "ignore", "missing"]).optional(),
});

export const manifestSchema = z.strictObject({
  name: z
    .string()
    .regex(
      MODEL_NAME_PATTERN,
      "a model name: lowercase letters, digits and '-', 1–63 characters, starting and ending with a letter or digit",
    )
    .optional(),
  version: z.string().regex(MODEL_VERSION_PATTERN, "a version: [A-Za-z0-9._-]{1,64}").optional(),
  format: z.enum(["safetensors", "gguf"]).optional(),
  files: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        size: z.number().int().min(0),
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters")
          .optional(),
      }),
    )
    .optional(),
  serving: z
    .strictObject({
      runtime: z.enum(["vllm", "llama.cpp"]).optional(),
      image: z.string().min(1).optional(),
      gpus: z.union([z.literal("auto"), positiveInt.max(64)]).optional(),
      maxModelLen: positiveInt.optional(),
      extraArgs: z.array(z.string()).optional(),
      trustRemoteCode: z.boolean().optional(),
    })
    .optional(),
  gates: z
    .strictObject({
      smoke: z
        .strictObject({
          enabled: z.boolean().optional(),
          prompts: z.array(smokePromptSchema).optional(),
          /** Fail on degenerate output (one token repeated, mostly U+FFFD). Random-weight test models need false. */
          rejectDegenerate: z.boolean().optional(),
        })
        .optional(),
      stress: z
        .strictObject({
          enabled: z.boolean().optional(),
          mode: z.enum(["concurrency", "rate"]).optional(),
          concurrency: positiveInt.optional(),
          /** Requests per second in rate mode. */
          rate: z.number().positive().optional(),
          /** Gamma shape of the arrival gaps in rate mode: 1 = Poisson. */
          burstiness: z.number().positive().optional(),
          durationSeconds: positiveInt.optional(),
          warmupSeconds: z.number().int().min(0).optional(),
          inputTokens: positiveInt.optional(),
          outputTokens: positiveInt.optional(),
          /** A prompt set in the bucket, `prompts/<name>.jsonl`, sent instead of synthetic prompts. */
          prompts: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,128}$/, "a prompt set name: letters, digits, '.', '_' or '-'")
            .optional(),
          /** Load workers (the Map's width). */
          workers: positiveInt.max(40).optional(),
          slo: sloSchema.optional(),
        })
        .optional(),
      eval: z
        .strictObject({
          enabled: z.boolean().optional(),
          suites: z.array(evalSuiteSchema).optional(),
          /** The most tokens any item may generate (an item asking for more gets this): cost, and small contexts. */
          maxTokens: positiveInt.max(32768).optional(),
          /** The largest share of a suite's items that may get no answer, 0..1; past it the suite could not be evaluated. */
          maxErrorRate: z.number().min(0).max(1).optional(),
        })
        .optional(),
      /** Checks of the user's own at points of the rollout (core/hooks.ts); at most 20. */
      hooks: z.array(hookSchema).max(20).optional(),
    })
    .optional(),
  rollout: z
    .strictObject({
      steps: z.array(canaryStepSchema).min(1).optional(),
      bakeSeconds: z.number().int().min(0).optional(),
      watchSeconds: z.number().int().min(0).optional(),
      alarms: alarmsSchema.optional(),
      /** `manual`: the rollout waits for a person's approval (`at` and `timeoutSeconds` in the object form). */
      approval: approvalSchema.optional(),
      /** How traffic moves to the candidate (core/rollout-strategy): canary steps, linear, or blue/green. */
      strategy: z.enum(["canary", "linear", "blueGreen"]).optional(),
      /** The linear strategy's step and interval; only with `strategy: linear`. */
      linear: z
        .strictObject({
          stepPercent: positiveInt.max(100).optional(),
          intervalSeconds: z.number().int().min(0).optional(),
        })
        .optional(),
      /** During a canary, requests carrying this header's or cookie's value stay on the version it hashes to. */
      stickiness: z
        .strictObject({
          header: z.string().regex(HTTP_TOKEN_PATTERN, STICKINESS_NAME).optional(),
          cookie: z.string().regex(HTTP_TOKEN_PATTERN, STICKINESS_NAME).optional(),
        })
        .refine((keys) => (keys.header === undefined) !== (keys.cookie === undefined), {
          message:
            "expected exactly one of 'header' and 'cookie', the name of the request's conversation key, e.g. {header: x-session-id} or {cookie: session}",
        })
        .optional(),
      /**
       * Before the first canary step (blue/green: before the switch), `percent` of the stable's real requests
       * are copied to the candidate for `seconds`, its answers thrown away, judged by the alarms (core/shadow.ts).
       */
      shadow: z
        .strictObject({
          percent: z.number().int().min(1).max(100),
          seconds: z.number().int().min(0).optional(),
        })
        .optional(),
      /** Go on, with a warning, when a bake or the watch is shorter than the alarms need to fire. */
      allowShortBakes: z.boolean().optional(),
    })
    .optional(),
});

/** The manifest as written: everything optional. */
export type Manifest = z.infer<typeof manifestSchema>;
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type SmokePrompt = z.infer<typeof smokePromptSchema>;
export type Slo = z.infer<typeof sloSchema>;
export type CanaryStepInput = z.infer<typeof canaryStepSchema>;
export type HookInput = z.infer<typeof hookSchema>;

export type Runtime = "vllm" | "llama.cpp";

/**
 * The serving settings as the manifest decides them. `runtime`, `image` and `maxModelLen` are set only when
 * the manifest (or, for the runtime, its declared format or image) decides them; otherwise the Validate
 * stage chooses them from the weights (core/serving-choice), and DeployCandidate serves what it chose.
 */
export interface ResolvedServing {
  readonly runtime?: Runtime;
  readonly image?: string;
  readonly gpus: "auto" | number;
  readonly maxModelLen?: number;
  readonly extraArgs: readonly string[];
  readonly trustRemoteCode: boolean;
}

export interface ResolvedSmokeGate {
  readonly enabled: boolean;
  readonly prompts: readonly SmokePrompt[];
  readonly rejectDegenerate: boolean;
}

export interface ResolvedStressGate {
  readonly enabled: boolean;
  readonly mode: "concurrency" | "rate";
  readonly concurrency: number;
  readonly rate: number;
  readonly burstiness: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Synthetic prompts' length in approximate tokens; unused when `prompts` names a prompt set. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** The prompt set `prompts/<name>.jsonl` in the bucket, sent instead of synthetic prompts. */
  readonly prompts?: string;
  readonly workers: number;
  readonly slo: Slo;
}

export interface ResolvedEvalSuite {
  readonly name: string;
  readonly minScore: number;
  readonly maxRegression: number;
}

export interface ResolvedEvalGate {
  readonly enabled: boolean;
  readonly suites: readonly ResolvedEvalSuite[];
  /** Caps every item's `max_tokens`; unset: each item's own, else the runner's default. */
  readonly maxTokens?: number;
  /** A suite with a larger share of items without an answer fails as not evaluated, whatever its score. */
  readonly maxErrorRate: number;
}

/** A hook as it runs: what it calls, for how long at most, and what its failure does. */
export interface ResolvedHook {
  readonly name: string;
  readonly at: HookPoint;
  readonly target:
    { readonly kind: "function"; readonly name: string } | { readonly kind: "url"; readonly url: string };
  readonly timeoutSeconds: number;
  readonly onFailure: "rollback" | "ignore";
}

/** One canary step with its bake resolved. */
export interface CanaryStep {
  readonly weight: number;
  readonly bakeSeconds: number;
}

/** The source each alarm watches (TTFT watches real traffic only). */
export interface AlarmSources {
  readonly latencyP95Ms: AlarmSource;
  readonly errorRate: AlarmSource;
  readonly vsStable: AlarmSource;
}

export interface ResolvedAlarms {
  readonly latencyP95Ms: number;
  readonly errorRate: number;
  /** p95 time to first token of real traffic; undefined: no TTFT alarm. */
  readonly ttftP95Ms: number | undefined;
  readonly vsStable: { readonly latencyP95Ratio: number; readonly errorRateDelta: number } | undefined;
  readonly sources: AlarmSources;
  /** `auto` sources: real traffic decides a period with at least this many real requests. */
  readonly minRequests: number;
  readonly periodSeconds: number;
  readonly datapointsToAlarm: number;
  readonly evaluationPeriods: number;
  readonly treatMissingData: "breaching" | "notBreaching" | "ignore" | "missing";
}

/**
 * Whether a person must approve the rollout, where it waits (`at`) and for how long before it is rolled
 * back (`timeoutSeconds`); `at` and `timeoutSeconds` are resolved for `auto` too, and then unused.
 */
export interface ResolvedApproval {
  readonly mode: "auto" | "manual";
  readonly at: ApprovalPoint;
  readonly timeoutSeconds: number;
}

export interface ResolvedRollout {
  readonly strategy: RolloutStrategy;
  /** The canary steps the strategy makes: the manifest's, linear's, or none for blue/green. */
  readonly steps: readonly CanaryStep[];
  readonly bakeSeconds: number;
  readonly watchSeconds: number;
  readonly alarms: ResolvedAlarms;
  readonly approval: ResolvedApproval;
  /** The conversation key that keeps a request on one version during the canary; unset: every request by weight. */
  readonly stickiness?: Stickiness;
  /** Mirroring before any user sees the candidate (`seconds` defaults to bakeSeconds); unset: no shadow. */
  readonly shadow?: ShadowSettings;
}

/** The manifest with every default filled in: what stages read. */
export interface ResolvedManifest {
  readonly name: string;
  readonly version: string;
  readonly format: "safetensors" | "gguf" | undefined;
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256?: string }[];
  readonly serving: ResolvedServing;
  readonly gates: {
    readonly smoke: ResolvedSmokeGate;
    readonly stress: ResolvedStressGate;
    readonly eval: ResolvedEvalGate;
    readonly hooks: readonly ResolvedHook[];
  };
  readonly rollout: ResolvedRollout;
}
