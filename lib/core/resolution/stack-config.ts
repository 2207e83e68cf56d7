// The stack config a platform team writes (cdk.json context or `.modelship/config.json`): a partial config
// deep-merged over DEFAULT_STACK_CONFIG and validated, with the same findings as a manifest — the path,
// what was expected, the nearest known key for a typo — and every problem at once.
//
// Merge rules: mappings merge key by key; lists and plain values replace the default; `null` removes a
// default (e.g. `"vsStable": null` turns the comparison against stable off). When the partial names no
// `defaults.serving.image`, it is the first allowed image of the default runtime.

import { z } from "zod";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../config/config";
import { tolerationSchema } from "../config/toleration-schema";
import { type Finding, hasErrors } from "../findings";
import {
  checkAlarmTiming,
  checkCanarySteps,
  checkExtraArgs,
  checkImage,
  trustRemoteCodeRefused,
} from "./manifest-rules";
import { ruleFinding, type FindingSource, describeValue, findingsFromSchemaIssues } from "../schema-findings";
import { resolveApproval } from "./manifest";
import {
  ALARM_SOURCES,
  approvalSchema,
  canaryStepSchema,
  evalSuiteSchema,
  smokePromptSchema,
  sloSchema,
} from "../manifest/manifest-schema";
import { MAX_CAPACITY_WAIT_SECONDS } from "../manifest/rollout-settings";
import { promqlTemplateProblems } from "../prometheus/promql-template";

const runtimeSchema = z.enum(["vllm", "llama.cpp"]);
const fraction = z.number().min(0).max(1);
const positiveInt = z.number().int().positive();
const seconds = z.number().int().min(0);
const kubernetesName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "a Kubernetes name: lowercase letters, digits and '-', ≤ 63",
  );

const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source, "i");
      return true;
    } catch {
      return false;
    }
  },
  { message: "a valid regular expression" },
);

const stackConfigSchema = z.strictObject({
  clusterName: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, "an EKS cluster name"),
  namespace: kubernetesName,
  gatewayParent: z.strictObject({
    name: kubernetesName,
    namespace: kubernetesName,
    sectionName: z.string().min(1).optional(),
  }),
  allowedImages: z.strictObject({
    vllm: z.array(z.string().min(1)),
    "llama.cpp": z.array(z.string().min(1)),
  }),
  allowedExtraArgs: z.array(
    z.string().regex(/^--[A-Za-z0-9][A-Za-z0-9-]*$/, "a long flag like --enforce-eager"),
  ),
  allowTrustRemoteCode: z.boolean(),
  gpu: z.strictObject({
    memoryGiB: z.number().positive(),
    maxPerNode: positiveInt,
    utilization: z.number().gt(0).max(1),
    defaultConcurrency: positiveInt,
    resourceName: z.string().min(1),
    nodeSelector: z.record(z.string(), z.string()),
    tolerations: z.array(tolerationSchema),
  }),
  serving: z.strictObject({
    weightsLoader: z.enum(["init-container", "vllm-s3"]),
    loaderImage: z.string().min(1),
    serviceAccountName: kubernetesName,
    port: z.number().int().min(1).max(65535),
    internalUrlTemplate: z.string(),
    readinessPollSeconds: z.number().int().min(1).max(3600),
    startupBaseSeconds: seconds,
    startupSecondsPerGiB: z.number().min(0),
    cpu: z.string().regex(/^[0-9]+(\.[0-9]+)?m?$/, "a CPU quantity like 4 or 500m"),
    memory: z.string().regex(/^[0-9]+(\.[0-9]+)?([KMGTPE]i?)?$/, "a memory quantity like 32Gi"),
    failureSignatures: z.array(
      z.strictObject({
        reason: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, "a reason like CudaOutOfMemory"),
        reasons: z.array(z.string().min(1)).optional(),
        messagePattern: regexSource.optional(),
        logPattern: regexSource.optional(),
        exitCodes: z.array(z.number().int().min(0).max(255)).optional(),
        terminal: z.boolean(),
        explanation: z.string().min(1),
        hint: z.string().min(1),
      }),
    ),
  }),
  gateway: z.strictObject({
    modelHeader: z.union([
      z.literal(""),
      z.string().regex(/^[A-Za-z0-9-]{1,128}$/, "an HTTP header name like x-model-id"),
    ]),
    pathPrefix: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, "a path prefix starting with '/'"),
    url: z.union([z.literal(""), z.url({ protocol: /^https?$/ })]),
    sessionPersistence: z.boolean(),
  }),
  canaryMetrics: z.strictObject({
    namespace: z.string().regex(/^[A-Za-z0-9._/#:-]{1,255}$/, "a CloudWatch namespace"),
    probeEverySeconds: z.number().int().min(1).max(60),
    probeRequests: z.number().int().min(1).max(20),
    probeMaxTokens: z.number().int().min(1).max(256),
    alarmPrefix: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}-$/,
        "letters, digits, '_' and '-', ending in '-', at most 64 characters (e.g. modelship-prod-)",
      ),
    prometheus: z
      .strictObject({
        endpoint: z.discriminatedUnion("kind", [
          z.strictObject({
            kind: z.literal("amp"),
            // The AMP API's WorkspaceId pattern.
            workspaceId: z
              .string()
              .regex(/^[0-9A-Za-z][-.0-9A-Z_a-z]{0,63}$/, "an AMP workspace id like ws-1234abcd-…"),
            region: z
              .string()
              .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "an AWS region like us-east-1")
              .optional(),
          }),
          z.strictObject({
            kind: z.literal("service"),
            namespace: kubernetesName,
            service: kubernetesName,
            port: z.number().int().min(1).max(65535),
            pathPrefix: z
              .string()
              .regex(/^\/[A-Za-z0-9._~/-]*$/, "a path starting with '/'")
              .optional(),
          }),
          z.strictObject({ kind: z.literal("url"), url: z.url({ protocol: /^https?$/ }) }),
        ]),
        queries: z.strictObject({
          requests: z.string(),
          errors: z.string().optional(),
          aborted: z.string().optional(),
          latencyP95Seconds: z.string().optional(),
          ttftP95Seconds: z.string().optional(),
          itlP95Seconds: z.string().optional(),
          queueTimeP95Seconds: z.string().optional(),
          requestsWaiting: z.string().optional(),
        }),
      })
      .optional(),
  }),
  local: z.strictObject({
    threads: z.number().int().min(1).max(256),
    command: z.string(),
    gatewayPort: z.number().int().min(0).max(65535),
    maxServers: positiveInt.max(1000).optional(),
  }),
  hooks: z.strictObject({
    functions: z
      .array(
        z.strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/, "a function name: 1-64 letters, digits, '_' or '-'"),
          arn: z.string().min(1).optional(),
          command: z.array(z.string().min(1)).min(1).optional(),
        }),
      )
      .max(50),
    urlHooks: z.boolean(),
    loopbackHttp: z.boolean(),
  }),
  defaults: z.strictObject({
    serving: z.strictObject({
      runtime: runtimeSchema,
      image: z.string().min(1),
      gpus: z.union([z.literal("auto"), positiveInt.max(64)]),
      maxModelLen: positiveInt,
      extraArgs: z.array(z.string()),
      trustRemoteCode: z.boolean(),
    }),
    gates: z.strictObject({
      smoke: z.strictObject({
        enabled: z.boolean(),
        prompts: z.array(smokePromptSchema),
        rejectDegenerate: z.boolean(),
      }),
      stress: z.strictObject({
        enabled: z.boolean(),
        mode: z.enum(["concurrency", "rate"]),
        concurrency: positiveInt,
        rate: z.number().positive(),
        burstiness: z.number().positive(),
        durationSeconds: positiveInt,
        warmupSeconds: seconds,
        inputTokens: positiveInt,
        outputTokens: positiveInt,
        workers: positiveInt.max(40),
        slo: sloSchema,
      }),
      eval: z.strictObject({
        enabled: z.boolean(),
        suites: z.array(evalSuiteSchema.required()),
        maxErrorRate: fraction,
      }),
    }),
    rollout: z.strictObject({
      steps: z.array(canaryStepSchema).min(1),
      bakeSeconds: seconds,
      watchSeconds: seconds,
      capacityWaitSeconds: seconds.max(MAX_CAPACITY_WAIT_SECONDS),
      alarms: z.strictObject({
        latencyP95Ms: z.number().positive(),
        errorRate: fraction,
        ttftP95Ms: z.number().positive().optional(),
        vsStable: z.strictObject({ latencyP95Ratio: z.number().gt(1), errorRateDelta: fraction }).optional(),
        sources: z.strictObject({
          latencyP95Ms: z.enum(ALARM_SOURCES),
          errorRate: z.enum(ALARM_SOURCES),
          vsStable: z.enum(ALARM_SOURCES),
        }),
        minRequests: positiveInt,
        periodSeconds: positiveInt,
        datapointsToAlarm: positiveInt,
        evaluationPeriods: positiveInt,
        treatMissingData: z.enum(["breaching", "notBreaching", "ignore", "missing"]),
      }),
      // The manifest's forms; an object is merged over the default one, so its fields are all there.
      approval: approvalSchema,
    }),
    evalSuite: z.strictObject({ minScore: fraction, maxRegression: fraction }),
  }),
  evalShardSize: positiveInt,
});

/**
 * `partial` over DEFAULT_STACK_CONFIG, validated; `config` is set only when there is no error.
 * `sourceName` says where the partial came from (`cdk.json context`, `.modelship/config.json`) in findings.
 */
export function resolveStackConfig(
  partial: unknown,
  sourceName?: string,
): { config?: StackConfig; findings: Finding[] } {
  const source: FindingSource = {
    codePrefix: "stack-config",
    ...(sourceName === undefined ? {} : { file: sourceName }),
  };
  const given = partial ?? {};
  if (!isMapping(given)) {
    return {
      findings: [
        {
          severity: "error",
          code: "stack-config.not-a-mapping",
          ...(sourceName === undefined ? {} : { file: sourceName }),
          message: `expected a mapping of settings (clusterName, namespace, allowedImages …), found ${describeValue(given)}.`,
        },
      ],
    };
  }
  const merged = deepMerge(structuredClone(DEFAULT_STACK_CONFIG), given);
  if (!hasPath(given, ["defaults", "serving", "image"]) && isMapping(merged)) {
    setDefaultImage(merged);
  }
  const parsed = stackConfigSchema.safeParse(merged);
  if (!parsed.success) {
    return { findings: findingsFromSchemaIssues(parsed.error.issues, merged, stackConfigSchema, source) };
  }
  const data = parsed.data;
  const config: StackConfig = {
    ...data,
    defaults: {
      ...data.defaults,
      rollout: {
        ...data.defaults.rollout,
        alarms: {
          ...data.defaults.rollout.alarms,
          ttftP95Ms: data.defaults.rollout.alarms.ttftP95Ms,
          vsStable: data.defaults.rollout.alarms.vsStable,
        },
        approval: resolveApproval(
          data.defaults.rollout.approval,
          DEFAULT_STACK_CONFIG.defaults.rollout.approval,
        ),
      },
    },
  };
  const findings = defaultsFindings(config, source);
  return hasErrors(findings) ? { findings } : { config, findings };
}

/** The stack's defaults obey the rules a manifest obeys: a default the stack itself would refuse is a bug. */
function defaultsFindings(config: StackConfig, source: FindingSource): Finding[] {
  const { serving, rollout } = config.defaults;
  const findings = [
    ...checkImage(serving.image, serving.runtime, config, "defaults.serving.image", source),
    ...checkExtraArgs(serving.extraArgs, config, "defaults.serving.extraArgs", source).findings,
    ...checkCanarySteps(
      rollout.steps.map((step) => (typeof step === "number" ? step : step.weight)),
      "defaults.rollout.steps",
      source,
    ),
    ...checkAlarmTiming(rollout.alarms, "defaults.rollout.alarms", source),
  ];
  if (serving.trustRemoteCode && !config.allowTrustRemoteCode) {
    findings.push(trustRemoteCodeRefused(source, "defaults.serving.trustRemoteCode"));
  }
  for (const [name, template] of Object.entries(config.canaryMetrics.prometheus?.queries ?? {})) {
    for (const problem of promqlTemplateProblems(template ?? "")) {
      findings.push(
        ruleFinding(
          source,
          "promql-template",
          `canaryMetrics.prometheus.queries.${name}`,
          `${problem}.`,
          'Each query answers one number for one version and window; see the README\'s "Real traffic from your Prometheus".',
        ),
      );
    }
  }
  return findings;
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (!isMapping(base) || !isMapping(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    // defineProperty, so a key like `__proto__` stays a plain (unknown, reported) key.
    else
      Object.defineProperty(merged, key, {
        value: deepMerge(Object.hasOwn(base, key) ? base[key] : undefined, value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return merged;
}

function setDefaultImage(merged: Record<string, unknown>): void {
  const defaults = merged["defaults"];
  const serving = isMapping(defaults) ? defaults["serving"] : undefined;
  const images = merged["allowedImages"];
  if (!isMapping(serving) || !isMapping(images)) return;
  const runtime = serving["runtime"];
  const allowed = typeof runtime === "string" ? images[runtime] : undefined;
  if (Array.isArray(allowed) && typeof allowed[0] === "string") serving["image"] = allowed[0];
}

function hasPath(value: unknown, path: readonly string[]): boolean {
  let current = value;
  for (const key of path) {
    if (!isMapping(current) || !(key in current)) return false;
    current = current[key];
  }
  return true;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
