// The rules a manifest's serving and rollout settings follow beyond their shapes — canary steps that only
// go up, alarm timings CloudWatch accepts, images and server flags only from the stack's allow-lists —
// applied to a manifest (manifest.ts) and to the stack's own defaults for it (stack-config.ts).

import type { StackConfig } from "../config/config";
import type { Finding } from "../findings";
import { type FindingSource, ruleFinding } from "../schema-findings";

const TRUST_REMOTE_CODE = "--trust-remote-code";

/** Canary weights must rise strictly from one step to the next (the schema already keeps each in (0, 100]). */
export function checkCanarySteps(
  weights: readonly number[],
  stepsPath: string,
  source: FindingSource,
): Finding[] {
  const findings: Finding[] = [];
  for (let i = 1; i < weights.length; i++) {
    const previous = weights[i - 1] ?? 0;
    const weight = weights[i] ?? 0;
    if (weight <= previous) {
      findings.push(
        ruleFinding(
          source,
          "steps-not-increasing",
          `${stepsPath}[${i}]`,
          `canary step ${weight}% comes after ${previous}%: each step must send more traffic to the candidate than the one before.`,
          "List the steps in increasing order, e.g. [5, 25, 50, 100].",
        ),
      );
    }
  }
  return findings;
}

/** CloudWatch accepts periods of 10, 20 or 30 s (high resolution) or a multiple of 60, and M ≤ N for M of N. */
export function checkAlarmTiming(
  alarms: {
    readonly periodSeconds: number;
    readonly datapointsToAlarm: number;
    readonly evaluationPeriods: number;
  },
  alarmsPath: string,
  source: FindingSource,
): Finding[] {
  const findings: Finding[] = [];
  const { periodSeconds, datapointsToAlarm, evaluationPeriods } = alarms;
  if (![10, 20, 30].includes(periodSeconds) && periodSeconds % 60 !== 0) {
    findings.push(
      ruleFinding(
        source,
        "alarm-period",
        `${alarmsPath}.periodSeconds`,
        `expected 10, 20 or 30 (high resolution) or a multiple of 60, found ${periodSeconds}.`,
        "CloudWatch alarms accept only these periods; 10 reacts fastest, 60 costs least.",
      ),
    );
  }
  if (datapointsToAlarm > evaluationPeriods) {
    findings.push(
      ruleFinding(
        source,
        "alarm-datapoints",
        `${alarmsPath}.datapointsToAlarm`,
        `datapointsToAlarm ${datapointsToAlarm} is more than evaluationPeriods ${evaluationPeriods}: the alarm fires when M of the last N periods breach, so M must be at most N.`,
        `Lower datapointsToAlarm to ${evaluationPeriods} or less, or raise evaluationPeriods.`,
      ),
    );
  }
  return findings;
}

/**
 * Every bake and the watch must last at least as long as the alarms need to reach ALARM — DatapointsToAlarm
 * whole periods — in real time: locally the Waits are scaled by the time factor and the alarms' periods are
 * not, so a 30 s bake at a factor of 0.1 lasts 3 s, and a bad canary would pass it unjudged. An error, or a
 * warning when the manifest says `allowShortBakes: true`.
 */
export function checkBakeWindows(
  rollout: {
    readonly steps: readonly { readonly weight: number; readonly bakeSeconds: number }[];
    readonly watchSeconds: number;
    readonly alarms: { readonly periodSeconds: number; readonly datapointsToAlarm: number };
    readonly allowShortBakes?: boolean;
  },
  timeFactor: number,
  source: FindingSource,
): Finding[] {
  const { periodSeconds, datapointsToAlarm } = rollout.alarms;
  const needed = periodSeconds * datapointsToAlarm;
  const scaled = (seconds: number) =>
    timeFactor === 1
      ? `${seconds} s`
      : `${seconds} s (${round(seconds * timeFactor)} s at a time factor of ${timeFactor})`;
  if (timeFactor === 0) {
    // No waiting at all is a choice the user made (tests, CI): said once, not refused.
    return [
      {
        ...ruleFinding(
          source,
          "bakes-skipped",
          "rollout",
          "at a time factor of 0 every bake and the watch are skipped: the alarms judge nothing before the version ships.",
          "Use a time factor above 0 for a canary the alarms can stop.",
        ),
        severity: "warning" as const,
      },
    ];
  }
  const short = [
    ...rollout.steps.map((step, i) => ({
      path: `rollout.steps[${i}]`,
      what: `the bake of the ${step.weight}% step`,
      seconds: step.bakeSeconds,
    })),
    { path: "rollout.watchSeconds", what: "the watch", seconds: rollout.watchSeconds },
  ].filter((wait) => wait.seconds * timeFactor < needed);
  return short.map((wait) => ({
    ...ruleFinding(
      source,
      "bake-shorter-than-alarms",
      wait.path,
      `${wait.what} lasts ${scaled(wait.seconds)}, shorter than the ${needed} s the alarms need to reach ALARM (${datapointsToAlarm} breaching period${datapointsToAlarm === 1 ? "" : "s"} of ${periodSeconds} s): a bad version would pass it unjudged.`,
      `Bake for at least ${Math.ceil(needed / timeFactor)} s${timeFactor === 1 ? "" : " at this time factor"}, or shorten the alarms' window (rollout.alarms.periodSeconds, datapointsToAlarm), or set rollout.allowShortBakes: true to go on with a warning.`,
    ),
    ...(rollout.allowShortBakes === true && { severity: "warning" as const }),
  }));
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

/** The image must be on the stack's list for the runtime: bucket write access must not pick what runs. */
export function checkImage(
  image: string | undefined,
  runtime: "vllm" | "llama.cpp",
  config: StackConfig,
  imagePath: string,
  source: FindingSource,
): Finding[] {
  const allowed = config.allowedImages[runtime];
  if (image === undefined) {
    return [
      ruleFinding(
        source,
        "image-not-allowed",
        imagePath,
        `the stack allows no image for runtime ${runtime}.`,
        `Choose another runtime, or ask the platform team to add a ${runtime} image to the stack's allowedImages.`,
      ),
    ];
  }
  if (allowed.includes(image)) return [];
  const list = allowed.length ? allowed.map((i) => `'${i}'`).join(", ") : "none";
  return [
    ruleFinding(
      source,
      "image-not-allowed",
      imagePath,
      `image '${image}' is not allowed for runtime ${runtime}; allowed: ${list}.`,
      "Use an allowed image, or ask the platform team to add this one to the stack's allowedImages.",
    ),
  ];
}

export interface CheckedExtraArgs {
  readonly findings: Finding[];
  /**
   * The flags in one form: every element `--flag` or `--flag=value` (a value given as the next element
   * is joined to its flag, so no element can ever reach the server as a positional argument), without
   * `--trust-remote-code`, which becomes `trustRemoteCode`.
   */
  readonly extraArgs: string[];
  readonly asksTrustRemoteCode: boolean;
}

/**
 * Server flags: each element is `--flag`, `--flag=value`, or a value for the flag just before it; each flag
 * must be on the stack's allowedExtraArgs; `--trust-remote-code` only where the stack allows remote code.
 */
export function checkExtraArgs(
  args: readonly string[],
  config: StackConfig,
  argsPath: string,
  source: FindingSource,
): CheckedExtraArgs {
  const findings: Finding[] = [];
  const extraArgs: string[] = [];
  const allowed = new Set(config.allowedExtraArgs.map(flagName));
  let asksTrustRemoteCode = false;
  let awaitingValue = false;
  const allowedList = config.allowedExtraArgs.join(", ") || "none";

  args.forEach((arg, i) => {
    const path = `${argsPath}[${i}]`;
    if (arg === "" || /\p{Cc}/u.test(arg)) {
      findings.push(
        ruleFinding(
          source,
          "extra-arg-invalid",
          path,
          `expected a flag or a value without control characters, found ${JSON.stringify(arg)}.`,
        ),
      );
      awaitingValue = false;
      return;
    }
    if (arg.startsWith("--")) {
      const name = flagName(arg);
      awaitingValue = !arg.includes("=");
      if (name === TRUST_REMOTE_CODE) {
        asksTrustRemoteCode = true;
        awaitingValue = false;
        if (!config.allowTrustRemoteCode) findings.push(trustRemoteCodeRefused(source, path));
        return;
      }
      if (!allowed.has(name)) {
        findings.push(
          ruleFinding(
            source,
            "extra-arg-not-allowed",
            path,
            `flag '${name}' is not on the stack's allow-list; allowed: ${allowedList}.`,
            "Remove it, or ask the platform team to add it to the stack's allowedExtraArgs.",
          ),
        );
        awaitingValue = false;
        return;
      }
      extraArgs.push(arg);
      return;
    }
    const isNegativeNumber = /^-\d/.test(arg);
    if (arg.startsWith("-") && !isNegativeNumber) {
      findings.push(
        ruleFinding(
          source,
          "extra-arg-not-allowed",
          path,
          `short flag '${arg}' is not accepted: only long flags from the stack's allow-list are (${allowedList}).`,
          "Use the flag's long form, e.g. --dtype instead of -d.",
        ),
      );
      awaitingValue = false;
      return;
    }
    const last = extraArgs.at(-1);
    if (!awaitingValue || last === undefined) {
      findings.push(
        ruleFinding(
          source,
          "extra-arg-stray-value",
          path,
          `'${arg}' is not a flag and does not follow a flag that takes a value.`,
          "Write values as '--flag=value' or put them right after their flag.",
        ),
      );
      return;
    }
    extraArgs[extraArgs.length - 1] = `${last}=${arg}`;
    awaitingValue = false;
  });
  return { findings, extraArgs, asksTrustRemoteCode };
}

/** `trustRemoteCode: true` (or `--trust-remote-code`) runs Python from the bucket on the cluster. */
export function trustRemoteCodeRefused(source: FindingSource, path: string): Finding {
  return ruleFinding(
    source,
    "trust-remote-code",
    path,
    "trust-remote-code runs Python code from the bucket on the cluster, and this stack does not allow it.",
    "Use a model whose architecture the runtime supports natively, or ask the platform team to set allowTrustRemoteCode.",
  );
}

function flagName(arg: string): string {
  const equals = arg.indexOf("=");
  return equals === -1 ? arg : arg.slice(0, equals);
}
