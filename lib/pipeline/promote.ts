// The Promote stage, after the canary's last step, a requested promotion, or the gates of a first release:
// the candidate takes 100% of the model's traffic, is Approved in the model registry and becomes the stable
// version; the old stable stays warm (previousStable) through the watch so a rollback can return to it. A
// first release, which had no canary, arms its alarms and prober here: the watch is watched the same way.
// The candidate's gate results are kept with its version for the next rollout's regression gates.
//
// The promotion is recorded first, conditionally on the rollout still owning the model, with the "Model
// Promoted" event to announce; then the route, the registry and the results follow, each change fenced
// (lib/pipeline/rollout-fence.ts). A rollback at any point finds the record naming the new stable and the warm
// previous one, and returns the route to the previous one; a change the stage makes after that is undone by
// the stage itself. Before any traffic moves, the candidate is scaled to the size it serves 100% with and its
// replicas are waited for (bounded, lib/pipeline/replica-wait.ts): a promotion requested early, at a 25% step,
// would otherwise hand all traffic to the replicas of that step. Idempotent: a retry that finds the promotion recorded and announced does nothing; one that
// finds its event still pending makes the same (idempotent) changes again and announces it.

import { DEFAULT_SCALING } from "../core/resolution/manifest-capacity";
import type { ResolvedScaling } from "../core/manifest/manifest-schema";
import type { ExecutionState, ModelRecord, ServingVersion } from "../core/rollout/rollout";
import { ANNOUNCE_USES, announcePending, stageComplete } from "./announce";
import { ARMING_USES, armRolloutWatch, rolloutAlarms } from "./canary-arming";
import { planAndManifest } from "./canary-state";
import type { StageDeps } from "./deps";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import type { RolloutOutcome } from "./flow-state";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { REPLICA_WAIT_USES, type ReplicaWait, scaleAndWaitReady } from "./replica-wait";
import { growCandidateStepwise, PROMOTE_CAPACITY_USES } from "./promote-capacity";
import { recordedTransition } from "./rollout-record";
import { REGISTRY_UNDO_USES, registryUndo, ROUTE_UNDO_USES, routeUndo } from "./stage-undos";

/** 100% to the candidate, Approved in the registry, its results kept; a first release is armed here. */
export const PROMOTE_USES = combinedUse(
  ARMING_USES,
  FENCE_USES,
  ANNOUNCE_USES,
  ROUTE_UNDO_USES,
  REGISTRY_UNDO_USES,
  REPLICA_WAIT_USES,
  PROMOTE_CAPACITY_USES,
  portUse({
    store: ["get", "record", "saveVersionResults"],
    gateway: ["promote"],
    serving: ["scale"],
    registry: ["setStatus"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type PromoteDeps = DepsUsing<typeof PROMOTE_USES> & Pick<StageDeps, "config">;

const STAGE = "Promote";
/**
 * The longest Promote waits for the candidate's full-size replicas: four minutes, inside the Promote Task's
 * 300 s (statemachines/pipeline.asl.json) less the Lambda's 15 s margin and the stage's own writes.
 */
export const PROMOTE_WAIT_SECONDS = 240;
const GATE_RESULTS = ["smoke", "stress", "eval"] as const;

export async function promote(state: ExecutionState, deps: PromoteDeps): Promise<RolloutOutcome> {
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, STAGE);
  const fence = new RolloutFence(deps.store, rollout, STAGE);
  const record = await fence.check();
  const done = recordedTransition(record, rollout.id, STAGE);
  if (done && (await stageComplete(deps, record, rollout.id, STAGE))) return { reason: done.reason };
  const { candidate, previous } = done
    ? promotedVersions(record, rollout.id)
    : versionsToPromote(record, rollout.id);
  const alarms = rolloutAlarms(rollout, manifest, previous?.version, deps);

  // The candidate's full size, ready before it takes 100% (again on a retry, which finds it ready). In
  // `constrained` it grows one replica at a time as the stable gives up its own (lib/pipeline/promote-capacity.ts).
  const scaling = manifest.serving.scaling ?? DEFAULT_SCALING;
  const started = deps.clock.now().getTime();
  const stepwise =
    !done && previous
      ? await growCandidateStepwise(
          { rollout, manifest, plan, stable: previous, candidate, fence },
          PROMOTE_WAIT_SECONDS,
          deps,
        )
      : undefined;
  const capacity = (await fence.check()).capacity;
  const ownCapacity = capacity?.rolloutId === rollout.id ? capacity : undefined;
  const wanted = fullSize(scaling, ownCapacity?.stableReplicas);
  const left = PROMOTE_WAIT_SECONDS - Math.round((deps.clock.now().getTime() - started) / 1000);
  // Cut short, a constrained promotion does not add the rest beside the stable's replicas: they start once the
  // stable has given them up, after the route moved (below).
  const waited =
    stepwise && stepwise.ready < stepwise.replicas
      ? stepwise
      : ((await fence.act(() => scaleAndWaitReady(candidate.handle, wanted, Math.max(0, left), deps))) ??
        stepwise);
  let reason = done?.reason;
  if (!reason) {
    const sized = waited ? describeWait(rollout.version, waited, stepwise !== undefined) : "";
    reason = !previous
      ? `${rollout.model} ${rollout.version} was released at 100% (a first release: no canary) and is watched for ${plan.watchSeconds} s.`
      : plan.strategy?.kind === "blueGreen"
        ? `${rollout.model} ${rollout.version} took 100% of traffic at once (blue/green); ${previous.version} stays warm through the ${plan.watchSeconds} s watch, to take it all back in one step on an alarm.`
        : `${rollout.model} ${rollout.version} was promoted to 100%; ${previous.version} stays warm through the ${plan.watchSeconds} s watch.`;
    reason += sized;
    const weights = { stable: 100, candidate: 0 };
    const event = rolloutEvent("Model Promoted", rollout, STAGE, reason, deps.clock, {
      data: { previousStable: previous?.version ?? null, watchSeconds: plan.watchSeconds, weights },
    });
    await fence.record(
      {
        at: deps.clock.now().toISOString(),
        rolloutId: rollout.id,
        version: rollout.version,
        stage: STAGE,
        status: "promoted",
        reason,
        weights,
      },
      {
        status: "promoted",
        stableVersion: rollout.version,
        stable: candidate,
        previousStable: previous ?? null,
        candidateVersion: null,
        candidate: null,
        weights,
        canary: null,
        promoteRequested: null,
        alarmNames: record.alarmNames ?? alarms.alarmNames,
      },
      { announce: [event] },
    );
  }

  // A rollout with no canary steps (a first release, blue/green) is armed here, before it takes traffic
  // (again on a retry: both calls are idempotent).
  if (plan.canarySteps.length === 0) await armRolloutWatch(rollout, alarms, deps, fence);
  await fence.act(
    () => deps.gateway.promote(rollout.model, rollout.version),
    routeUndo(deps.gateway, rollout.model, rollout.version, previous?.version),
  );
  // In `constrained` the previous stable keeps one replica warm for the watch, and no more: a promotion cut short
  // by its wait left it the replicas its share needed (a no-op after the canary's last step).
  if (previous && ownCapacity?.mode === "constrained") {
    const kept = await deps.serving.replicas(previous.handle);
    if (kept.desired > 1) await fence.act(() => deps.serving.scale(previous.handle, 1));
  }
  // The new stable serves with its own replicas from now on: its fixed count, or its autoscaler's range back —
  // once it has the traffic, so an autoscaler that sees no load yet does not shrink it before it arrives.
  await fence.act(() =>
    deps.serving.scale(candidate.handle, scaling.kind === "fixed" ? scaling.replicas : "autoscaled"),
  );
  await fence.act(
    () => deps.registry.setStatus(rollout.model, rollout.version, "Approved", reason),
    registryUndo(deps.registry, rollout.model, rollout.version, `Rolled back while ${STAGE} ran.`),
  );
  await fence.act(() =>
    deps.store.saveVersionResults(rollout.model, rollout.version, {
      rolloutId: rollout.id,
      promotedAt: deps.clock.now().toISOString(),
      ...Object.fromEntries(GATE_RESULTS.flatMap((gate) => (state[gate] ? [[gate, state[gate]]] : []))),
    }),
  );
  await announcePending(deps, rollout.model, rollout.id);
  return { reason };
}

/**
 * The replicas the candidate serves 100% with: its fixed count, or its autoscaler's minimum but at least the
 * stable's size when the canary began (it carried all the traffic with that many), within the maximum.
 */
function fullSize(scaling: ResolvedScaling, stableReplicas: number | undefined): number {
  if (scaling.kind === "fixed") return scaling.replicas;
  return Math.min(scaling.maxReplicas, Math.max(scaling.minReplicas, stableReplicas ?? 0));
}

/**
 * The sentence a promotion's reason gets when the candidate was scaled up first — at once, or one replica at a
 * time in `constrained`: how long it took, or how far it got.
 */
function describeWait(version: string, waited: ReplicaWait, stepwise: boolean): string {
  const { replicas, ready, seconds } = waited;
  const how = stepwise
    ? `brought to its full ${replicas} replicas one at a time as the stable gave up its own (rollout.capacity: constrained)`
    : `scaled to its full ${replicas} replicas`;
  return ready >= replicas
    ? ` ${version} was ${how} first, ready ${seconds} s after the ${stepwise ? "first " : ""}scale: the promotion was slower by that much.`
    : ` ${version} was ${how} first, but only ${ready} were ready after ${seconds} s, the longest Promote waits: it took 100% regardless, the rest start behind it.`;
}

/** Before the promotion is recorded: the candidate RegisterGateway recorded, and the stable it replaces. */
function versionsToPromote(record: ModelRecord, rolloutId: string) {
  const candidate = record.candidate;
  if (!candidate || candidate.rolloutId !== rolloutId) {
    throw new Error(
      `Promote needs the candidate RegisterGateway records, but ${record.model}'s record names ${candidate ? `rollout ${candidate.rolloutId}'s` : "no"} candidate.`,
    );
  }
  return { candidate, previous: record.stable };
}

/** After the promotion is recorded (a retry): the version is the stable, the one it replaced is kept warm. */
function promotedVersions(
  record: ModelRecord,
  rolloutId: string,
): { candidate: ServingVersion; previous: ServingVersion | undefined } {
  const stable = record.stable;
  if (!stable || stable.rolloutId !== rolloutId) {
    throw new Error(
      `Promote was recorded for rollout ${rolloutId}, but ${record.model}'s stable version is ${stable ? `${stable.version} of rollout ${stable.rolloutId}` : "not recorded"}.`,
    );
  }
  return { candidate: stable, previous: record.previousStable };
}
