// The ports that have no adapter yet in a runtime (AWS or local). Every method fails with NotImplementedYet
// naming the adapter and the method, so a stage that reaches one stops with a reason a user can read.

import { NotImplementedYet } from "../core/errors";
import type { StageDeps } from "./deps";

type UnbuiltPort = "serving" | "gateway" | "registry" | "alarms" | "metrics";

const METHODS: { readonly [P in UnbuiltPort]: readonly (keyof StageDeps[P])[] } = {
  serving: ["deploy", "status", "endpoint", "remove", "removeRollout"],
  gateway: ["register", "setWeights", "promote", "removeBackend", "describe"],
  registry: ["register", "setStatus", "getStatus"],
  alarms: ["ensure", "states", "remove"],
  metrics: ["publish", "startProber", "stopProber"],
};

const PORT_NAMES: { readonly [P in UnbuiltPort]: string } = {
  serving: "Serving",
  gateway: "Gateway",
  registry: "Registry",
  alarms: "Alarms",
  metrics: "Metrics",
};

/**
 * @param runtime where the adapter is missing, for the message (`AWS`, `local`)
 * @param adapters the ports still missing, each with the adapter it will have,
 *   e.g. `{gateway: "The Gateway API route adapter", …}`
 */
export function unbuiltPorts<P extends UnbuiltPort>(
  runtime: string,
  adapters: { readonly [K in P]: string },
): Pick<StageDeps, P> {
  const port = (name: P): StageDeps[P] =>
    Object.fromEntries(
      METHODS[name].map((method) => {
        const what = `${PORT_NAMES[name]}.${String(method)} has no ${runtime} implementation yet`;
        return [method, () => Promise.reject(new NotImplementedYet(adapters[name], what))];
      }),
    ) as unknown as StageDeps[P];
  return Object.fromEntries((Object.keys(adapters) as P[]).map((name) => [name, port(name)])) as Pick<
    StageDeps,
    P
  >;
}
