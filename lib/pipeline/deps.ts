// What a stage function is given: the ports (lib/ports.ts) and the stack config. Each stage names the
// subset it uses (`Pick<StageDeps, "objects" | "store">`), so a test builds only what the stage needs.

import type { StackConfig } from "../core/config";
import type {
  Alarms,
  Clock,
  Events,
  Executions,
  Gateway,
  Metrics,
  ObjectStore,
  Registry,
  RolloutStore,
  Serving,
} from "../ports";

export interface StageDeps {
  readonly config: StackConfig;
  readonly objects: ObjectStore;
  readonly store: RolloutStore;
  readonly events: Events;
  readonly clock: Clock;
  readonly executions: Executions;
  readonly serving: Serving;
  readonly gateway: Gateway;
  readonly registry: Registry;
  readonly alarms: Alarms;
  readonly metrics: Metrics;
}
