// The Promote stage, after the canary's last step, a requested promotion, or the gates of a first release:
// the candidate takes 100% of the model's traffic, is Approved in the model registry and becomes the stable
// version; the old stable stays warm (previousStable) through the watch so a rollback can return to it. A
// first release, which had no canary, arms its alarms and prober here: the watch is watched the same way.
// The candidate's gate results are kept with its version for the next rollout's regression gates.
// Idempotent: once recorded, a retry returns the recorded outcome.

import type { ExecutionState } from "../core/rollout";
import { ARMING_USES, armRolloutWatch } from "./canary-arming";
import { planAndManifest } from "./canary-state";
import type { StageDeps } from "./deps";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import type { RolloutOutcome } from "./flow-state";
import { assertStillRunning, recordedTransition } from "./rollout-record";

/** 100% to the candidate, Approved in the registry, its results kept; a first release is armed here. */
export const PROMOTE_USES = combinedUse(
  ARMING_USES,
  portUse({
    store: ["get", "record", "saveVersionResults"],
    gateway: ["promote"],
    registry: ["setStatus"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type PromoteDeps = DepsUsing<typeof PROMOTE_USES> & Pick<StageDeps, "config">;

const STAGE = "Promote";
const GATE_RESULTS = ["smoke", "stress", "eval"] as const;

export async function promote(state: ExecutionState, deps: PromoteDeps): Promise<RolloutOutcome> {
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, STAGE);
  const record = await deps.store.get(rollout.model);
  const done = recordedTransition(record, rollout.id, STAGE);
  if (done) return { reason: done.reason };
  assertStillRunning(record, rollout.id, STAGE);
  const candidate = record?.candidate;
  if (!candidate || candidate.rolloutId !== rollout.id) {
    throw new Error(
      `Promote needs the candidate RegisterGateway records, but ${rollout.model}'s record names ${candidate ? `rollout ${candidate.rolloutId}'s` : "no"} candidate.`,
    );
  }
  const previous = record.stable;

  const alarmNames = record.alarmNames ?? (await armRolloutWatch(rollout, manifest, previous?.version, deps));
  const reason = previous
    ? `${rollout.model} ${rollout.version} was promoted to 100%; ${previous.version} stays warm through the ${plan.watchSeconds} s watch.`
    : `${rollout.model} ${rollout.version} was released at 100% (a first release: no canary) and is watched for ${plan.watchSeconds} s.`;
  await deps.gateway.promote(rollout.model, rollout.version);
  await deps.registry.setStatus(rollout.model, rollout.version, "Approved", reason);
  await deps.store.saveVersionResults(rollout.model, rollout.version, {
    rolloutId: rollout.id,
    promotedAt: deps.clock.now().toISOString(),
    ...Object.fromEntries(GATE_RESULTS.flatMap((gate) => (state[gate] ? [[gate, state[gate]]] : []))),
  });

  const weights = { stable: 100, candidate: 0 };
  // Emitted before the record is written: a retry after a failed write repeats the event rather than
  // losing it (events are at-least-once).
  await deps.events.emit(
    rolloutEvent("Model Promoted", rollout, STAGE, reason, deps.clock, {
      data: { previousStable: previous?.version ?? null, watchSeconds: plan.watchSeconds, weights },
    }),
  );
  await deps.store.record(
    rollout.model,
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
      alarmNames,
    },
  );
  return { reason };
}
