// A gate whose rollout was stopped by a command during the gates ends it as Aborted, naming who asked — never
// as the failure the stop itself caused (a candidate removed under it reads as CandidateFailed or a failed
// smoke test; a load cut short as an SLO breach).

import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { checkCandidate } from "../../lib/pipeline/check-candidate";
import { handleCommand } from "../../lib/pipeline/commands";
import { deployCandidate } from "../../lib/pipeline/deploy-candidate";
import { type CanaryWorld, canaryWorld, MODEL, rolloutThroughGates } from "../support/canary-world";

let world: CanaryWorld;
let state: ExecutionState;

beforeEach(async () => {
  world = canaryWorld();
  state = await rolloutThroughGates(world, "v1");
});

async function abort(command: "Abort Requested" | "Rollback Requested" = "Abort Requested") {
  const outcome = await handleCommand(
    { "detail-type": command, detail: { model: MODEL, reason: "wrong weights", requestedBy: "alice" } },
    world,
  );
  expect(outcome.status).toBe("done");
}

describe("A gate after an abort", () => {
  it("CheckCandidate: the removed candidate is the abort's doing, not a failed candidate", async () => {
    await abort();
    const error = await checkCandidate(state, world).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "Aborted",
      reason: expect.stringContaining("an abort was requested by alice (wrong weights)"),
    });
  });

  it("DeployCandidate: starts nothing for a rollout already stopped by a rollback command", async () => {
    await abort("Rollback Requested");
    const deployed = world.serving.deployed.length;
    const error = await deployCandidate(state, world).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "Aborted",
      reason: expect.stringContaining("a rollback was requested by alice"),
    });
    expect(world.serving.deployed).toHaveLength(deployed);
  });

  it("goes on as before while nothing stopped the rollout", async () => {
    expect(await checkCandidate(state, world)).toMatchObject({ phase: "ready" });
  });
});
