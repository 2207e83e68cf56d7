// The Finalize stage, after a quiet watch: retires the previous stable version (its route entry and its
// workload), deletes the rollout's alarms and stops its prober, records the rollout as done, releases the
// model's lock and announces "Stage Succeeded". Idempotent: once recorded, a retry only makes sure the lock
// is released and returns the recorded outcome. A rollout rolled back during the watch (the alarm rule acts
// even while the execution waits) is never finalized: its previous stable serves again.

import type { ExecutionState } from "../core/rollout";
import { type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import type { RolloutOutcome } from "./flow-state";
import { assertStillRunning, recordedTransition } from "./rollout-record";

/** Retires the old stable (its backendRef and workload); disarms the alarms and the prober. */
export const FINALIZE_USES = portUse({
  store: ["get", "record", "releaseLock"],
  gateway: ["removeBackend"],
  serving: ["remove"],
  alarms: ["remove"],
  metrics: ["stopProber"],
  events: ["emit"],
  clock: ["now"],
});

type FinalizeDeps = DepsUsing<typeof FINALIZE_USES>;

const STAGE = "Finalize";

export async function finalize(state: ExecutionState, deps: FinalizeDeps): Promise<RolloutOutcome> {
  const { rollout } = state;
  const record = await deps.store.get(rollout.model);
  const done = recordedTransition(record, rollout.id, STAGE);
  if (done) {
    await deps.store.releaseLock(rollout.model, rollout.id);
    return { reason: done.reason };
  }
  assertStillRunning(record, rollout.id, STAGE);
  if (record?.stable?.rolloutId !== rollout.id) {
    throw new Error(
      `Finalize runs after Promote, but ${rollout.model}'s stable version is ${record?.stable ? `${record.stable.version} of rollout ${record.stable.rolloutId}` : "not recorded"}, not ${rollout.version} of rollout ${rollout.id}.`,
    );
  }

  const previous = record.previousStable;
  if (previous) {
    await deps.gateway.removeBackend(rollout.model, previous.version);
    await deps.serving.remove(previous.handle);
  }
  if (record.alarmNames?.length) await deps.alarms.remove(record.alarmNames);
  await deps.metrics.stopProber(rollout.model, rollout.version);

  const reason = previous
    ? `${rollout.model} ${rollout.version} is the stable version after a quiet watch; ${previous.version} was retired (route entry and workload removed), the alarms and the prober removed.`
    : `${rollout.model} ${rollout.version} is the stable version after a quiet watch; the alarms and the prober were removed.`;
  // Emitted before the record is written: a retry after a failed write repeats the event rather than
  // losing it (events are at-least-once).
  await deps.events.emit(
    rolloutEvent("Stage Succeeded", rollout, STAGE, reason, deps.clock, {
      data: { retired: previous?.version ?? null, alarmsRemoved: record.alarmNames?.length ?? 0 },
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
    },
    { previousStable: null, alarmNames: null, promoteRequested: null },
  );
  await deps.store.releaseLock(rollout.model, rollout.id);
  return { reason };
}
