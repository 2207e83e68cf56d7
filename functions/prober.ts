// Lambda entry for the prober, invoked once a minute by its EventBridge Scheduler schedule with the ProberTarget as input: a minute of probe rounds.
import { setTimeout as sleep } from "node:timers/promises";
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import type { ProberTarget } from "../lib/ports";
import { probeMinute } from "../lib/pipeline/probe";

export const handler = stageHandler("Prober", (target: ProberTarget, deps) =>
  probeMinute(target, deps, sleep),
);
