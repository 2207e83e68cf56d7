// The bounded wait for capacity through the real definition (statemachines/pipeline.asl.json, run by the local
// executor): CheckCapacity answers `waiting` a few looks, the state machine waits plan.capacityPollSeconds
// between them in WaitForCapacity, and then either deploys or — the look past the bound throwing
// InsufficientCapacity — goes through Cleanup with nothing deployed. A deploy refused for capacity goes back
// to the looks.

import { describe, expect, it } from "vitest";
import { describeCaughtError, InsufficientCapacity } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import type { TaskHandler } from "../../lib/local/executor";
import type { CapacityProgress } from "../../lib/pipeline/flow-state";
import { ENOUGH_CAPACITY, failure, HAPPY_PATH_TO_GATEWAY, runPipeline, testPlan } from "./test-stages";

const WAITING: CapacityProgress = {
  ...ENOUGH_CAPACITY,
  enough: false,
  reason: "The rollout needs 2 more nvidia.com/gpu; 0 are free.",
  freeGpus: 0,
  waiting: { until: "2025-01-01T00:15:00.000Z" },
};

/** DeployCandidate's function: CheckCapacity's looks answered from `looks` in turn, the deploy by `deploy`. */
function capacityLooks(looks: readonly (CapacityProgress | Error)[], deploy?: TaskHandler): TaskHandler {
  let look = 0;
  return async (input, context) => {
    if ((input as { action?: string }).action !== "checkCapacity") {
      if (deploy) return deploy(input, context);
      return {
        id: "candidate-1",
        model: "llama",
        version: "v2",
        rolloutId: "llama-v2-0badf00d",
        servedName: "llama",
      };
    }
    const answer = looks[Math.min(look++, looks.length - 1)] as CapacityProgress | Error;
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

const BEFORE_CAPACITY = ["Prepare", "Validate"];
const ONE_WAIT = ["CheckCapacity", "IsCapacityThere", "WaitForCapacity"];

describe("The wait for capacity", () => {
  it("waits between looks while the capacity is short, then deploys once it is there", async () => {
    const plan = testPlan({ capacityPollSeconds: 20 });
    const run = await runPipeline({
      plan,
      stages: {
        DeployCandidate: capacityLooks([WAITING, WAITING, { ...ENOUGH_CAPACITY, waitedSeconds: 40 }]),
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path.slice(0, 2 + 2 * ONE_WAIT.length + HAPPY_PATH_TO_GATEWAY.length - 2)).toEqual([
      ...BEFORE_CAPACITY,
      ...ONE_WAIT,
      ...ONE_WAIT,
      ...HAPPY_PATH_TO_GATEWAY.slice(2),
    ]);
    const waits = run.transitions.filter((t) => t.type === "entered" && t.state === "WaitForCapacity");
    expect(waits.map((t) => t.wait?.seconds)).toEqual([20, 20]);
    // Each look sees the one before it: the first look's `since` is what the bound counts from.
    const looks = run.calls
      .filter(
        (c) => c.fn === "DeployCandidate" && (c.input as { action?: string }).action === "checkCapacity",
      )
      .map((c) => (c.input as { state: ExecutionState }).state.capacity);
    expect(looks).toEqual([undefined, WAITING, WAITING]);
    if (run.result.status !== "SUCCEEDED") throw new Error(run.result.status);
    expect((run.result.output as ExecutionState).capacity).toMatchObject({ enough: true, waitedSeconds: 40 });
  });

  it("fails InsufficientCapacity through Cleanup when the look past the bound still finds too little", async () => {
    const exhausted = new InsufficientCapacity(
      "The rollout needs 2 more nvidia.com/gpu; 0 are free. It waited 15 min. Nothing was deployed.",
      { hint: "Free GPUs." },
    );
    const run = await runPipeline({
      stages: { DeployCandidate: capacityLooks([WAITING, WAITING, exhausted]) },
    });

    expect(run.path).toEqual([
      ...BEFORE_CAPACITY,
      ...ONE_WAIT,
      ...ONE_WAIT,
      "CheckCapacity",
      "Cleanup",
      "RolloutFailed",
    ]);
    expect(run.count("CheckCandidate")).toBe(0);
    expect(describeCaughtError(failure(run))).toMatchObject({
      error: "InsufficientCapacity",
      reason: exhausted.reason,
    });
    // Nothing was deployed: Cleanup finds no candidate in the state.
    const cleanupInput = run.calls.find((c) => c.fn === "Cleanup")?.input as ExecutionState;
    expect(cleanupInput.candidate).toBeUndefined();
  });

  it("goes back to the looks when the deploy is refused for capacity, carrying the refusal", async () => {
    let deploys = 0;
    const deploy: TaskHandler = async () => {
      deploys++;
      if (deploys === 1)
        throw new InsufficientCapacity("local.maxServers (2) is reached: 2 server processes run.");
      return {
        id: "candidate-1",
        model: "llama",
        version: "v2",
        rolloutId: "llama-v2-0badf00d",
        servedName: "llama",
      };
    };
    const run = await runPipeline({ stages: { DeployCandidate: capacityLooks([ENOUGH_CAPACITY], deploy) } });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path.slice(0, 7)).toEqual([
      ...BEFORE_CAPACITY,
      "CheckCapacity",
      "IsCapacityThere",
      "DeployCandidate",
      "CheckCapacity",
      "IsCapacityThere",
    ]);
    const second = run.calls.filter(
      (c) => c.fn === "DeployCandidate" && (c.input as { action?: string }).action === "checkCapacity",
    )[1]?.input as { state: ExecutionState };
    expect(second.state.capacity).toMatchObject({
      since: ENOUGH_CAPACITY.since,
      refused: { Error: "InsufficientCapacity" },
    });
  });
});
