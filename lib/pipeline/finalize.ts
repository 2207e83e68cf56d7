// The Finalize stage, after a quiet watch: retires the previous stable version (its route entry and its
// workload), deletes the rollout's alarms and stops its prober, records the rollout as done, releases the
// model's lock, writes the rollout's report with its steps, its alarms' metrics over the canary and the watch
// (read before the alarms are removed) and its end, and — once the lock is free — announces "Stage
// Succeeded", so an automation that starts the next version on that event finds the model free. A report
// that cannot be written is returned as `reportProblem`; the rollout still ends.
//
// It first claims the rollout's end: from then on no rollback can start (an alarm firing now is too late to
// matter: the watch has passed), and a rollback already under way makes the claim fail, so the previous
// stable is never retired while a rollback returns to it. Retiring is best effort past that point: what
// cannot be removed is named in the reason for a person to remove, and the rollout still ends; a passing
// failure (Transient) is retried by the state machine first. Idempotent: a retry claims again, retires what
// is left, and a recorded Finalize only announces what is still unannounced.

import { RolledBack, Transient } from "../core/errors";
import type { ExecutionState } from "../core/rollout/rollout";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import type { RolloutOutcome } from "./flow-state";
import {
  ALARM_METRICS_USES,
  readAlarmMetrics,
  ROLLOUT_END_USES,
  type RolloutEndReport,
  writeRolloutEnd,
} from "./rollout-outcome";
import { assertStillRunning, lostOwnershipReason, recordedTransition } from "./rollout-record";

/** Retires the old stable (its backendRef and workload); disarms the alarms and the prober. */
export const FINALIZE_USES = combinedUse(
  ANNOUNCE_USES,
  ROLLOUT_END_USES,
  ALARM_METRICS_USES,
  portUse({
    store: ["get", "record", "releaseLock", "claimEnd"],
    gateway: ["removeBackend"],
    serving: ["remove"],
    alarms: ["remove"],
    metrics: ["stopProber"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type FinalizeDeps = DepsUsing<typeof FINALIZE_USES>;

const STAGE = "Finalize";

export async function finalize(
  state: ExecutionState,
  deps: FinalizeDeps,
): Promise<RolloutOutcome & Partial<RolloutEndReport>> {
  const { rollout } = state;
  const record = await deps.store.get(rollout.model);
  const done = recordedTransition(record, rollout.id, STAGE);
  if (done) {
    // A retry: the report of the first attempt stays, or is written now if that attempt could not.
    const report = await writeRolloutEnd(
      rollout,
      {
        end: { state: "Succeeded", stage: STAGE, at: done.at, reason: done.reason },
        ...(state.plan && { plan: state.plan }),
      },
      deps,
    );
    await announcePending(deps, rollout.model, rollout.id);
    return { reason: done.reason, ...report };
  }
  assertStillRunning(record, rollout.id, STAGE);
  if (record.stable?.rolloutId !== rollout.id) {
    throw new Error(
      `Finalize runs after Promote, but ${rollout.model}'s stable version is ${record.stable ? `${record.stable.version} of rollout ${record.stable.rolloutId}` : "not recorded"}, not ${rollout.version} of rollout ${rollout.id}.`,
    );
  }
  const claim = await deps.store.claimEnd(rollout.model, rollout.id, {
    stage: STAGE,
    at: deps.clock.now().toISOString(),
  });
  if (!claim.claimed) {
    throw new RolledBack(lostOwnershipReason(await deps.store.get(rollout.model), rollout.id, STAGE));
  }

  const previous = record.previousStable;
  const alarmNames = record.alarmNames ?? [];
  const leftBehind: string[] = [];
  const retire = async (what: string, step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (error) {
      if (error instanceof Transient) throw error;
      leftBehind.push(`${what} (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
    }
  };
  if (previous) {
    await retire(`remove ${previous.version}'s route entry`, () =>
      deps.gateway.removeBackend(rollout.model, previous.version),
    );
    await retire(`remove ${previous.version}'s workload ${previous.handle.id}`, () =>
      deps.serving.remove(previous.handle),
    );
  }
  // For the report, while the alarms exist.
  const alarmMetrics = await readAlarmMetrics(record, rollout.id, deps);
  if (alarmNames.length > 0)
    await retire(`delete the alarms ${alarmNames.join(", ")}`, () => deps.alarms.remove(alarmNames));
  await retire(`stop the prober of ${rollout.version}`, () =>
    deps.metrics.stopProber(rollout.model, rollout.version),
  );

  const retired = previous
    ? `; ${previous.version} was retired (route entry and workload removed), the alarms and the prober removed`
    : "; the alarms and the prober were removed";
  const left = leftBehind.length > 0 ? ` Could not ${leftBehind.join("; ")}: do it by hand.` : "";
  const reason = `${rollout.model} ${rollout.version} is the stable version after a quiet watch${retired}.${left}`;
  const at = deps.clock.now().toISOString();
  await deps.store.record(
    rollout.model,
    {
      at,
      rolloutId: rollout.id,
      version: rollout.version,
      stage: STAGE,
      status: "promoted",
      reason,
    },
    { previousStable: null, alarmNames: null, promoteRequested: null, capacity: null },
    {
      releaseLock: true,
      announce: [
        rolloutEvent("Stage Succeeded", rollout, STAGE, reason, deps.clock, {
          data: {
            retired: previous?.version ?? null,
            alarmsRemoved: alarmNames.length,
            ...(leftBehind.length > 0 && { leftBehind }),
          },
        }),
      ],
    },
  );
  const report = await writeRolloutEnd(
    rollout,
    {
      end: {
        state: "Succeeded",
        stage: STAGE,
        at,
        reason,
        ...(leftBehind.length > 0 && { leftBehind }),
      },
      ...(alarmMetrics && { alarms: alarmMetrics }),
      ...(state.plan && { plan: state.plan }),
      ...(previous && { stableVersion: previous.version }),
    },
    deps,
  );
  await announcePending(deps, rollout.model, rollout.id);
  return { reason, ...report };
}
