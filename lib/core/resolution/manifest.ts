// Reading a manifest (modelship.yaml / .yml / .json) and resolving it against the stack config: every
// problem comes back as a finding — syntax errors with line and column, schema errors with the path, what
// was expected and a suggestion, then the semantic rules — all of them at once, never just the first.
//
// Decisions where the design is silent:
// - An empty manifest (blank, or only comments) is valid: every field has a default.
// - Canary steps must rise strictly and always end at 100%: when the last step is below 100, a final step
//   of 100% with the default bake is appended, so the canary walks to 100% before Promote.
// - `--trust-remote-code` in extraArgs means `trustRemoteCode: true`; either needs the stack's permission.
// - A stress test in `mode: rate` must say its `rate`: a default rate would be a guess at the user's load.
// - A stress test naming a prompt set may not also set `inputTokens`: one of them would silently not apply.
// - The default image is the stack's default image for the default runtime, else the first allowed image
//   of the runtime the manifest chose.

import { CappedFindings } from "../capped-findings";
import type { StackConfig } from "../config/config";
import { type Finding, hasErrors } from "../findings";
import { resolveHooks } from "../gates/hooks";
import { resolveCapacityMode, resolveScaling } from "./manifest-capacity";
import { readManifestDocument } from "../manifest/manifest-document";
import {
  checkAlarmTiming,
  checkBakeWindows,
  checkCanarySteps,
  checkExtraArgs,
  checkImage,
  trustRemoteCodeRefused,
} from "./manifest-rules";
import { ruleFinding, type FindingSource, describeValue, findingsFromSchemaIssues } from "../schema-findings";
import {
  type AlarmSource,
  type CanaryStep,
  type CanaryStepInput,
  type Manifest,
  type ResolvedAlarms,
  type ResolvedApproval,
  type ResolvedManifest,
  manifestSchema,
  type Runtime,
} from "../manifest/manifest-schema";
import { declaredRuntime } from "../weights/serving-choice";
import { linearSteps } from "../traffic/rollout-strategy";
import {
  DEFAULT_LINEAR_STEP_PERCENT,
  type RolloutStrategy,
  type ShadowSettings,
  type Stickiness,
} from "../manifest/rollout-settings";
import { MAX_STRESS_RUN_SECONDS } from "../gates/stress-gate";
import { unusableStickinessHeader } from "../traffic/sticky-routing";

/**
 * A manifest is settings, a few kilobytes (a `files` list of a thousand files with their SHA-256 is ~130 KB
 * of JSON, ~100 KB of YAML); a bigger file is not read. YAML costs far more than its bytes to parse: at this
 * cap the worst documents measured (a flow list of 64k numbers, nesting deep enough to exhaust the parser's
 * stack, an alias bomb) take ~250 MiB of RSS and ~2 s, the Prepare Lambda's and `modelship validate`'s worst case.
 */
export const MAX_MANIFEST_BYTES = 128 * 1024;

/** The finding for a manifest file bigger than MAX_MANIFEST_BYTES, which is not read. */
export function manifestTooLarge(fileName: string, size: number): Finding {
  return {
    severity: "error",
    code: "manifest.too-large",
    file: fileName,
    message: `the manifest is ${size} bytes; a manifest is at most ${MAX_MANIFEST_BYTES} bytes.`,
    hint: "Keep only settings in the manifest; weights, eval suites and prompt sets go in their own files.",
  };
}

export interface ParsedManifest {
  /** Set only when there is no error. */
  readonly manifest?: Manifest;
  readonly findings: Finding[];
  /**
   * When the schema refused the manifest: what is left of it without the refused keys and values, so the
   * semantic rules can still report everything else wrong in one pass. Never used to run anything.
   */
  readonly salvaged?: Manifest;
}

/** Parses and schema-checks a manifest's text. */
export function parseManifest(text: string, fileName: string): ParsedManifest {
  const source: FindingSource = { codePrefix: "manifest", file: fileName };
  const extension = /\.([A-Za-z]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (extension !== "yaml" && extension !== "yml" && extension !== "json") {
    return {
      findings: [
        {
          severity: "error",
          code: "manifest.file-type",
          file: fileName,
          message: `expected a manifest named modelship.yaml, modelship.yml or modelship.json, found '${fileName}'.`,
          hint: "Rename the manifest so its extension says whether it is YAML or JSON.",
        },
      ],
    };
  }
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const read = readManifestDocument(body, extension, source);
  if (!read.readable) return { findings: read.findings };

  const data = read.data ?? {};
  if (typeof data !== "object" || Array.isArray(data)) {
    return {
      findings: [
        ...read.findings,
        {
          severity: "error",
          code: "manifest.not-a-mapping",
          file: fileName,
          message: `expected a mapping of settings (name, serving, gates, rollout …) at the top level, found ${describeValue(data)}.`,
        },
      ],
    };
  }
  const parsed = manifestSchema.safeParse(data);
  if (!parsed.success) {
    const salvaged = salvage(data, parsed.error.issues);
    return {
      findings: [
        ...read.findings,
        ...findingsFromSchemaIssues(parsed.error.issues, data, manifestSchema, source),
      ],
      ...(salvaged && { salvaged }),
    };
  }
  return hasErrors(read.findings)
    ? { findings: read.findings }
    : { manifest: parsed.data, findings: read.findings };
}

type SchemaIssue = {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly keys?: readonly string[];
};

/**
 * Removes what the schema refused — unknown keys, and each wrong value (a whole list when the problem is
 * inside one, so list indexes in later findings stay true) — until what is left passes, or gives up.
 */
function salvage(data: object, firstIssues: readonly SchemaIssue[]): Manifest | undefined {
  let copy: Record<string, unknown>;
  try {
    copy = structuredClone(data) as Record<string, unknown>;
  } catch {
    // Too deep to copy: the schema's findings already say so, and there is nothing sensible to salvage.
    return undefined;
  }
  let issues = firstIssues;
  for (let round = 0; round < 8; round++) {
    for (const issue of issues) {
      const listAt = issue.path.findIndex((segment) => typeof segment === "number");
      const path = listAt >= 0 ? issue.path.slice(0, listAt) : issue.path;
      if (issue.code === "unrecognized_keys" && listAt < 0) {
        const parent = valueAt(copy, path);
        for (const key of issue.keys ?? []) if (isRecord(parent)) delete parent[key];
      } else if (path.length > 0) {
        const parent = valueAt(copy, path.slice(0, -1));
        if (isRecord(parent)) delete parent[String(path.at(-1))];
      } else {
        return undefined;
      }
    }
    const again = manifestSchema.safeParse(copy);
    if (again.success) return again.data;
    issues = again.error.issues;
  }
  return undefined;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((node, segment) => (isRecord(node) ? node[String(segment)] : undefined), root);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A manifest loaded: what may run (only without errors), and what a report may plan from. */
export interface LoadedManifest {
  /** Set only when there is no error: the manifest a rollout runs with. */
  readonly manifest?: ResolvedManifest;
  readonly findings: Finding[];
  /**
   * Every setting that is valid, resolved over the stack's defaults, even when others are refused — for
   * `validate`'s GPU plan and checks, so one typo does not turn the rest into defaults. Never run.
   * Undefined when nothing of the manifest could be read (a syntax error, not a mapping).
   */
  readonly planned?: ResolvedManifest;
}

/** Parses and resolves in one pass: every syntax, schema and semantic finding together. */
export function loadManifest(
  text: string,
  context: ManifestContext & { readonly fileName: string },
  config: StackConfig,
): LoadedManifest {
  const parsed = parseManifest(text, context.fileName);
  const toResolve = parsed.manifest ?? parsed.salvaged;
  if (!toResolve) return { findings: parsed.findings };
  const resolved = resolveManifest(toResolve, context, config);
  const capped = new CappedFindings();
  capped.addAll(parsed.findings);
  capped.addAll(resolved.findings);
  const findings = capped.list();
  return parsed.manifest && resolved.manifest
    ? { manifest: resolved.manifest, findings, planned: resolved.planned }
    : { findings, planned: resolved.planned };
}

/** Where the manifest came from: the key's name and version, and the file for findings. */
export interface ManifestContext {
  readonly name: string;
  readonly version: string;
  readonly fileName?: string;
}

/**
 * Fills every default from the stack config and applies the semantic rules; `manifest` is set only when
 * there is no error, `planned` always (see LoadedManifest).
 */
export function resolveManifest(
  manifest: Manifest,
  context: ManifestContext,
  config: StackConfig,
): { manifest?: ResolvedManifest; findings: Finding[]; planned: ResolvedManifest } {
  const source: FindingSource = {
    codePrefix: "manifest",
    ...(context.fileName === undefined ? {} : { file: context.fileName }),
  };
  const findings: Finding[] = [
    ...identityFindings(manifest, context, source),
    ...fileFindings(manifest, source),
  ];
  const defaults = config.defaults;

  const serving = manifest.serving ?? {};
  // An unset runtime is implied by a written image (each image is allowed for one runtime) or the declared
  // format; otherwise Validate chooses it from the weights it finds (core/weights/serving-choice).
  const runtime =
    serving.runtime ??
    (serving.image === undefined ? undefined : runtimeAllowing(serving.image, config)) ??
    declaredRuntime({}, manifest.format);
  if (serving.image !== undefined) {
    findings.push(
      ...checkImage(serving.image, runtime ?? defaults.serving.runtime, config, "serving.image", source),
    );
  } else if (runtime !== undefined && runtime !== defaults.serving.runtime) {
    findings.push(...checkImage(config.allowedImages[runtime][0], runtime, config, "serving.image", source));
  }
  if (runtime === "llama.cpp" && manifest.format === "safetensors") {
    findings.push(
      ruleFinding(
        source,
        "runtime-format",
        "serving.runtime",
        "runtime llama.cpp serves GGUF files, but the manifest says format: safetensors.",
        "Use runtime: vllm for safetensors weights, or convert the model to GGUF.",
      ),
    );
  }
  const args = checkExtraArgs(
    serving.extraArgs ?? defaults.serving.extraArgs,
    config,
    "serving.extraArgs",
    source,
  );
  findings.push(...args.findings);
  const trustRemoteCode =
    (serving.trustRemoteCode ?? defaults.serving.trustRemoteCode) || args.asksTrustRemoteCode;
  if (serving.trustRemoteCode === true && !config.allowTrustRemoteCode) {
    findings.push(trustRemoteCodeRefused(source, "serving.trustRemoteCode"));
  }
  const scaling = resolveScaling(
    serving,
    source,
    config.local.timeFactor !== undefined,
    config.local.command.trim() !== "",
  );
  findings.push(...scaling.findings);

  const smoke = manifest.gates?.smoke ?? {};
  (smoke.prompts ?? []).forEach((prompt, i) => {
    if ((prompt.messages === undefined) === (prompt.prompt === undefined)) {
      findings.push(
        ruleFinding(
          source,
          "smoke-prompt",
          `gates.smoke.prompts[${i}]`,
          "a smoke prompt needs exactly one of 'messages' (a chat) or 'prompt' (a plain completion).",
          "Write {messages: [{role: user, content: …}]} to test the chat template, or {prompt: …}.",
        ),
      );
    }
  });

  const stressInput = manifest.gates?.stress ?? {};
  const stress = {
    ...defaults.gates.stress,
    ...stressInput,
    slo: { ...defaults.gates.stress.slo, ...stressInput.slo },
  };
  if (stressInput.mode === "rate" && stressInput.rate === undefined) {
    findings.push(
      ruleFinding(
        source,
        "stress-rate",
        "gates.stress.rate",
        "mode 'rate' needs 'rate': the requests per second to send.",
        "Add e.g. rate: 5, or use mode: concurrency.",
      ),
    );
  }
  if (stressInput.prompts !== undefined && stressInput.inputTokens !== undefined) {
    findings.push(
      ruleFinding(
        source,
        "stress-prompts-input-tokens",
        "gates.stress.inputTokens",
        `inputTokens sets the length of synthetic prompts, but 'prompts: ${stressInput.prompts}' sends the prompts of prompts/${stressInput.prompts}.jsonl as they are.`,
        "Remove inputTokens to send the prompt set, or remove prompts to send synthetic prompts of inputTokens tokens.",
      ),
    );
  }
  if (stress.enabled && stress.warmupSeconds + stress.durationSeconds > MAX_STRESS_RUN_SECONDS) {
    findings.push(
      ruleFinding(
        source,
        "stress-too-long",
        "gates.stress.durationSeconds",
        `warmupSeconds ${stress.warmupSeconds} + durationSeconds ${stress.durationSeconds} = ${stress.warmupSeconds + stress.durationSeconds} s is longer than a load worker runs (${MAX_STRESS_RUN_SECONDS} s).`,
        `Set durationSeconds to at most ${MAX_STRESS_RUN_SECONDS - stress.warmupSeconds}: more workers add load, not time.`,
      ),
    );
  }

  const evalInput = manifest.gates?.eval ?? {};
  const suites = (evalInput.suites ?? defaults.gates.eval.suites).map((suite) => ({
    name: suite.name,
    minScore: suite.minScore ?? defaults.evalSuite.minScore,
    maxRegression: suite.maxRegression ?? defaults.evalSuite.maxRegression,
  }));
  findings.push(...duplicateSuiteFindings(suites, source));
  const hooks = resolveHooks(manifest.gates?.hooks ?? [], config, source);
  findings.push(...hooks.findings);

  const rolloutInput = manifest.rollout ?? {};
  const bakeSeconds = rolloutInput.bakeSeconds ?? defaults.rollout.bakeSeconds;
  const strategy = resolveStrategy(rolloutInput, bakeSeconds, source, findings);
  let steps: CanaryStep[];
  if (strategy.kind === "canary") {
    steps = (rolloutInput.steps ?? defaults.rollout.steps).map((step) => resolveStep(step, bakeSeconds));
    findings.push(
      ...checkCanarySteps(
        steps.map((s) => s.weight),
        "rollout.steps",
        source,
      ),
    );
    const lastWeight = steps.at(-1)?.weight ?? 0;
    if (lastWeight < 100) steps.push({ weight: 100, bakeSeconds });
  } else {
    steps = strategy.kind === "linear" ? linearSteps(strategy.stepPercent, strategy.intervalSeconds) : [];
  }

  const alarms = resolveAlarms(rolloutInput.alarms ?? {}, defaults.rollout.alarms, source);
  findings.push(...alarms.findings, ...checkAlarmTiming(alarms.value, "rollout.alarms", source));
  const watchSeconds = rolloutInput.watchSeconds ?? defaults.rollout.watchSeconds;
  // A linear rollout's steps all bake its interval: one finding, at the interval, rather than one per step.
  const bakeFindings = checkBakeWindows(
    {
      steps: strategy.kind === "linear" ? steps.slice(0, 1) : steps,
      watchSeconds,
      alarms: alarms.value,
      ...(rolloutInput.allowShortBakes === undefined
        ? {}
        : { allowShortBakes: rolloutInput.allowShortBakes }),
    },
    config.local.timeFactor ?? 1,
    source,
  );
  findings.push(
    ...bakeFindings.map((finding) =>
      strategy.kind === "linear" && finding.path === "rollout.steps[0]"
        ? { ...finding, path: "rollout.linear.intervalSeconds" }
        : finding,
    ),
  );

  const capacity = resolveCapacityMode(rolloutInput.capacity, strategy, source);
  findings.push(...capacity.findings);

  const stickiness = resolveStickiness(rolloutInput.stickiness, config.gateway.modelHeader, source);
  findings.push(...stickiness.findings);
  if (stickiness.value && strategy.kind === "blueGreen") {
    findings.push(
      ruleFinding(
        source,
        "stickiness-blue-green",
        "rollout.stickiness",
        "stickiness keeps a conversation on one version while traffic is split, but strategy: blueGreen moves all traffic at once: there is no split to stay on one side of.",
        "Remove rollout.stickiness, or use strategy: canary or linear.",
      ),
    );
  }
  // StepHooks follows CheckCanary only, and a blue/green plan has no CanaryStep: such a hook would be
  // accepted and never run.
  if (strategy.kind === "blueGreen") {
    (manifest.gates?.hooks ?? []).forEach((hook, i) => {
      if (hook.at !== "eachStep") return;
      findings.push(
        ruleFinding(
          source,
          "hook-each-step-blue-green",
          `gates.hooks[${i}].at`,
          `hook '${hook.name}' runs at eachStep, after each canary step's bake, but strategy: blueGreen has no steps: all traffic moves at once, so it would never run.`,
          "Run it at prePromote (before the candidate takes the traffic) or postPromote (in the watch), or use strategy: canary or linear.",
        ),
      );
    });
  }

  const shadow = rolloutInput.shadow && {
    percent: rolloutInput.shadow.percent,
    seconds: rolloutInput.shadow.seconds ?? bakeSeconds,
  };
  if (shadow) findings.push(...checkShadowWindow(shadow, alarms.value, rolloutInput, config, source));

  const resolved: ResolvedManifest = {
    name: context.name,
    version: context.version,
    format: manifest.format,
    files: manifest.files ?? [],
    serving: {
      scaling: scaling.value,
      ...(runtime !== undefined && { runtime }),
      ...(serving.image !== undefined && { image: serving.image }),
      gpus: serving.gpus ?? defaults.serving.gpus,
      ...(serving.maxModelLen !== undefined && { maxModelLen: serving.maxModelLen }),
      extraArgs: args.extraArgs,
      trustRemoteCode,
    },
    gates: {
      smoke: {
        enabled: smoke.enabled ?? defaults.gates.smoke.enabled,
        prompts: smoke.prompts ?? defaults.gates.smoke.prompts,
        rejectDegenerate: smoke.rejectDegenerate ?? defaults.gates.smoke.rejectDegenerate,
      },
      stress,
      eval: {
        enabled: evalInput.enabled ?? defaults.gates.eval.enabled,
        suites,
        ...(evalInput.maxTokens === undefined ? {} : { maxTokens: evalInput.maxTokens }),
        maxErrorRate: evalInput.maxErrorRate ?? defaults.gates.eval.maxErrorRate,
      },
      hooks: hooks.hooks,
    },
    rollout: {
      strategy,
      capacity: capacity.value,
      steps,
      bakeSeconds,
      watchSeconds: rolloutInput.watchSeconds ?? defaults.rollout.watchSeconds,
      capacityWaitSeconds: rolloutInput.capacityWaitSeconds ?? defaults.rollout.capacityWaitSeconds,
      alarms: alarms.value,
      approval: resolveApproval(rolloutInput.approval, defaults.rollout.approval),
      ...(stickiness.value && { stickiness: stickiness.value }),
      ...(shadow && { shadow }),
    },
  };
  return hasErrors(findings)
    ? { findings, planned: resolved }
    : { findings, manifest: resolved, planned: resolved };
}

/**
 * The shadow is judged like a bake: one shorter than the alarms need to reach ALARM would let a candidate
 * that misbehaves on real requests through unjudged. Refused, or a warning with allowShortBakes, as bakes are.
 */
function checkShadowWindow(
  shadow: ShadowSettings,
  alarms: ResolvedAlarms,
  rollout: { readonly allowShortBakes?: boolean },
  config: StackConfig,
  source: FindingSource,
): Finding[] {
  const timeFactor = config.local.timeFactor ?? 1;
  const needed = alarms.periodSeconds * alarms.datapointsToAlarm;
  // At a time factor of 0 nothing is judged, as checkBakeWindows already says once.
  if (timeFactor === 0 || shadow.seconds * timeFactor >= needed) return [];
  const lasts =
    timeFactor === 1
      ? `${shadow.seconds} s`
      : `${shadow.seconds} s (${Math.round(shadow.seconds * timeFactor * 100) / 100} s at a time factor of ${timeFactor})`;
  return [
    {
      ...ruleFinding(
        source,
        "shadow-shorter-than-alarms",
        "rollout.shadow.seconds",
        `the shadow lasts ${lasts}, shorter than the ${needed} s the alarms need to reach ALARM (${alarms.datapointsToAlarm} breaching period${alarms.datapointsToAlarm === 1 ? "" : "s"} of ${alarms.periodSeconds} s): a candidate that fails on the mirrored requests would pass it unjudged.`,
        `Shadow for at least ${Math.ceil(needed / timeFactor)} s, or shorten the alarms' window (rollout.alarms.periodSeconds, datapointsToAlarm), or set rollout.allowShortBakes: true to go on with a warning.`,
      ),
      ...(rollout.allowShortBakes === true && { severity: "warning" as const }),
    },
  ];
}

/** The manifest's approval over the stack's: a bare mode keeps the stack's point and timeout. */
export function resolveApproval(
  input: ApprovalInput | undefined,
  defaults: ResolvedApproval,
): ResolvedApproval {
  if (input === undefined) return defaults;
  if (typeof input === "string") return { ...defaults, mode: input };
  return {
    mode: input.mode,
    at: input.at ?? defaults.at,
    timeoutSeconds: input.timeoutSeconds ?? defaults.timeoutSeconds,
  };
}

/** The runtime whose allowed images include `image`, if one does. */
function runtimeAllowing(image: string, config: StackConfig): Runtime | undefined {
  return (Object.keys(config.allowedImages) as Runtime[]).find((runtime) =>
    config.allowedImages[runtime].includes(image),
  );
}

/**
 * The strategy the manifest names (canary when none), with linear's step and interval filled in; settings of
 * another strategy than the one named are refused, not ignored.
 */
function resolveStrategy(
  rollout: NonNullable<Manifest["rollout"]>,
  bakeSeconds: number,
  source: FindingSource,
  findings: Finding[],
): RolloutStrategy {
  const kind = rollout.strategy ?? "canary";
  if (rollout.steps !== undefined && kind !== "canary") {
    findings.push(
      ruleFinding(
        source,
        "strategy-steps",
        "rollout.steps",
        `rollout.steps are the canary strategy's, but the manifest says strategy: ${kind}, which ${kind === "linear" ? "makes its steps from rollout.linear" : "has no steps: all traffic moves at once"}.`,
        kind === "linear"
          ? "Remove rollout.steps, or set strategy: canary."
          : "Remove rollout.steps, or set strategy: canary (or linear).",
      ),
    );
  }
  if (rollout.linear !== undefined && kind !== "linear") {
    findings.push(
      ruleFinding(
        source,
        "strategy-linear",
        "rollout.linear",
        `rollout.linear sets the linear strategy's steps, but the manifest says strategy: ${kind}${rollout.strategy === undefined ? " (the default)" : ""}.`,
        "Set rollout.strategy: linear, or remove rollout.linear.",
      ),
    );
  }
  if (kind !== "linear") return { kind };
  return {
    kind,
    stepPercent: rollout.linear?.stepPercent ?? DEFAULT_LINEAR_STEP_PERCENT,
    intervalSeconds: rollout.linear?.intervalSeconds ?? bakeSeconds,
  };
}

function resolveStep(step: CanaryStepInput | RolloutDefaultStep, bakeSeconds: number): CanaryStep {
  return typeof step === "number"
    ? { weight: step, bakeSeconds }
    : { weight: step.weight, bakeSeconds: step.bakeSeconds ?? bakeSeconds };
}

type RolloutDefaultStep = StackConfig["defaults"]["rollout"]["steps"][number];
type VsStable = ResolvedAlarms["vsStable"];
type ApprovalInput = NonNullable<NonNullable<Manifest["rollout"]>["approval"]>;
type AlarmsInput = NonNullable<NonNullable<Manifest["rollout"]>["alarms"]>;
type ThresholdInput = number | { readonly threshold: number; readonly source?: AlarmSource | undefined };

/**
 * The manifest's alarms over the stack's: each threshold with its source — the alarm's own, else the
 * manifest's `source`, else the stack's default for that alarm. TTFT watches real traffic only; a source
 * or a `minRequests` that no alarm would use is a finding, not silently ignored.
 */
function resolveAlarms(
  input: AlarmsInput,
  stack: ResolvedAlarms,
  source: FindingSource,
): { value: ResolvedAlarms; findings: Finding[] } {
  const findings: Finding[] = [];
  const { latencyP95Ms, errorRate, ttftP95Ms, vsStable: vsStableInput, source: shared, ...timing } = input;
  const sourceOf = (given: ThresholdInput | undefined, stackSource: AlarmSource): AlarmSource =>
    (typeof given === "object" ? given.source : undefined) ?? shared ?? stackSource;
  const thresholdOf = (given: ThresholdInput | undefined) =>
    typeof given === "object" ? given.threshold : given;
  const vsStable = resolveVsStable(vsStableInput, stack.vsStable, source);
  findings.push(...vsStable.findings);
  const sources = {
    latencyP95Ms: sourceOf(latencyP95Ms, stack.sources.latencyP95Ms),
    errorRate: sourceOf(errorRate, stack.sources.errorRate),
    vsStable: vsStableInput?.source ?? shared ?? stack.sources.vsStable,
  };

  const ttftSource = typeof ttftP95Ms === "object" ? ttftP95Ms.source : undefined;
  if (ttftSource !== undefined && ttftSource !== "traffic") {
    findings.push(
      ruleFinding(
        source,
        "ttft-source",
        "rollout.alarms.ttftP95Ms.source",
        `ttftP95Ms watches real traffic only, found source '${ttftSource}': the prober's chats are not streamed and a few tokens long, so they have no time to first token worth alarming on.`,
        "Leave source out of ttftP95Ms (or write source: traffic); use latencyP95Ms to watch the prober.",
      ),
    );
  }
  // The alarms a shared source or minRequests would reach: latency, error rate, and vsStable if it is on.
  const shareable = [
    ["latencyP95Ms", latencyP95Ms],
    ["errorRate", errorRate],
    ...(vsStable.value ? [["vsStable", vsStableInput] as const] : []),
  ] as const;
  if (shared !== undefined && shareable.every(([, given]) => typeof given === "object" && given.source)) {
    findings.push(
      ruleFinding(
        source,
        "alarm-source-unused",
        "rollout.alarms.source",
        `source '${shared}' applies to no alarm: ${shareable.map(([name]) => name).join(", ")} each name their own source.`,
        "Remove rollout.alarms.source, or remove the alarms' own sources to let it apply.",
      ),
    );
  }
  const auto = shareable.some(([name]) => sources[name] === "auto");
  if (input.minRequests !== undefined && !auto) {
    findings.push(
      ruleFinding(
        source,
        "min-requests-unused",
        "rollout.alarms.minRequests",
        `minRequests ${input.minRequests} decides between real traffic and the prober for alarms with source 'auto', and no alarm has it (${shareable.map(([name]) => `${name}: ${sources[name]}`).join(", ")}).`,
        "Remove minRequests, or set source: auto on the alarms that should fall back to the prober when traffic is thin.",
      ),
    );
  }
  return {
    value: {
      ...stack,
      ...timing,
      latencyP95Ms: thresholdOf(latencyP95Ms) ?? stack.latencyP95Ms,
      errorRate: thresholdOf(errorRate) ?? stack.errorRate,
      ttftP95Ms: thresholdOf(ttftP95Ms) ?? stack.ttftP95Ms,
      vsStable: vsStable.value,
      sources,
    },
    findings,
  };
}

/**
 * `rollout.stickiness` (the schema has checked that it names exactly one of a header and a cookie): a header
 * that can tell conversations apart — not one modelship uses itself, nor one every request of the model shares.
 */
function resolveStickiness(
  input: { readonly header?: string; readonly cookie?: string } | undefined,
  modelHeader: string,
  source: FindingSource,
): { value?: Stickiness; findings: Finding[] } {
  if (input?.cookie !== undefined) return { value: { cookie: input.cookie }, findings: [] };
  const header = input?.header;
  if (header === undefined) return { findings: [] };
  const unusable = unusableStickinessHeader(header, modelHeader);
  if (unusable === undefined) return { value: { header }, findings: [] };
  return {
    findings: [
      ruleFinding(
        source,
        "stickiness-header",
        "rollout.stickiness.header",
        `'${header}' cannot be the conversation key: ${unusable}.`,
        "Name the header your clients send with every turn of a conversation, e.g. x-session-id.",
      ),
    ],
  };
}

/** The manifest's comparisons against stable over the stack's; a field neither gives is a finding. */
function resolveVsStable(
  input:
    | { readonly latencyP95Ratio?: number; readonly errorRateDelta?: number; readonly source?: AlarmSource }
    | undefined,
  stackDefault: VsStable,
  source: FindingSource,
): { value: VsStable; findings: Finding[] } {
  if (input === undefined) return { value: stackDefault, findings: [] };
  const latencyP95Ratio = input.latencyP95Ratio ?? stackDefault?.latencyP95Ratio;
  const errorRateDelta = input.errorRateDelta ?? stackDefault?.errorRateDelta;
  if (latencyP95Ratio !== undefined && errorRateDelta !== undefined) {
    return { value: { latencyP95Ratio, errorRateDelta }, findings: [] };
  }
  const missing = latencyP95Ratio === undefined ? "latencyP95Ratio" : "errorRateDelta";
  return {
    value: undefined,
    findings: [
      ruleFinding(
        source,
        "vs-stable-incomplete",
        `rollout.alarms.vsStable.${missing}`,
        `the stack compares nothing against stable by default, so vsStable needs '${missing}' too.`,
        "Give both latencyP95Ratio (e.g. 1.25) and errorRateDelta (e.g. 0.01).",
      ),
    ],
  };
}

function identityFindings(manifest: Manifest, context: ManifestContext, source: FindingSource): Finding[] {
  const key = `models/${context.name}/${context.version}/`;
  const findings: Finding[] = [];
  if (manifest.name !== undefined && manifest.name !== context.name) {
    findings.push(
      ruleFinding(
        source,
        "name-mismatch",
        "name",
        `the manifest says name '${manifest.name}', but it was uploaded under ${key}, which says '${context.name}'.`,
        "The folder under models/ names the model: make them equal, or leave 'name' out of the manifest.",
      ),
    );
  }
  if (manifest.version !== undefined && manifest.version !== context.version) {
    findings.push(
      ruleFinding(
        source,
        "version-mismatch",
        "version",
        `the manifest says version '${manifest.version}', but it was uploaded under ${key}, which says '${context.version}'.`,
        "The folder under models/<name>/ names the version: make them equal, or leave 'version' out of the manifest.",
      ),
    );
  }
  return findings;
}

/** `files` paths are relative to the model's folder and never climb out of it. */
function fileFindings(manifest: Manifest, source: FindingSource): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  (manifest.files ?? []).forEach((file, i) => {
    const path = `files[${i}].path`;
    const segments = file.path.split(/[/\\]/);
    if (/^([/\\]|[A-Za-z]:)/.test(file.path) || segments.some((s) => s === ".." || s === "." || s === "")) {
      findings.push(
        ruleFinding(
          source,
          "file-path",
          path,
          `expected a path relative to the model's folder, without '..', '.' or empty parts, found '${file.path}'.`,
          "Write paths as they appear inside the folder, e.g. model-00001-of-00004.safetensors or tokenizer/vocab.json.",
        ),
      );
    } else if (seen.has(file.path)) {
      findings.push(ruleFinding(source, "file-duplicate", path, `'${file.path}' is listed more than once.`));
    }
    seen.add(file.path);
  });
  return findings;
}

function duplicateSuiteFindings(
  suites: readonly { readonly name: string }[],
  source: FindingSource,
): Finding[] {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  suites.forEach((suite, i) => {
    if (seen.has(suite.name)) {
      findings.push(
        ruleFinding(
          source,
          "suite-duplicate",
          `gates.eval.suites[${i}].name`,
          `eval suite '${suite.name}' is listed more than once.`,
        ),
      );
    }
    seen.add(suite.name);
  });
  return findings;
}
