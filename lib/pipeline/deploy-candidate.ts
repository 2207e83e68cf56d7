// The DeployCandidate stage: starts the candidate's server — what to run as Validate chose it (the manifest's
// runtime, image and context length, or the weights' where it sets none; its extra flags), how big from
// Validate (format, GPU plan, bytes of weights), where the weights are from the rollout's prefix in the
// pipeline's own bucket (the one Validate read, never a bucket the rollout's state names) — and returns the
// handle the readiness loop, the gates and Cleanup use.
// Idempotent: Serving.deploy adopts a candidate that exists, so a retried deploy never starts a second one.
//
// The same function answers the CheckCapacity state before it (`action: "checkCapacity"`, capacity-wait.ts):
// whether the capacity the rollout needs is there, or how long it still waits. DeployCandidate then deploys on
// that look; a state without one (an execution of a definition without CheckCapacity) is checked here, and too
// little capacity fails at once, as it did then.

import type { StackConfig } from "../core/config/config";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import type { ExecutionState, RolloutIdentity, ValidationSummary } from "../core/rollout/rollout";
import { chooseServing } from "../core/weights/serving-choice";
import type { CandidateHandle, CandidateSpec } from "../ports";
import { describeWaitSeconds } from "../core/capacity/capacity-wait";
import { InsufficientCapacity } from "../core/errors";
import { CAPACITY_WAIT_USES, type CapacityLookInput, lookForCapacity } from "./capacity-wait";
import type { CapacityProgress } from "./flow-state";
import type { StageDeps } from "./deps";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";
import {
  autoscaleCandidate,
  checkRolloutCapacity,
  DEPLOY_CAPACITY_USES,
  INSUFFICIENT_CAPACITY_HINT,
} from "./deploy-capacity";

export const DEPLOY_CANDIDATE_USES = combinedUse(
  ABORT_WATCH_USES,
  DEPLOY_CAPACITY_USES,
  CAPACITY_WAIT_USES,
  portUse({ serving: ["deploy"], events: ["emit"], clock: ["now"], objects: { bucket: [] } }),
);

type DeployDeps = DepsUsing<typeof DEPLOY_CANDIDATE_USES> & Pick<StageDeps, "config">;

const STAGE = "DeployCandidate";
const TRUST_REMOTE_CODE_FLAG = "--trust-remote-code";

/** DeployCandidate's Task hands the function the state itself; CheckCapacity's wraps it with its action. */
export type DeployCandidateInput = ExecutionState | CapacityLookInput;

export function deployCandidate(input: CapacityLookInput, deps: DeployDeps): Promise<CapacityProgress>;
export function deployCandidate(input: ExecutionState, deps: DeployDeps): Promise<CandidateHandle>;
export function deployCandidate(
  input: DeployCandidateInput,
  deps: DeployDeps,
): Promise<CandidateHandle | CapacityProgress>;
export async function deployCandidate(
  input: DeployCandidateInput,
  deps: DeployDeps,
): Promise<CandidateHandle | CapacityProgress> {
  if ("action" in input) {
    const { state } = input;
    const { manifest, validation } = requireValidated(state, "CheckCapacity");
    const spec = candidateSpec(state.rollout, manifest, validation, deps.objects.bucket, deps.config);
    return lookForCapacity(state, spec.gpus, deps);
  }
  return deploy(input, deps);
}

async function deploy(state: ExecutionState, deps: DeployDeps): Promise<CandidateHandle> {
  const { rollout } = state;
  const { manifest, validation } = requireValidated(state, STAGE);
  const spec = candidateSpec(rollout, manifest, validation, deps.objects.bucket, deps.config);
  // Stopped by a command while it validated: no GPU is started for a rollout already over.
  await assertNotAborted(deps, rollout, STAGE);
  // Before anything starts: CheckCapacity found the capacity (after a wait, perhaps). A state without its look
  // is checked now, and a rollout the cluster cannot hold at its peak fails before any traffic moves.
  const looked = state.capacity as CapacityProgress | undefined;
  const capacity = looked?.enough
    ? looked
    : await checkRolloutCapacity(rollout, manifest, spec.gpus, deps).then((check) => {
        if (check.enough) return { ...check, waitedSeconds: 0 };
        throw new InsufficientCapacity(`${check.reason} The plan: ${check.plan}. Nothing was deployed.`, {
          hint: INSUFFICIENT_CAPACITY_HINT,
        });
      });
  const waited =
    capacity.waitedSeconds > 0
      ? ` It waited ${describeWaitSeconds(capacity.waitedSeconds)} for capacity.`
      : "";
  const handle = await deps.serving.deploy(spec);
  const autoscaler = await autoscaleCandidate(handle, manifest, deps);
  const where = spec.gpus > 0 ? `${spec.gpus} GPU${spec.gpus === 1 ? "" : "s"}` : "CPU";
  const scaled = autoscaler ? ` Autoscaler: ${autoscaler.kind} — ${autoscaler.reason}` : "";
  await deps.events.emit(
    rolloutEvent(
      "Stage Succeeded",
      rollout,
      STAGE,
      `Deployed the candidate ${rollout.model} ${rollout.version} (${spec.runtime}, ${spec.image}, ${where}) as ${handle.id}; waiting for it to be ready. Capacity: ${capacity.plan}; ${capacity.reason}${waited}${scaled}`,
      deps.clock,
      {
        data: {
          candidate: handle.id,
          runtime: spec.runtime,
          image: spec.image,
          gpus: spec.gpus,
          capacity: {
            plan: capacity.plan,
            neededGpus: capacity.neededGpus,
            freeGpus: capacity.freeGpus,
            waitedSeconds: capacity.waitedSeconds,
          },
          ...(autoscaler && { autoscaler }),
          // Where the runtime put it (a Deployment and Service, a process and port): for whoever must find it.
          ...(handle.details === undefined ? {} : { where: handle.details }),
        },
      },
    ),
  );
  return handle;
}

function requireValidated(state: ExecutionState, stage: string) {
  const { manifest, validation } = state;
  if (!manifest || !validation) {
    throw new Error(
      `${stage} needs $.manifest (from Prepare) and $.validation (from Validate); the state has ${manifest ? "no validation" : "no manifest"}.`,
    );
  }
  return { manifest, validation };
}

/** The workload for this rollout: the manifest's serving settings sized by Validate's plan. */
function candidateSpec(
  rollout: RolloutIdentity,
  manifest: ResolvedManifest,
  validation: ValidationSummary,
  bucket: string,
  config: StackConfig,
): CandidateSpec {
  // A state Validate wrote before it chose the serving settings: the same choice, without the model's context.
  const serving = validation.serving ?? chooseServing(manifest.serving, validation.format, undefined, config);
  const extraArgs =
    serving.trustRemoteCode &&
    serving.runtime === "vllm" &&
    !serving.extraArgs.includes(TRUST_REMOTE_CODE_FLAG)
      ? [...serving.extraArgs, TRUST_REMOTE_CODE_FLAG]
      : serving.extraArgs;
  return {
    model: rollout.model,
    version: rollout.version,
    rolloutId: rollout.id,
    servedName: rollout.model,
    runtime: serving.runtime,
    image: serving.image,
    gpus: typeof serving.gpus === "number" ? serving.gpus : validation.gpu.gpus,
    maxModelLen: serving.maxModelLen,
    extraArgs,
    format: validation.format,
    weights: { bucket, prefix: rollout.source.prefix },
    weightBytes: validation.weightBytes,
  };
}
