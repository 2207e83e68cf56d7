// How a stage takes back its own changes when its rollout lost the model while it ran (RolloutFence). Each
// undo is idempotent and reaches only what the stage changed — its version's route entry, alarms, prober,
// registry entry and the stable's size — so it is safe after a rollback that already put things right.

import type { ServingVersion } from "../core/rollout/rollout";
import type { StageDeps } from "./deps";
import { portUse } from "./port-use";
import type { Undo } from "./rollout-fence";

/** What `routeUndo` calls: it reads the route, then gives the version it replaced 100% and removes its own. */
export const ROUTE_UNDO_USES = portUse({ gateway: ["describe", "promote", "removeBackend"] });
/** What `scaleUndo` calls. */
export const SCALE_UNDO_USES = portUse({ serving: ["scale"] });
/** What `registryUndo` calls. */
export const REGISTRY_UNDO_USES = portUse({ registry: ["getStatus", "setStatus"] });

/**
 * The version leaves the route again and the version it was to replace takes 100%: after a stage moved
 * traffic (a weight, a promotion, a registration) for a rollout that a rollback meanwhile took off. A route
 * that no longer holds the version is left alone: the rollback, or a later rollout, owns it.
 */
export function routeUndo(
  gateway: Pick<StageDeps["gateway"], "describe" | "promote" | "removeBackend">,
  model: string,
  version: string,
  restore: string | undefined,
): Undo {
  return {
    what: `take ${model} ${version} off the route${restore ? ` and give ${restore} 100% again` : ""}`,
    run: async () => {
      const backends = (await gateway.describe(model))?.backends ?? [];
      const onRoute = (v: string) => backends.some((b) => b.version === v);
      if (!onRoute(version)) return;
      if (restore !== undefined && onRoute(restore)) await gateway.promote(model, restore);
      await gateway.removeBackend(model, version);
    },
  };
}

/** What `mirrorUndo` calls. */
export const MIRROR_UNDO_USES = portUse({ gateway: ["describe", "mirror"] });

/**
 * The route stops copying the model's requests to `version` (a shadow's mirror). A mirror to another version
 * is left alone — a later rollout's shadow owns it — and after a rollback there is none: a no-op.
 */
export function mirrorUndo(
  gateway: Pick<StageDeps["gateway"], "describe" | "mirror">,
  model: string,
  version: string,
): Undo {
  return {
    what: `stop mirroring ${model}'s requests to ${version}`,
    run: async () => {
      if ((await gateway.describe(model))?.mirror?.version === version)
        await gateway.mirror(model, undefined);
    },
  };
}

export function alarmsUndo(alarms: Pick<StageDeps["alarms"], "remove">, names: readonly string[]): Undo {
  return { what: `delete the alarms ${names.join(", ")}`, run: () => alarms.remove(names) };
}

export function proberUndo(
  metrics: Pick<StageDeps["metrics"], "stopProber">,
  model: string,
  version: string,
): Undo {
  return { what: `stop the prober of ${model} ${version}`, run: () => metrics.stopProber(model, version) };
}

/** The version is Rejected again in the model registry (a rollback rejected it; the stage registered or approved it). */
export function registryUndo(
  registry: Pick<StageDeps["registry"], "getStatus" | "setStatus">,
  model: string,
  version: string,
  reason: string,
): Undo {
  return {
    what: `mark ${model} ${version} Rejected in the model registry`,
    run: async () => {
      if ((await registry.getStatus(model, version)) !== undefined)
        await registry.setStatus(model, version, "Rejected", reason);
    },
  };
}

/**
 * The stable back at the size it had when the canary began, its autoscaler (if any) given its range back: after
 * a stage scaled it down for a rollout that a rollback meanwhile took off — the rollback restored it first, and
 * the stage's late change must not leave it short.
 */
export function scaleUndo(
  serving: Pick<StageDeps["serving"], "scale">,
  version: ServingVersion,
  replicas: number,
): Undo {
  return {
    what: `scale ${version.version} back to ${replicas} replica${replicas === 1 ? "" : "s"}`,
    run: async () => {
      await serving.scale(version.handle, replicas);
      await serving.scale(version.handle, "autoscaled");
    },
  };
}
