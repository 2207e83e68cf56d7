import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { checkCanary } from "../../lib/pipeline/check-canary";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

describe("CheckCanary", () => {
  let world: CanaryWorld;
  let state: ExecutionState;
  beforeEach(async () => {
    world = canaryWorld();
    let v1 = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    v1 = await flow.promote(v1, world);
    await flow.finalize(v1, world);
    state = await flow.canaryStep(
      await flow.registerGateway(await rolloutThroughGates(world, "v2"), world),
      world,
    );
  });

  it("goes on with a line saying where the canary is and each alarm's value next to its threshold", async () => {
    world.alarms.setState("modelship-llama-v2-latency-p95", "OK", { value: 812.25 });
    world.alarms.setState("modelship-llama-v2-error-rate", "OK", { value: 0 });
    world.alarms.setState("modelship-llama-v2-rollback", "OK");
    expect(await checkCanary(state, world)).toEqual({
      rollback: false,
      promote: false,
      reason:
        "Step 1 of 3: v2 at 10%, v1 at 90%; alarms: latency-p95 OK (812.25 / 2000), error-rate OK (0 / 2), latency-vs-stable INSUFFICIENT_DATA (– / 1.25), errors-vs-stable INSUFFICIENT_DATA (– / 1), no-probe-data INSUFFICIENT_DATA (– / 6), rollback OK.",
    });
  });

  it("during the watch, says which version is watched and which is kept warm", async () => {
    state = await flow.promote(state, world);
    const check = await checkCanary(state, world);
    expect(check.reason).toMatch(
      /^Watching v2 at 100% \(v1 kept warm\); alarms: latency-p95 INSUFFICIENT_DATA/,
    );
  });

  it("names the composite, with CloudWatch's reason, when no alarm under it says more", async () => {
    world.alarms.setState("modelship-llama-v2-rollback", "ALARM", {
      reason: "modelship-llama-v2-error-rate transitioned to ALARM",
    });
    expect(await checkCanary(state, world)).toEqual({
      rollback: true,
      promote: false,
      reason:
        "alarm modelship-llama-v2-rollback is in ALARM (modelship-llama-v2-error-rate transitioned to ALARM)",
    });
  });

  it("names every alarm in ALARM, each with its value", async () => {
    world.alarms.setState("modelship-llama-v2-latency-p95", "ALARM", { value: 2412 });
    world.alarms.setState("modelship-llama-v2-error-rate", "ALARM", { value: 7.5 });
    world.alarms.setState("modelship-llama-v2-rollback", "ALARM");
    expect((await checkCanary(state, world)).reason).toBe(
      "alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000; alarm modelship-llama-v2-error-rate is in ALARM: 7.5 against a threshold of 2",
    );
  });

  it("reports an alarm deleted from outside as missing, and goes on", async () => {
    await world.alarms.remove(["modelship-llama-v2-error-rate"]);
    const check = await checkCanary(state, world);
    expect(check.rollback).toBe(false);
    expect(check.reason).toContain("error-rate missing");
  });

  it("rolls back a rollout that lost the model's lock outside the state machine", async () => {
    await world.store.releaseLock(MODEL, state.rollout.id);
    expect(await checkCanary(state, world)).toEqual({
      rollback: true,
      promote: false,
      reason: `CheckCanary stopped: rollout ${state.rollout.id} no longer holds the lock of llama, so it was ended by someone else.`,
    });
  });
});
