// What DeployCandidate decides about capacity before and right after it deploys: whether the cluster holds the
// GPUs (locally: the server slots) the rollout needs at its peak (core/capacity/capacity-plan: the candidate's full size beside the stable in
// `surge`, one replica more than the stable in `constrained`; a first release its own replicas), and, for a
// manifest that autoscales, the candidate's autoscaler — made now and pinned to the one replica the gates
// test, so which autoscaler the cluster gets, and why, is known before any traffic moves.
//
// The stable's GPUs per replica are taken to be the candidate's (its GPU plan is an earlier rollout's); the
// check says so in its reason.

import { candidateReplicasAt, planCapacity } from "../core/capacity/capacity-plan";
import { baseReplicas, DEFAULT_SCALING } from "../core/resolution/manifest-capacity";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import type { RolloutIdentity } from "../core/rollout/rollout";
import type { AutoscalerChoice, CandidateHandle, CapacityCheck } from "../ports";
import { type DepsUsing, portUse } from "./port-use";

export const DEPLOY_CAPACITY_USES = portUse({
  store: ["get"],
  serving: ["replicas", "checkCapacity", "autoscale"],
});

type CapacityDeps = DepsUsing<typeof DEPLOY_CAPACITY_USES>;

/** The capacity the rollout needs beyond what runs, checked against the cluster now, with the plan in words. */
export async function checkRolloutCapacity(
  rollout: RolloutIdentity,
  manifest: ResolvedManifest,
  gpusPerReplica: number,
  deps: CapacityDeps,
): Promise<CapacityCheck & { readonly plan: string }> {
  const stable = (await deps.store.get(rollout.model))?.stable;
  const weights = manifest.rollout.steps.map((step) => step.weight);
  let extraGpus: number;
  let extraReplicas: number;
  let plan: string;
  if (stable && weights.length > 0) {
    const stableReplicas = Math.max(1, (await deps.serving.replicas(stable.handle)).desired);
    const capacity = planCapacity({
      stableReplicas,
      weights,
      // A state written before capacity modes existed ran its canaries in surge.
      mode: manifest.rollout.capacity ?? "surge",
      gpusPerReplica: { stable: gpusPerReplica, candidate: gpusPerReplica },
    });
    extraGpus = capacity.peakGpus - stableReplicas * gpusPerReplica;
    extraReplicas = capacity.peakReplicas - stableReplicas;
    plan = `${capacity.mode} canary beside ${stable.version}'s ${stableReplicas} replica${stableReplicas === 1 ? "" : "s"}: at most ${capacity.peakReplicas} replicas at once`;
  } else {
    // A first release (or blue/green) runs the candidate at full size: its own replicas, or the stable's count.
    const replicas = stable
      ? candidateReplicasAt((await deps.serving.replicas(stable.handle)).desired, 100)
      : baseReplicas(manifest.serving.scaling ?? DEFAULT_SCALING);
    extraGpus = replicas * gpusPerReplica;
    extraReplicas = replicas;
    plan = `${replicas} replica${replicas === 1 ? "" : "s"} of ${rollout.version}${stable ? ` beside ${stable.version}` : ""}`;
  }
  const check = await deps.serving.checkCapacity({ gpus: extraGpus, replicas: extraReplicas });
  const assumption =
    stable && gpusPerReplica > 0
      ? ` (${stable.version}'s replicas counted at ${gpusPerReplica} GPUs, as the candidate's)`
      : "";
  return { ...check, plan: `${plan}${assumption}` };
}

/** What to do about too little capacity, for the InsufficientCapacity a user reads. */
export const INSUFFICIENT_CAPACITY_HINT =
  "Free GPUs of the stack's kind (or raise the Karpenter NodePool's limits; locally: stop a server or raise local.maxServers), use rollout.capacity: constrained to need at most one replica more than the stable, lower serving.replicas, or allow a longer rollout.capacityWaitSeconds; then upload again.";

/**
 * The candidate's autoscaler when the manifest autoscales, pinned to one replica while the gates run (the
 * canary's capacity plan moves it; Promote gives it the manifest's range); undefined for a fixed count.
 */
export async function autoscaleCandidate(
  handle: CandidateHandle,
  manifest: ResolvedManifest,
  deps: CapacityDeps,
): Promise<AutoscalerChoice | undefined> {
  const { scaling } = manifest.serving;
  if (scaling?.kind !== "autoscaling") return undefined;
  return deps.serving.autoscale(handle, scaling, { minReplicas: 1, maxReplicas: 1 });
}
