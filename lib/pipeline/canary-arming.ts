// Arming a rollout's watchers: the version-scoped alarms (created at the canary's first step — or at Promote
// for a first release, which has no canary but is watched by the same alarms) and the scheduled prober that
// gives them data at any traffic level. Their names are known before anything is created, so a stage records
// them first: a rollback from anywhere can always find and remove them. Both calls are idempotent (an alarm
// that exists is updated, a prober that runs keeps running), so a retried stage arms nothing twice; both are
// fenced, so a rollout rolled back meanwhile is left with neither.

import { type CanaryAlarms, canaryAlarmSpecs } from "../core/alarms/canary-alarms";
import { trafficSourceOf } from "../core/config/config";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import type { RolloutIdentity } from "../core/rollout/rollout";
import type { StageDeps } from "./deps";
import { type DepsUsing, portUse } from "./port-use";
import type { RolloutFence } from "./rollout-fence";
import { alarmsUndo, proberUndo } from "./stage-undos";

/** Creates the alarms and starts the prober; takes either back when the rollout lost its model meanwhile. */
export const ARMING_USES = portUse({ alarms: ["ensure", "remove"], metrics: ["startProber", "stopProber"] });

type ArmingDeps = DepsUsing<typeof ARMING_USES> & Pick<StageDeps, "config">;

/** The rollout's alarms, as specs to create and names to record. */
export function rolloutAlarms(
  rollout: RolloutIdentity,
  manifest: ResolvedManifest,
  stableVersion: string | undefined,
  { config, clock }: Pick<StageDeps, "config"> & { readonly clock: Pick<StageDeps["clock"], "now"> },
): CanaryAlarms {
  return canaryAlarmSpecs({
    model: rollout.model,
    version: rollout.version,
    ...(stableVersion === undefined ? {} : { stableVersion }),
    alarms: manifest.rollout.alarms,
    namespace: config.canaryMetrics.namespace,
    alarmPrefix: config.canaryMetrics.alarmPrefix,
    trafficSource: trafficSourceOf(config),
    prober: {
      everySeconds: config.canaryMetrics.probeEverySeconds,
      requestsPerRound: config.canaryMetrics.probeRequests,
    },
    // The no-data guard judges only periods after the prober, started right after, has surely run.
    armedAt: clock.now(),
  });
}

/** Creates the alarms and starts the prober, while the rollout owns its model. */
export async function armRolloutWatch(
  rollout: RolloutIdentity,
  alarms: CanaryAlarms,
  deps: ArmingDeps,
  fence: RolloutFence,
): Promise<void> {
  await fence.act(() => deps.alarms.ensure(alarms.specs), alarmsUndo(deps.alarms, alarms.alarmNames));
  await fence.act(
    () =>
      deps.metrics.startProber({
        model: rollout.model,
        version: rollout.version,
        rolloutId: rollout.id,
        everySeconds: deps.config.canaryMetrics.probeEverySeconds,
      }),
    proberUndo(deps.metrics, rollout.model, rollout.version),
  );
}
