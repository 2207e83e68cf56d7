// The stages later issues build, one per remaining pipeline function. Each fails with NotImplementedYet
// naming the missing capability, so a rollout that reaches one stops loudly through Cleanup, and the Lambda
// handlers and the local runtime share the same code.

import { NotImplementedYet } from "../core/errors";
import type { ExecutionState } from "../core/rollout";
import type { StageDeps } from "./deps";
import type { StressWorkerInput } from "./flow-state";

type UnbuiltStage<Input> = (input: Input, deps: StageDeps) => Promise<never>;

function unbuilt<Input>(stage: string, capability: string, hint?: string): UnbuiltStage<Input> {
  return () => Promise.reject(new NotImplementedYet(stage, capability, hint));
}

function skippable(gate: "stress"): string {
  return `Set gates.${gate}.enabled: false in the manifest to skip this gate until it is built.`;
}

export const stressWorker = unbuilt<StressWorkerInput>(
  "StressWorker",
  "the load generator (streaming requests with TTFT/TPOT histograms)",
  skippable("stress"),
);
export const mergeStress = unbuilt<ExecutionState>(
  "MergeStress",
  "the stress gate (merging histograms, SLO checks)",
  skippable("stress"),
);
