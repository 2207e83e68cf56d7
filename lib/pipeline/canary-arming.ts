// Arming a rollout's watchers: the version-scoped alarms (created once, at the canary's first step — or at
// Promote for a first release, which has no canary but is watched by the same alarms) and the scheduled
// prober that gives them data at any traffic level. Both calls are idempotent (an alarm that exists is
// updated, a prober that runs keeps running), so a retried stage arms nothing twice.

import { canaryAlarmSpecs } from "../core/canary-alarms";
import { trafficSourceOf } from "../core/config";
import type { ResolvedManifest } from "../core/manifest-schema";
import type { RolloutIdentity } from "../core/rollout";
import type { StageDeps } from "./deps";

type ArmingDeps = Pick<StageDeps, "alarms" | "metrics" | "config" | "clock">;

/** Creates the alarms and starts the prober; returns the alarms' names for the rollout record. */
export async function armRolloutWatch(
  rollout: RolloutIdentity,
  manifest: ResolvedManifest,
  stableVersion: string | undefined,
  deps: ArmingDeps,
): Promise<readonly string[]> {
  const { specs, alarmNames } = canaryAlarmSpecs({
    model: rollout.model,
    version: rollout.version,
    ...(stableVersion === undefined ? {} : { stableVersion }),
    alarms: manifest.rollout.alarms,
    namespace: deps.config.canaryMetrics.namespace,
    trafficSource: trafficSourceOf(deps.config),
    prober: {
      everySeconds: deps.config.canaryMetrics.probeEverySeconds,
      requestsPerRound: deps.config.canaryMetrics.probeRequests,
    },
    armedAt: deps.clock.now(),
  });
  await deps.alarms.ensure(specs);
  await deps.metrics.startProber({
    model: rollout.model,
    version: rollout.version,
    rolloutId: rollout.id,
    everySeconds: deps.config.canaryMetrics.probeEverySeconds,
  });
  return alarmNames;
}
