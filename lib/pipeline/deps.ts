// What a stage function is given: the ports (lib/ports.ts) and the stack config. Each stage names the
// subset it uses (`Pick<StageDeps, "objects" | "store">`), so a test builds only what the stage needs.

import type { StackConfig } from "../core/config/config";
import type {
  Alarms,
  Clock,
  Events,
  Executions,
  Gateway,
  Hooks,
  Metrics,
  ObjectStore,
  Registry,
  RolloutStore,
  Serving,
} from "../ports";

/** What a long stage (a stress worker, an eval shard, the smoke test) may be stopped by. */
export interface Interruptible {
  /** Aborts when the execution running the stage is stopped: the stage stops at once, and throws Interrupted. */
  readonly signal?: AbortSignal;
}

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
  readonly hooks: Hooks;
}
