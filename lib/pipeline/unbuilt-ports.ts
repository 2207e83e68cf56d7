// The ports that have no adapter yet in a runtime (AWS or local). Every method fails with NotImplementedYet
// naming the adapter and the method, so a stage that reaches one stops with a reason a user can read.

import { NotImplementedYet } from "../core/errors";
import type { StageDeps } from "./deps";

type UnbuiltPort = "serving" | "gateway" | "registry" | "alarms" | "metrics";

const METHODS: { readonly [P in UnbuiltPort]: readonly (keyof StageDeps[P])[] } = {
  serving: ["deploy", "status", "endpoint", "remove"],
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
 * @param adapters the adapter each port will have, e.g. `{serving: "Serving on EKS", …}`
 */
export function unbuiltPorts(
  runtime: string,
  adapters: { readonly [P in UnbuiltPort]: string },
): Pick<StageDeps, UnbuiltPort> {
  const port = <P extends UnbuiltPort>(name: P): StageDeps[P] =>
    Object.fromEntries(
      METHODS[name].map((method) => {
        const what = `${PORT_NAMES[name]}.${String(method)} has no ${runtime} implementation yet`;
        return [method, () => Promise.reject(new NotImplementedYet(adapters[name], what))];
      }),
    ) as unknown as StageDeps[P];
  return {
    serving: port("serving"),
    gateway: port("gateway"),
    registry: port("registry"),
    alarms: port("alarms"),
    metrics: port("metrics"),
  };
}
