// The RunHooks stage: runs the manifest's hooks at one point of the rollout (core/gates/hooks.ts), one after
// another in the manifest's order, and judges each answer. A hook that fails — answers pass: false, cannot be
// reached, errs, or does not answer in time — with `onFailure: rollback` ends the stage with HookFailed naming
// it (the state machine stops the rollout before traffic, and rolls it back after); with `onFailure: ignore` it
// is recorded, announced, and the next hook runs. The state machine calls the stage only at points that have
// hooks (plan.hooks).

import { HookFailed } from "../core/errors";
import {
  clipReason,
  describeHookRun,
  type HookRequest,
  type HookRun,
  parseHookAnswer,
} from "../core/gates/hooks";
import type { HookPoint, ResolvedHook } from "../core/manifest/manifest-schema";
import type { ExecutionState } from "../core/rollout/rollout";
import type { Interruptible, StageDeps } from "./deps";
import { rolloutEvent } from "./events";
import type { CanaryProgress } from "./flow-state";
import { type DepsUsing, portUse } from "./port-use";
import { callUrlHook } from "./url-hook";
import { runningTransition } from "./running-transition";

export const RUN_HOOKS_USES = portUse({
  hooks: ["callFunction", "signingKey"],
  events: ["emit"],
  clock: ["now"],
  objects: { location: [] },
  store: ["record"],
});

type RunHooksDeps = DepsUsing<typeof RUN_HOOKS_USES> & Pick<StageDeps, "config">;

/** The RunHooks Task's input: the point, and the execution's state (`"state.$": "$"`). */
export interface RunHooksInput {
  readonly at: HookPoint;
  readonly state: ExecutionState;
}

/** One hook's result as `$.hooks` keeps it. */
export interface HookResult {
  readonly name: string;
  readonly pass: boolean;
  readonly reason: string;
  /** Failed, and its `onFailure: ignore` let the rollout go on. */
  readonly ignored?: true;
  readonly durationMs: number;
  readonly attempts: number;
}

/** What the stage returns (`$.hooks`): the last point's results. */
export interface HooksResult {
  readonly at: HookPoint;
  readonly results: readonly HookResult[];
}

/** The state machine's name for the hooks of each point, as events name the stage. */
export const HOOK_STATES: Readonly<Record<HookPoint, string>> = {
  preTraffic: "PreTrafficHooks",
  eachStep: "StepHooks",
  prePromote: "PrePromoteHooks",
  postPromote: "PostPromoteHooks",
};

const VARIANT_HEADER = "x-modelship-variant";

export async function runHooks(
  input: RunHooksInput,
  deps: RunHooksDeps,
  interruptible: Interruptible = {},
): Promise<HooksResult> {
  const { at, state } = input;
  const { rollout, manifest } = state;
  if (!manifest) throw new Error("RunHooks needs the resolved manifest ($.manifest) that Prepare returns.");
  const stage = HOOK_STATES[at];
  const results: HookResult[] = [];
  const step = at === "eachStep" ? (state.canary as CanaryProgress | undefined)?.step : undefined;
  for (const hook of manifest.gates.hooks.filter((h) => h.at === at)) {
    const started = deps.clock.now().getTime();
    let attempts = 0;
    const verdict = await judge(hook, hookRequest(hook, state, deps), deps, interruptible, () => attempts++);
    const run: HookRun = {
      name: hook.name,
      at,
      result: verdict.pass ? "passed" : hook.onFailure === "rollback" ? "failed" : "ignored",
      reason: verdict.reason,
      durationMs: Math.max(0, deps.clock.now().getTime() - started),
      attempts: hook.target.kind === "function" ? 1 : attempts,
      ...(step === undefined ? {} : { step }),
    };
    // Recorded before a failure ends the stage: status and the report show the hook that stopped the rollout.
    await deps.store.record(
      rollout.model,
      { ...runningTransition(rollout, stage, `Hook ${describeHookRun(run)}`, deps.clock), hook: run },
      undefined,
      { owned: true },
    );
    const measured = { durationMs: run.durationMs, attempts: run.attempts };
    if (verdict.pass) {
      results.push({ name: hook.name, pass: true, reason: verdict.reason, ...measured });
      continue;
    }
    const sentence = `Hook '${hook.name}' (${at}) failed: ${verdict.reason}`;
    if (hook.onFailure === "rollback") {
      throw new HookFailed(sentence, {
        hint:
          at === "preTraffic"
            ? "No traffic reached the candidate. Fix what the hook found and upload the version again."
            : "The candidate was rolled back. Fix what the hook found and upload the version again.",
      });
    }
    results.push({ name: hook.name, pass: false, reason: verdict.reason, ignored: true, ...measured });
  }
  await deps.events.emit(
    rolloutEvent("Stage Succeeded", rollout, stage, resultsSentence(at, results), deps.clock, {
      data: { at, results },
    }),
  );
  return { at, results };
}

/** The verdict of one hook; anything but a passing answer in time is a failure with its reason. */
async function judge(
  hook: ResolvedHook,
  request: HookRequest,
  deps: RunHooksDeps,
  interruptible: Interruptible,
  onAttempt: () => void,
): Promise<{ pass: boolean; reason: string }> {
  const body = JSON.stringify(request);
  const timeoutMs = hook.timeoutSeconds * 1000;
  try {
    const answer =
      hook.target.kind === "function"
        ? await deps.hooks.callFunction(hook.target.name, body, timeoutMs)
        : await callUrlHook({
            url: hook.target.url,
            body,
            key: await deps.hooks.signingKey(),
            timeoutMs,
            onAttempt,
            ...(interruptible.signal ? { signal: interruptible.signal } : {}),
          });
    return parseHookAnswer(answer);
  } catch (error) {
    if (interruptible.signal?.aborted) throw error;
    return { pass: false, reason: clipReason(error instanceof Error ? error.message : String(error)) };
  }
}

/** What a hook is sent at this point of the rollout. */
function hookRequest(hook: ResolvedHook, state: ExecutionState, deps: RunHooksDeps): HookRequest {
  const { rollout, plan } = state;
  const { url, modelHeader } = deps.config.gateway;
  const base = url.replace(/\/+$/, "");
  return {
    hook: hook.name,
    at: hook.at,
    rolloutId: rollout.id,
    model: rollout.model,
    version: rollout.version,
    ...(plan?.stableVersion === undefined ? {} : { stableVersion: plan.stableVersion }),
    weights: weightsAt(hook.at, state),
    reports: `${deps.objects.location}/reports/${rollout.model}/${rollout.version}/${rollout.id}/`,
    candidate: {
      ...(base === "" ? {} : { baseUrl: base.endsWith("/v1") ? base : `${base}/v1` }),
      headers: { [VARIANT_HEADER]: "candidate", ...(modelHeader ? { [modelHeader]: rollout.model } : {}) },
      model: rollout.model,
    },
    sentAt: deps.clock.now().toISOString(),
  };
}

function weightsAt(at: HookPoint, state: ExecutionState): HookRequest["weights"] {
  const stable = state.plan?.hasStable ? 100 : 0;
  if (at === "postPromote") return { stable: 0, candidate: 100 };
  const canary = state.canary as CanaryProgress | undefined;
  if (at === "preTraffic" || canary?.weight === undefined) return { stable, candidate: 0 };
  return { stable: 100 - canary.weight, candidate: canary.weight };
}

function resultsSentence(at: HookPoint, results: readonly HookResult[]): string {
  const each = results.map((r) =>
    r.pass ? `${r.name} passed` : `${r.name} failed (ignored: onFailure ignore): ${r.reason}`,
  );
  return `The ${at} hooks ran: ${each.join("; ")}.`;
}
