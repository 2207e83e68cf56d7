// The Shadow stage, at three points of the state machine's shadow phase (core/traffic/shadow.ts), after the gates and
// the approval before traffic, before the first canary step:
// - `start` (StartShadow): records the shadow — the record's `shadow` and the alarms' names, with "Shadow
//   Started" to announce — conditionally on the rollout owning the model; arms the candidate's alarms and
//   prober (canary-arming.ts; the first CanaryStep finds them armed); then has the route copy the share of
//   the stable's requests to the candidate. Each change is fenced (rollout-fence.ts): a rollback that acts
//   meanwhile finds the record naming what to undo, and the stage undoes its own late changes.
// - `check` (CheckShadow), after the shadow's Wait: the rollout still owns the model and no alarm fires —
//   otherwise roll back. It keeps the gateway's paired answers and the verdict in shadow.json for the report.
//   A `Promote Requested` that arrived meanwhile is left for the canary's first check.
// - `end` (EndShadow): the mirror comes off the route, the record's shadow is cleared and "Shadow Ended" is
//   announced; the rollout goes on to its first step (or, blue/green, its switch).
// Every failure path goes to Rollback, which takes the mirror off with the candidate (a promotion of the stable
// and removing the candidate both end a mirror) and says that no user saw the candidate's answers.

import type { ShadowSettings } from "../core/manifest/rollout-settings";
import type { ExecutionState, ModelRecord, ShadowPhase } from "../core/rollout/rollout";
import { alarmStatusLine, firingReason } from "./alarm-report";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { ARMING_USES, armRolloutWatch, rolloutAlarms } from "./canary-arming";
import { planAndManifest } from "./canary-state";
import type { StageDeps } from "./deps";
import { rolloutEvent } from "./events";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { reportPrefix } from "./rollout-report";
import { lostOwnershipReason, ownsModel } from "./rollout-record";
import { MIRROR_UNDO_USES, mirrorUndo } from "./stage-undos";
import { runningTransition } from "./running-transition";

export const SHADOW_USES = combinedUse(
  ARMING_USES,
  MIRROR_UNDO_USES,
  FENCE_USES,
  ANNOUNCE_USES,
  portUse({
    store: ["get", "record"],
    gateway: ["mirror", "shadowSamples"],
    alarms: ["states"],
    events: ["emit"],
    clock: ["now"],
    objects: { put: ["reports"] },
  }),
);

type ShadowDeps = DepsUsing<typeof SHADOW_USES> & Pick<StageDeps, "config">;

/** The Shadow Task's input: which point, and the execution's state (`"state.$": "$"`). */
export interface ShadowInput {
  readonly action: "start" | "check" | "end";
  readonly state: ExecutionState;
}

/** `$.shadow` after StartShadow: the Wait reads `seconds`. */
export interface ShadowProgress extends ShadowSettings {
  readonly since: string;
  readonly stableVersion: string;
}

/** `$.shadow.check` after CheckShadow. */
export interface ShadowCheck {
  readonly rollback: boolean;
  readonly reason: string;
}

const STATE_NAMES = { start: "StartShadow", check: "CheckShadow", end: "EndShadow" } as const;

export async function shadow(
  input: ShadowInput,
  deps: ShadowDeps,
): Promise<ShadowProgress | ShadowCheck | Record<string, unknown>> {
  switch (input.action) {
    case "start":
      return startShadow(input.state, deps);
    case "check":
      return checkShadow(input.state, deps);
    case "end":
      return endShadow(input.state, deps);
  }
}

async function startShadow(state: ExecutionState, deps: ShadowDeps): Promise<ShadowProgress> {
  const stage = STATE_NAMES.start;
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, stage);
  const settings = plan.shadow;
  if (!settings) throw new Error(`${stage} runs only when $.plan.shadow is present; this plan has none.`);
  const fence = new RolloutFence(deps.store, rollout, stage);
  const record = await fence.check();
  const { stable, candidate } = shadowVersions(record, rollout.id, stage);
  const alarms = rolloutAlarms(rollout, manifest, stable, deps);
  let phase = record.shadow?.rolloutId === rollout.id ? record.shadow : undefined;
  if (!phase) {
    phase = { ...settings, rolloutId: rollout.id, version: candidate, since: deps.clock.now().toISOString() };
    const message = `${rollout.model} ${candidate} answers copies of ${settings.percent}% of ${stable}'s requests for ${settings.seconds} s (a shadow): ${stable} still answers every user, the copies' answers are thrown away, and the alarms judge ${candidate} on them.`;
    await fence.record(
      { ...runningTransition(rollout, stage, message, deps.clock), at: phase.since },
      { shadow: phase, alarmNames: record.alarmNames ?? alarms.alarmNames },
      {
        announce: [
          rolloutEvent("Shadow Started", rollout, stage, message, deps.clock, {
            data: { percent: settings.percent, seconds: settings.seconds, stableVersion: stable },
          }),
        ],
      },
    );
  }
  await armRolloutWatch(rollout, alarms, deps, fence);
  await fence.act(
    () => deps.gateway.mirror(rollout.model, { version: candidate, percent: settings.percent }),
    mirrorUndo(deps.gateway, rollout.model, candidate),
  );
  await announcePending(deps, rollout.model, rollout.id);
  return { percent: phase.percent, seconds: phase.seconds, since: phase.since, stableVersion: stable };
}

/** The alarms and the record after the shadow's Wait; the gateway's paired answers go to shadow.json. */
async function checkShadow(state: ExecutionState, deps: ShadowDeps): Promise<ShadowCheck> {
  const stage = STATE_NAMES.check;
  const { rollout } = state;
  const record = await deps.store.get(rollout.model);
  const verdict = await shadowVerdict(record, rollout.id, stage, deps);
  const phase = record?.shadow?.rolloutId === rollout.id ? record.shadow : undefined;
  await writeShadowDocument(state, phase, verdict, deps);
  return verdict;
}

async function shadowVerdict(
  record: ModelRecord | undefined,
  rolloutId: string,
  stage: string,
  deps: ShadowDeps,
): Promise<ShadowCheck> {
  if (!record || !ownsModel(record, rolloutId, stage)) {
    return { rollback: true, reason: lostOwnershipReason(record, rolloutId, stage) };
  }
  const names = record.alarmNames ?? [];
  const states = names.length > 0 ? await deps.alarms.states(names) : [];
  const firing = firingReason(states);
  if (firing) return { rollback: true, reason: firing };
  const shadow = record.shadow;
  const what = shadow
    ? `The shadow of ${shadow.version} (${shadow.percent}% of the stable's requests for ${shadow.seconds} s) passed`
    : "The shadow passed";
  return { rollback: false, reason: `${what}; ${alarmStatusLine(names, states)}.` };
}

/**
 * shadow.json: the settings, the verdict and what the gateway kept of the paired answers — for the report.
 * Not a change of the world a rollback must undo: it is written whether or not the rollout still runs.
 */
async function writeShadowDocument(
  state: ExecutionState,
  phase: ShadowPhase | undefined,
  verdict: ShadowCheck,
  deps: ShadowDeps,
): Promise<void> {
  const { rollout, plan } = state;
  const settings = phase ?? plan?.shadow;
  const document = {
    rolloutId: rollout.id,
    version: rollout.version,
    at: deps.clock.now().toISOString(),
    model: rollout.model,
    percent: settings?.percent ?? 0,
    seconds: settings?.seconds ?? 0,
    ...(phase && { since: phase.since }),
    ...(plan?.stableVersion !== undefined && { stableVersion: plan.stableVersion }),
    verdict,
    samples: await deps.gateway.shadowSamples(rollout.model),
  };
  await deps.objects.put(`${reportPrefix(rollout)}/shadow.json`, JSON.stringify(document, null, 2), {
    contentType: "application/json",
  });
}

async function endShadow(state: ExecutionState, deps: ShadowDeps): Promise<Record<string, unknown>> {
  const stage = STATE_NAMES.end;
  const { rollout } = state;
  const fence = new RolloutFence(deps.store, rollout, stage);
  const record = await fence.check();
  await fence.act(() => deps.gateway.mirror(rollout.model, undefined));
  const phase = record.shadow?.rolloutId === rollout.id ? record.shadow : undefined;
  if (phase) {
    const message = `The shadow of ${rollout.model} ${phase.version} is over: its alarms stayed quiet on copies of ${phase.percent}% of the stable's requests for ${phase.seconds} s; the mirror is off and the rollout goes on.`;
    await fence.record(
      runningTransition(rollout, stage, message, deps.clock),
      { shadow: null },
      {
        announce: [
          rolloutEvent("Shadow Ended", rollout, stage, message, deps.clock, {
            data: { percent: phase.percent, seconds: phase.seconds, passed: true },
          }),
        ],
      },
    );
  }
  await announcePending(deps, rollout.model, rollout.id);
  return { ended: true };
}

/** The stable whose requests are copied and the candidate they are copied to, as the record names them. */
function shadowVersions(record: ModelRecord, rolloutId: string, stage: string) {
  const { stable, candidate } = record;
  if (!candidate || candidate.rolloutId !== rolloutId || !stable) {
    throw new Error(
      `${stage} needs the stable version and the candidate RegisterGateway recorded, but ${record.model}'s record names ${stable ? `stable ${stable.version}` : "no stable"} and ${candidate ? `rollout ${candidate.rolloutId}'s candidate` : "no candidate"}.`,
    );
  }
  return { stable: stable.version, candidate: candidate.version };
}
