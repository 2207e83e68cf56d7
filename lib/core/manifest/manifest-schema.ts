// The manifest's shape (modelship.yaml / .json), as written by a user: every field optional, unknown keys
// rejected. Defaults come from the stack config (config.ts); `resolveManifest` in manifest.ts merges them
// into a ResolvedManifest that stages read without checking for undefined.
//
// Every field carries a description (and, where the stack config gives one, its default): they become the
// JSON Schema editors check modelship.yaml with (manifest-json-schema.ts), so a user reads them on hover. A
// stated default is read from MANIFEST_DEFAULTS (manifest-defaults.ts) here, never retyped, and a test checks that writing it
// changes nothing.

import { z } from "zod";
import {
  CAPACITY_MODES,
  type CapacityMode,
  DEFAULT_LINEAR_STEP_PERCENT,
  type RolloutStrategy,
  type ShadowSettings,
  HTTP_TOKEN_PATTERN,
  type Stickiness,
  MAX_CAPACITY_WAIT_SECONDS,
} from "./rollout-settings";
import { MANIFEST_DEFAULTS } from "./manifest-defaults";

/** `<name>` becomes a Kubernetes name: a DNS-1123 label, ≤ 63 chars, starting and ending alphanumeric. */
export const MODEL_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** `<version>` appears in S3 keys, labels and execution names. */
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** How long a hook may take, its retries included, when it does not say. */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 60;

const defaults = MANIFEST_DEFAULTS;
// Typed apart from the stack config, whose Slo type is inferred from sloSchema below: no circular type.
const sloDefaults: { readonly errorRate?: number } = defaults.gates.stress.slo;

/**
 * A description that states the stack's default, and the same value as the JSON Schema `default` (an editor
 * offers it on completion). A stack may set its own defaults (the ModelPipeline construct's props, the local
 * config.json), so the text says whose default it is.
 */
function stackDefault(description: string, value: unknown): { description: string; default: unknown } {
  return {
    description: `${description} Default: ${JSON.stringify(value)} (the stack's default).`,
    default: value,
  };
}

/** A description with a default that is modelship's own, not the stack's. */
function fixedDefault(description: string, value: unknown): { description: string; default: unknown } {
  return { description: `${description} Default: ${JSON.stringify(value)}.`, default: value };
}

const positiveInt = z.number().int().positive();
/** A canary weight: a whole percent, as HTTPRoute backendRef weights and the local gateway take them. */
const percent = z.number().int().gt(0).lte(100);

export const chatMessageSchema = z.strictObject({
  role: z.enum(["system", "user", "assistant"]).describe("Who says it: system, user or assistant."),
  content: z.string().describe("The message's text."),
});

/** Where in a rollout a hook runs (core/gates/hooks.ts): before any traffic, after each canary step, before and after promotion. */
export const HOOK_POINTS = ["preTraffic", "eachStep", "prePromote", "postPromote"] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/**
 * A rollout hook: a function the stack allow-lists (`lambda`) or an HTTPS endpoint (`url`) that judges the
 * candidate at one point of the rollout; core/gates/hooks.ts resolves and checks it against the stack config.
 */
export const hookSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_' or '-'")
    .describe("The hook's name in events and reports: 1-64 letters, digits, '.', '_' or '-'."),
  at: z
    .enum(HOOK_POINTS)
    .describe(
      "When it runs: preTraffic (after the gates, before any traffic), eachStep (after each canary step's bake), prePromote, postPromote.",
    ),
  lambda: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "a Lambda function name: 1-64 letters, digits, '_' or '-'")
    .optional()
    .describe(
      "The name of a function on the stack's hook allow-list (locally: a hook command in config.json). Exactly one of lambda and url.",
    ),
  url: z
    .string()
    .min(1)
    .max(2048)
    .optional()
    .describe(
      "An HTTPS endpoint the request is POSTed to, signed with the stack's hook key (the stack must allow URL hooks). Exactly one of lambda and url.",
    ),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(600)
    .optional()
    .meta(
      fixedDefault(
        "Seconds the hook may take in all, its retries included (1-600).",
        DEFAULT_HOOK_TIMEOUT_SECONDS,
      ),
    ),
  onFailure: z
    .enum(["rollback", "ignore"])
    .optional()
    .meta(
      fixedDefault(
        "rollback: a failing hook ends the rollout; ignore: it is recorded and the rollout goes on.",
        "rollback",
      ),
    ),
});

export const smokePromptSchema = z.strictObject({
  messages: z
    .array(chatMessageSchema)
    .min(1)
    .optional()
    .describe("A chat prompt (exercises the chat template). Exactly one of messages and prompt."),
  prompt: z
    .string()
    .min(1)
    .optional()
    .describe("A plain completion prompt. Exactly one of messages and prompt."),
  expectContains: z.string().optional().describe("The answer must contain this text (case-insensitive)."),
  maxTokens: positiveInt.max(4096).optional().describe("The most tokens the answer may have (1-4096)."),
});

export const sloSchema = z.strictObject({
  ttftP95Ms: z.number().positive().optional().describe("The highest p95 time to first token, in ms."),
  tpotP95Ms: z.number().positive().optional().describe("The highest p95 time per output token, in ms."),
  e2eP95Ms: z.number().positive().optional().describe("The highest p95 end-to-end request time, in ms."),
  errorRate: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .meta(stackDefault("The highest fraction of failed requests, 0..1.", sloDefaults.errorRate)),
  minOutputTokensPerSecond: z
    .number()
    .positive()
    .optional()
    .describe("The lowest output tokens per second over all requests."),
  maxRegressionRatio: z
    .number()
    .gte(1)
    .optional()
    .describe(
      "Allowed slowdown against the stable version's stored stress result, e.g. 1.2 = 20% slower; unset: no comparison.",
    ),
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
    mode: z.enum(["auto", "manual"]).describe("auto: no approval; manual: wait for a person's."),
    at: z
      .enum(APPROVAL_POINTS)
      .optional()
      .meta(
        stackDefault(
          "Where the rollout waits: beforeTraffic (after the gates) or beforePromote (before 100%).",
          defaults.rollout.approval.at,
        ),
      ),
    timeoutSeconds: positiveInt
      .max(MAX_APPROVAL_TIMEOUT_SECONDS)
      .optional()
      .meta(
        stackDefault(
          `Seconds to wait for the approval before the rollout is rolled back (at most ${MAX_APPROVAL_TIMEOUT_SECONDS}, 7 days).`,
          defaults.rollout.approval.timeoutSeconds,
        ),
      ),
  }),
]);

export const evalSuiteSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, "a suite name: letters, digits, '.', '_' or '-'")
    .describe("The suite: evals/<name>.jsonl in the bucket, or the built-in 'sanity'."),
  minScore: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .meta(stackDefault("The lowest accuracy that passes, 0..1.", defaults.evalSuite.minScore)),
  maxRegression: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .meta(
      stackDefault(
        "The largest drop in accuracy against the stable version on the same items, 0..1.",
        defaults.evalSuite.maxRegression,
      ),
    ),
});

const STICKINESS_NAME =
  "an HTTP header or cookie name: 1–128 letters, digits or !#$%&'*+-.^_`|~ (no spaces, ':' or '=')";

export const canaryStepSchema = z.union([
  percent,
  z.strictObject({
    weight: percent.describe("The candidate's share of traffic, in percent (1-100)."),
    bakeSeconds: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Seconds this step bakes under the alarms; unset: rollout.bakeSeconds."),
  }),
]);

/**
 * What an alarm watches: `traffic` (real traffic, from the serving pods' metrics or the stack's
 * Prometheus), `probe` (the prober's chats), `both` (one alarm on each; either rolls back), or `auto`: real
 * traffic in a period in which the candidate served at least `minRequests` requests, the prober's otherwise.
 */
export const ALARM_SOURCES = ["auto", "traffic", "probe", "both"] as const;
export type AlarmSource = (typeof ALARM_SOURCES)[number];
const ALARM_SOURCE_TEXT =
  "What the alarm watches: traffic (real traffic's metrics), probe (the prober's chats), both (an alarm on each), or auto (real traffic in a period with at least minRequests requests, the prober's otherwise).";
const alarmSource = z.enum(ALARM_SOURCES);

/** An alarm's threshold, alone or with the source it watches: `2000` or `{threshold: 2000, source: traffic}`. */
function thresholdSchema(value: z.ZodNumber) {
  return z.union([
    value,
    z.strictObject({
      threshold: value.describe("The alarm's threshold."),
      source: alarmSource.optional().describe(`${ALARM_SOURCE_TEXT} Unset: rollout.alarms.source.`),
    }),
  ]);
}

export const alarmsSchema = z.strictObject({
  latencyP95Ms: thresholdSchema(z.number().positive())
    .optional()
    .meta(
      stackDefault(
        "Roll back when the candidate's p95 latency, in ms, is above this (or {threshold, source}).",
        defaults.rollout.alarms.latencyP95Ms,
      ),
    ),
  errorRate: thresholdSchema(z.number().min(0).max(1))
    .optional()
    .meta(
      stackDefault(
        "Roll back when the candidate's fraction of failed requests, 0..1, is above this (or {threshold, source}).",
        defaults.rollout.alarms.errorRate,
      ),
    ),
  ttftP95Ms: thresholdSchema(z.number().positive())
    .optional()
    .describe(
      "Roll back when real traffic's p95 time to first token, in ms, is above this (the prober does not stream, so it cannot measure it); unset: no TTFT alarm.",
    ),
  vsStable: z
    .strictObject({
      latencyP95Ratio: z
        .number()
        .gt(1)
        .optional()
        .meta(
          stackDefault(
            "Roll back when the candidate's p95 latency is more than this times the stable's in the same window.",
            defaults.rollout.alarms.vsStable?.latencyP95Ratio,
          ),
        ),
      errorRateDelta: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .meta(
          stackDefault(
            "Roll back when the candidate's error rate is more than this above the stable's, 0..1.",
            defaults.rollout.alarms.vsStable?.errorRateDelta,
          ),
        ),
      source: alarmSource.optional().describe(`${ALARM_SOURCE_TEXT} Unset: rollout.alarms.source.`),
    })
    .optional()
    .describe("Alarms relative to the stable version, when there is one."),
  source: alarmSource
    .optional()
    .meta(stackDefault(`${ALARM_SOURCE_TEXT} For every alarm that does not name its own.`, "auto")),
  minRequests: positiveInt
    .optional()
    .meta(
      stackDefault(
        "For source auto: the fewest real requests in a period for real traffic to decide it.",
        defaults.rollout.alarms.minRequests,
      ),
    ),
  periodSeconds: positiveInt
    .optional()
    .meta(
      stackDefault(
        "The alarms' period: 10, 20 or 30 (high resolution) or a multiple of 60.",
        defaults.rollout.alarms.periodSeconds,
      ),
    ),
  datapointsToAlarm: positiveInt
    .optional()
    .meta(
      stackDefault(
        "Breaching periods (of evaluationPeriods) that set an alarm off.",
        defaults.rollout.alarms.datapointsToAlarm,
      ),
    ),
  evaluationPeriods: positiveInt
    .optional()
    .meta(stackDefault("Periods an alarm looks back over.", defaults.rollout.alarms.evaluationPeriods)),
  treatMissingData: z
    .enum(["breaching", "notBreaching", "ignore", "missing"])
    .optional()
    .meta(
      stackDefault(
        "How CloudWatch counts a period without data (the no-data guard still rolls back a candidate nobody can measure).",
        defaults.rollout.alarms.treatMissingData,
      ),
    ),
});

/** The most replicas a version may run: a bound on what one upload can make the cluster schedule. */
export const MAX_REPLICAS = 64;

/**
 * What an autoscaler watches, per replica: `queueDepth` — requests waiting (vLLM's `vllm:num_requests_waiting`;
 * locally, requests waiting in the gateway); `kvCacheUsage` — the share of the KV cache in use, 0..1
 * (`vllm:kv_cache_usage_perc`); `inFlight` — requests being served (`vllm:num_requests_running`).
 */
export const AUTOSCALING_METRICS = ["queueDepth", "kvCacheUsage", "inFlight"] as const;
export type AutoscalingMetric = (typeof AUTOSCALING_METRICS)[number];

export const autoscalingSchema = z
  .strictObject({
    minReplicas: z
      .number()
      .int()
      .min(0)
      .max(MAX_REPLICAS)
      .describe(
        "The fewest replicas. At least 1: the version becomes the stable, and scaling it to zero would make a cold start the users' outage.",
      ),
    maxReplicas: positiveInt
      .max(MAX_REPLICAS)
      .describe(`The most replicas, at least minReplicas and at most ${MAX_REPLICAS}.`),
    metric: z
      .enum(AUTOSCALING_METRICS)
      .describe(
        "What to scale on, per replica: queueDepth (requests waiting), kvCacheUsage (share of the KV cache in use, 0..1) or inFlight (requests being served).",
      ),
    target: z
      .number()
      .positive()
      .describe(
        "The metric's value per replica to scale to, e.g. 4 waiting requests, or 0.7 for kvCacheUsage (a share, at most 1).",
      ),
    cooldownSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .optional()
      .meta(
        fixedDefault(
          "Seconds the load must stay low before replicas are removed (scale-down stabilization).",
          300,
        ),
      ),
  })
  .describe(
    "Scale the version's replicas with its load between minReplicas and maxReplicas; instead of a fixed `replicas`.",
  );

export const manifestSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        MODEL_NAME_PATTERN,
        "a model name: lowercase letters, digits and '-', 1–63 characters, starting and ending with a letter or digit",
      )
      .optional()
      .describe(
        "The model's name: lowercase letters, digits and '-', 1-63 characters. Unset: from the key models/<name>/<version>/ (must match it when set).",
      ),
    version: z
      .string()
      .regex(MODEL_VERSION_PATTERN, "a version: [A-Za-z0-9._-]{1,64}")
      .optional()
      .describe(
        "The version: 1-64 letters, digits, '.', '_' or '-'. Unset: from the key models/<name>/<version>/ (must match it when set).",
      ),
    format: z
      .enum(["safetensors", "gguf"])
      .optional()
      .describe("The weights' format. Unset: inferred from the files."),
    files: z
      .array(
        z.strictObject({
          path: z.string().min(1).describe("The file's path inside the model folder."),
          size: z.number().int().min(0).describe("Its size in bytes."),
          sha256: z
            .string()
            .regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters")
            .optional()
            .describe("Its SHA-256, 64 lowercase hex characters; checked where S3 has the checksum."),
        }),
      )
      .optional()
      .describe("The files of the model with their sizes (written by `modelship push`); each is checked."),
    serving: z
      .strictObject({
        runtime: z
          .enum(["vllm", "llama.cpp"])
          .optional()
          .describe(
            "The server: vllm (safetensors or GGUF on GPUs) or llama.cpp (GGUF). Unset: implied by image or format, else chosen from the weights (safetensors: vllm, GGUF: llama.cpp).",
          ),
        image: z
          .string()
          .min(1)
          .optional()
          .describe(
            "The server's container image; must be on the stack's allowed-image list. Unset: the stack's first image for the runtime.",
          ),
        gpus: z
          .union([z.literal("auto"), positiveInt.max(64)])
          .optional()
          .meta(
            stackDefault(
              "GPUs per replica (1-64), or auto: sized from the weights and the context.",
              defaults.serving.gpus,
            ),
          ),
        maxModelLen: positiveInt
          .optional()
          .describe(
            `The longest context served, in tokens. Unset: the model's own (config.json or the GGUF header), capped at the stack's ${defaults.serving.maxModelLen}.`,
          ),
        extraArgs: z
          .array(z.string())
          .optional()
          .meta(
            stackDefault(
              "Extra server flags; only flags on the stack's allow-list.",
              defaults.serving.extraArgs,
            ),
          ),
        trustRemoteCode: z
          .boolean()
          .optional()
          .meta(
            stackDefault(
              "Run the model's own Python code (vLLM --trust-remote-code); only if the stack allows it.",
              defaults.serving.trustRemoteCode,
            ),
          ),
        replicas: positiveInt
          .max(MAX_REPLICAS)
          .optional()
          .meta(
            fixedDefault(
              "A fixed number of replicas (servers) of the version once it serves all traffic. Not with autoscaling.",
              1,
            ),
          ),
        autoscaling: autoscalingSchema.optional(),
      })
      .optional()
      .describe("How the candidate is served."),
    gates: z
      .strictObject({
        smoke: z
          .strictObject({
            enabled: z
              .boolean()
              .optional()
              .meta(stackDefault("Run the smoke test.", defaults.gates.smoke.enabled)),
            prompts: z
              .array(smokePromptSchema)
              .optional()
              .meta(
                stackDefault(
                  "Prompts each answered with status 200, non-empty text and a valid finish reason; none: a built-in prompt.",
                  defaults.gates.smoke.prompts,
                ),
              ),
            rejectDegenerate: z
              .boolean()
              .optional()
              .meta(
                stackDefault(
                  "Fail on degenerate output (one token repeated, mostly U+FFFD). Random-weight test models need false.",
                  defaults.gates.smoke.rejectDegenerate,
                ),
              ),
          })
          .optional()
          .describe("The smoke test: the candidate answers a few prompts sensibly."),
        stress: z
          .strictObject({
            enabled: z
              .boolean()
              .optional()
              .meta(stackDefault("Run the stress test.", defaults.gates.stress.enabled)),
            mode: z
              .enum(["concurrency", "rate"])
              .optional()
              .meta(
                stackDefault(
                  "concurrency: keep this many requests in flight; rate: send rate requests per second (open loop).",
                  defaults.gates.stress.mode,
                ),
              ),
            concurrency: positiveInt
              .optional()
              .meta(
                stackDefault("Requests in flight in concurrency mode.", defaults.gates.stress.concurrency),
              ),
            rate: z
              .number()
              .positive()
              .optional()
              .meta(
                stackDefault(
                  "Requests per second in rate mode (which must set it).",
                  defaults.gates.stress.rate,
                ),
              ),
            burstiness: z
              .number()
              .positive()
              .optional()
              .meta(
                stackDefault(
                  "Gamma shape of the arrival gaps in rate mode: 1 = Poisson.",
                  defaults.gates.stress.burstiness,
                ),
              ),
            durationSeconds: positiveInt
              .optional()
              .meta(stackDefault("Seconds of measured load.", defaults.gates.stress.durationSeconds)),
            warmupSeconds: z
              .number()
              .int()
              .min(0)
              .optional()
              .meta(stackDefault("Seconds of load before measuring.", defaults.gates.stress.warmupSeconds)),
            inputTokens: positiveInt
              .optional()
              .meta(
                stackDefault(
                  "Synthetic prompts' length, in approximate tokens (not with prompts).",
                  defaults.gates.stress.inputTokens,
                ),
              ),
            outputTokens: positiveInt
              .optional()
              .meta(stackDefault("Tokens each request asks for.", defaults.gates.stress.outputTokens)),
            prompts: z
              .string()
              .regex(/^[A-Za-z0-9._-]{1,128}$/, "a prompt set name: letters, digits, '.', '_' or '-'")
              .optional()
              .describe(
                "A prompt set in the bucket, prompts/<name>.jsonl, sent instead of synthetic prompts.",
              ),
            workers: positiveInt
              .max(40)
              .optional()
              .meta(
                stackDefault("Load workers, each sending its share (1-40).", defaults.gates.stress.workers),
              ),
            slo: sloSchema.optional().describe("The service levels the candidate must meet under load."),
          })
          .optional()
          .describe("The stress test: streaming load against the candidate, gated on SLOs."),
        eval: z
          .strictObject({
            enabled: z
              .boolean()
              .optional()
              .meta(stackDefault("Run the eval suites.", defaults.gates.eval.enabled)),
            suites: z
              .array(evalSuiteSchema)
              .optional()
              .meta(
                stackDefault(
                  "Eval suites, each scored and compared with the stable version on the same items.",
                  defaults.gates.eval.suites,
                ),
              ),
            maxTokens: positiveInt
              .max(32768)
              .optional()
              .describe(
                "The most tokens any item may generate (an item asking for more gets this); unset: each item's own.",
              ),
            maxErrorRate: z
              .number()
              .min(0)
              .max(1)
              .optional()
              .meta(
                stackDefault(
                  "The largest share of a suite's items that may get no answer, 0..1; past it the suite could not be evaluated.",
                  defaults.gates.eval.maxErrorRate,
                ),
              ),
          })
          .optional()
          .describe("The eval gate: accuracy on eval suites, and no regression against the stable version."),
        hooks: z
          .array(hookSchema)
          .max(20)
          .optional()
          .describe("Checks of your own at points of the rollout, at most 20."),
      })
      .optional()
      .describe("The gates a candidate must pass before any traffic."),
    rollout: z
      .strictObject({
        steps: z
          .array(canaryStepSchema)
          .min(1)
          .optional()
          .meta(
            stackDefault(
              "The canary's steps: percent to the candidate, rising, or {weight, bakeSeconds}; a last step below 100 is followed by 100.",
              defaults.rollout.steps,
            ),
          ),
        bakeSeconds: z
          .number()
          .int()
          .min(0)
          .optional()
          .meta(stackDefault("Seconds each step bakes under the alarms.", defaults.rollout.bakeSeconds)),
        watchSeconds: z
          .number()
          .int()
          .min(0)
          .optional()
          .meta(
            stackDefault(
              "Seconds after 100% with the old stable kept warm and the alarms armed.",
              defaults.rollout.watchSeconds,
            ),
          ),
        alarms: alarmsSchema.optional().describe("The alarms that roll the candidate back."),
        approval: approvalSchema
          .optional()
          .meta(
            stackDefault(
              "auto, manual (wait for a person's approval), or {mode, at, timeoutSeconds}.",
              defaults.rollout.approval.mode,
            ),
          ),
        strategy: z
          .enum(["canary", "linear", "blueGreen"])
          .optional()
          .meta(
            fixedDefault(
              "How traffic moves to the candidate: canary (rollout.steps), linear (rollout.linear), or blueGreen (all at once).",
              "canary",
            ),
          ),
        linear: z
          .strictObject({
            stepPercent: positiveInt
              .max(100)
              .optional()
              .meta(fixedDefault("Percent more traffic each step.", DEFAULT_LINEAR_STEP_PERCENT)),
            intervalSeconds: z
              .number()
              .int()
              .min(0)
              .optional()
              .describe("Seconds each step bakes; unset: rollout.bakeSeconds."),
          })
          .optional()
          .describe("The linear strategy's step and interval; only with strategy: linear."),
        stickiness: z
          .strictObject({
            header: z
              .string()
              .regex(HTTP_TOKEN_PATTERN, STICKINESS_NAME)
              .optional()
              .describe(
                "The request header that carries the conversation's key. Exactly one of header and cookie.",
              ),
            cookie: z
              .string()
              .regex(HTTP_TOKEN_PATTERN, STICKINESS_NAME)
              .optional()
              .describe("The cookie that carries the conversation's key. Exactly one of header and cookie."),
          })
          .refine((keys) => (keys.header === undefined) !== (keys.cookie === undefined), {
            message:
              "expected exactly one of 'header' and 'cookie', the name of the request's conversation key, e.g. {header: x-session-id} or {cookie: session}",
          })
          .optional()
          .describe(
            "During a canary, requests carrying this header's or cookie's value stay on the version it hashes to; unset: every request by weight.",
          ),
        shadow: z
          .strictObject({
            percent: z
              .number()
              .int()
              .min(1)
              .max(100)
              .describe("The share of the stable's real requests copied to the candidate, 1..100."),
            seconds: z
              .number()
              .int()
              .min(0)
              .optional()
              .describe("How long the shadow lasts, judged by the alarms; unset: rollout.bakeSeconds."),
          })
          .optional()
          .describe(
            "Before any user sees the candidate (before the first canary step, or blue/green's switch), copy a share of the stable's requests to it, answers thrown away, under the same alarms; unset: no shadow.",
          ),
        capacity: z
          .enum(CAPACITY_MODES)
          .optional()
          .meta(
            fixedDefault(
              "surge: the stable keeps its full size through the canary; constrained: the stable shrinks as the candidate grows, so the rollout never runs more than the stable's replicas + 1.",
              "surge",
            ),
          ),
        capacityWaitSeconds: z
          .number()
          .int()
          .min(0)
          .max(MAX_CAPACITY_WAIT_SECONDS)
          .optional()
          .meta(
            stackDefault(
              `Seconds the rollout waits, before deploying anything, for the GPUs (locally: the server slots, local.maxServers) its capacity plan needs; then it fails InsufficientCapacity. 0: fail at once. At most ${MAX_CAPACITY_WAIT_SECONDS}.`,
              defaults.rollout.capacityWaitSeconds,
            ),
          ),
        allowShortBakes: z
          .boolean()
          .optional()
          .meta(
            fixedDefault(
              "Go on, with a warning, when a bake or the watch is shorter than the alarms need to fire.",
              false,
            ),
          ),
      })
      .optional()
      .describe("How traffic moves to the candidate, and what rolls it back."),
  })
  .meta({
    title: "modelship.yaml",
    description:
      "A model's rollout settings, next to its weights (models/<name>/<version>/modelship.yaml). Every field is optional; unset fields take the stack's defaults. This schema checks each field's type and range; rules across fields (canary steps rising, rate mode naming its rate, a smoke prompt with exactly one of messages and prompt, stickiness with exactly one of header and cookie, one strategy's settings) and the stack's allow-lists (images, extraArgs, trustRemoteCode, hooks) are checked by modelship itself: run `modelship validate <folder>`.",
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
 * stage chooses them from the weights (core/weights/serving-choice), and DeployCandidate serves what it chose.
 */
export interface ResolvedServing {
  /**
   * How many replicas serve the version once it takes all traffic: a fixed count, or an autoscaler's range.
   * During a canary the capacity plan (core/capacity/capacity-plan) decides the counts.
   */
  readonly scaling: ResolvedScaling;
  readonly runtime?: Runtime;
  readonly image?: string;
  readonly gpus: "auto" | number;
  readonly maxModelLen?: number;
  readonly extraArgs: readonly string[];
  readonly trustRemoteCode: boolean;
}

/** A fixed replica count, or an autoscaler on a per-replica metric (minReplicas ≥ 1). */
export type ResolvedScaling =
  | { readonly kind: "fixed"; readonly replicas: number }
  | {
      readonly kind: "autoscaling";
      readonly minReplicas: number;
      readonly maxReplicas: number;
      readonly metric: AutoscalingMetric;
      readonly target: number;
      readonly cooldownSeconds: number;
    };

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
  /** Whether the stable shrinks as the candidate grows (core/capacity/capacity-plan). */
  readonly capacity: CapacityMode;
  /** The canary steps the strategy makes: the manifest's, linear's, or none for blue/green. */
  readonly steps: readonly CanaryStep[];
  readonly bakeSeconds: number;
  readonly watchSeconds: number;
  /** Seconds to wait for the capacity the plan needs before InsufficientCapacity; 0 fails at once. */
  readonly capacityWaitSeconds: number;
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
