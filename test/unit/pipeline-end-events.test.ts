// An event that says a rollout is over is emitted after its lock is free (DESIGN §8): an EventBridge
// automation that starts the next version on "Model Rolled Back", on Finalize's "Stage Succeeded" or on
// Cleanup's "Stage Failed" must find the model free, not fail with RolloutInProgress. Each test plays that
// automation: the moment the end event arrives, it tries to take the model's lock for the next version.

import { beforeEach, describe, expect, it } from "vitest";
import { CandidateFailed } from "../../lib/core/errors";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { cleanup } from "../../lib/pipeline/cleanup";
import { handleCommand } from "../../lib/pipeline/commands";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

/** What the automation saw when each end event arrived: could the next version take the lock? */
interface Seen {
  readonly event: ModelshipEvent;
  readonly acquired: boolean;
}

/** On an end event, does what an automation would: take the lock for the next version. */
function nextVersionAutomation(world: CanaryWorld, isEnd: (event: ModelshipEvent) => boolean): Seen[] {
  const seen: Seen[] = [];
  world.events.whenEmitted(async (event) => {
    if (!isEnd(event)) return;
    const next = { rolloutId: `llama-next-${seen.length}`, version: "next", since: event.time };
    const lock = await world.store.acquireLock(MODEL, next);
    if (lock.acquired) await world.store.releaseLock(MODEL, next.rolloutId);
    seen.push({ event, acquired: lock.acquired });
  });
  return seen;
}

async function releaseV1(world: CanaryWorld): Promise<ExecutionState> {
  const state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  return flow.checkWatch(await flow.promote(state, world), world);
}

describe("The event that ends a rollout", () => {
  let world: CanaryWorld;
  beforeEach(() => {
    world = canaryWorld();
  });

  it("Finalize's Stage Succeeded arrives with the model free", async () => {
    const seen = nextVersionAutomation(
      world,
      (e) => e.detailType === "Stage Succeeded" && e.detail.stage === "Finalize",
    );
    await flow.finalize(await releaseV1(world), world);
    expect(seen).toEqual([
      { event: expect.objectContaining({ detailType: "Stage Succeeded" }), acquired: true },
    ]);
  });

  it("Model Rolled Back arrives with the model free, whoever asked for the rollback", async () => {
    await flow.finalize(await releaseV1(world), world);
    const seen = nextVersionAutomation(world, (e) => e.detailType === "Model Rolled Back");
    const v2 = await flow.canaryStep(
      await flow.registerGateway(await rolloutThroughGates(world, "v2"), world),
      world,
    );
    const outcome = await handleCommand(
      { "detail-type": "Rollback Requested", detail: { model: MODEL, requestedBy: "pager" } },
      world,
    );
    expect(outcome.status).toBe("done");
    // The state machine's own Rollback afterwards finds the work done and announces nothing again.
    await flow.rollback(v2, world);
    expect(seen).toEqual([
      { event: expect.objectContaining({ detailType: "Model Rolled Back" }), acquired: true },
    ]);
  });

  it("Cleanup's Stage Failed arrives with the model free", async () => {
    await flow.finalize(await releaseV1(world), world);
    const seen = nextVersionAutomation(world, (e) => e.detailType === "Stage Failed");
    const failed = await rolloutThroughGates(world, "v2");
    const error = new CandidateFailed("The candidate's pod was OOMKilled.");
    await cleanup({ ...failed, error: { Error: error.name, Cause: error.message } }, world);
    expect(seen).toEqual([
      { event: expect.objectContaining({ detailType: "Stage Failed" }), acquired: true },
    ]);
  });
});
