// A rollout stopped by hand (Ctrl-C on `modelship run`) ends as the state machine's Catch would end it:
// Cleanup before the canary, Rollback from it on — nothing of the candidate left on the route, in the
// record, in the alarms or the prober.

import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { stopInterruptedRollout } from "../../lib/pipeline/stop-interrupted";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

const INTERRUPTED = {
  Error: "Interrupted",
  Cause: JSON.stringify({ errorType: "Interrupted", errorMessage: "Interrupted by SIGINT." }),
};

async function releaseV1(world: CanaryWorld): Promise<void> {
  let state = await rolloutThroughGates(world, "v1");
  state = await flow.registerGateway(state, world);
  state = await flow.promote(state, world);
  state = await flow.checkWatch(state, world);
  await flow.finalize(state, world);
}

describe("stopInterruptedRollout", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
  });

  it("rolls back a rollout stopped in its canary: route, record, alarms and prober back to stable alone", async () => {
    let state: ExecutionState = await rolloutThroughGates(world, "v2");
    state = await flow.registerGateway(state, world);
    state = await flow.canaryStep(state, world);
    state = await flow.checkCanary(state, world);
    state = await flow.canaryStep(state, world);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 50, v2: 50 });

    const outcome = await stopInterruptedRollout({ ...state, error: INTERRUPTED }, world);

    expect(outcome.by).toBe("Rollback");
    expect(outcome.cleaned[0]).toMatch(
      /^Rolled back llama v2 because .*Interrupted by SIGINT.*; v1 serves 100% again\.$/,
    );
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.alarms.names).toEqual([]);
    expect(world.metrics.running).toEqual([]);
    const record = await world.store.get(MODEL);
    expect(record?.lock).toBeUndefined();
    expect(record?.candidate).toBeUndefined();
    expect(record?.candidateVersion).toBeUndefined();
    expect(record?.weights).toEqual({ stable: 100, candidate: 0 });
    expect(world.registry.entry(MODEL, "v2")?.status).toBe("Rejected");
    expect(world.serving.running).toEqual([record?.stable?.handle.id]);
  });

  it("cleans up a rollout stopped in its gates, before it joined the route", async () => {
    const state = await rolloutThroughGates(world, "v2");

    const outcome = await stopInterruptedRollout({ ...state, error: INTERRUPTED }, world);

    expect(outcome.by).toBe("Cleanup");
    const record = await world.store.get(MODEL);
    expect(record?.lock).toBeUndefined();
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.serving.running).toEqual([record?.stable?.handle.id]);
  });
});
