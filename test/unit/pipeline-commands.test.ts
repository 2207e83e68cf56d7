import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { type CommandEvent, handleCommand } from "../../lib/pipeline/commands";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryVerdict,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

async function releaseV1(world: CanaryWorld): Promise<void> {
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  state = await flow.promote(state, world);
  await flow.finalize(await flow.checkWatch(state, world), world);
}

function promoteRequested(detail: Partial<CommandEvent["detail"]> = {}): CommandEvent {
  return { "detail-type": "Promote Requested", detail: { model: MODEL, requestedBy: "carol", ...detail } };
}

describe("Commands", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
  });

  describe("Promote Requested", () => {
    let state: ExecutionState;
    beforeEach(async () => {
      state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
      state = await flow.canaryStep(state, world);
    });

    it("waits in the record until the bake ends, then CheckCanary promotes, skipping the remaining steps", async () => {
      const outcome = await handleCommand(promoteRequested({ reason: "looks great" }), world);
      expect(outcome).toEqual({
        command: "Promote Requested",
        model: MODEL,
        status: "done",
        message:
          "Promotion of llama v2 requested: after the current bake (step 1 of 3, 10%), CheckCanary promotes it, skipping the remaining steps.",
      });
      expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });

      state = await flow.checkCanary(state, world);
      expect(state.canary?.["check"]).toEqual({
        rollback: false,
        promote: true,
        reason:
          "Promoting v2 at step 1 of 3, skipping the remaining steps: A promotion was requested by carol (looks great).",
      });
      expect(canaryVerdict(state)).toBe("Promote");
      expect((await world.store.get(MODEL))?.promoteRequested).toBeUndefined();
      await flow.promote(state, world);
      expect(world.gateway.weightsOf(MODEL)).toEqual({ v2: 100, v1: 0 });
      expect(world.events.ofType("Canary Weight Changed").map((e) => e.detail.data?.["weight"])).toEqual([
        10,
      ]);
    });

    it("promotes on a retried check too, and only once: the next check goes on", async () => {
      await handleCommand(promoteRequested(), world);
      const first = await flow.checkCanary(state, world);
      const retried = await flow.checkCanary(state, world);
      expect(retried.canary?.["check"]).toEqual(first.canary?.["check"]);
      expect(canaryVerdict(retried)).toBe("Promote");

      const afterNextStep = await flow.checkCanary(await flow.canaryStep(state, world), world);
      expect(afterNextStep.canary?.["check"]).toMatchObject({ promote: false, rollback: false });
    });

    it("asked twice is one request", async () => {
      await handleCommand(promoteRequested(), world);
      const again = await handleCommand(promoteRequested(), world);
      expect(again).toMatchObject({
        status: "nothing to do",
        message:
          "A promotion of llama v2 is already requested; CheckCanary promotes it after the current bake.",
      });
      const requests = (await world.store.get(MODEL))?.history.filter((t) => t.stage === "Promote Requested");
      expect(requests).toHaveLength(1);
    });

    it("is refused during the watch: the version is promoted already", async () => {
      await flow.promote(state, world);
      expect(await handleCommand(promoteRequested(), world)).toMatchObject({
        status: "refused",
        message: "llama v2 is already promoted; its watch is running.",
      });
    });
  });

  it("refuses a promotion when no canary runs, saying why", async () => {
    expect(await handleCommand(promoteRequested(), world)).toMatchObject({
      status: "refused",
      message: "No rollout of llama is running: there is no canary to promote.",
    });
    await rolloutThroughGates(world, "v2");
    expect(await handleCommand(promoteRequested(), world)).toMatchObject({
      status: "refused",
      message:
        "llama v2 is still in its gates: there is no canary to promote yet. Send the command again once it takes traffic.",
    });
    expect((await world.store.get(MODEL))?.promoteRequested).toBeUndefined();
  });

  it("refuses to promote a first release, which has no canary to skip", async () => {
    const fresh = canaryWorld();
    await flow.registerGateway(await rolloutThroughGates(fresh, "v1"), fresh);
    expect(await handleCommand(promoteRequested(), fresh)).toMatchObject({
      status: "refused",
      message: "llama v1 is a first release: it goes to 100% after its gates, without a canary to skip.",
    });
  });

  it("treats Abort Requested as a rollback, naming who asked", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    state = await flow.canaryStep(state, world);
    const outcome = await handleCommand(
      {
        "detail-type": "Abort Requested",
        detail: { model: MODEL, requestedBy: "dave", reason: "wrong tokenizer" },
      },
      world,
    );
    expect(outcome).toEqual({
      command: "Abort Requested",
      model: MODEL,
      status: "done",
      message:
        "Rolled back llama v2 because an abort was requested by dave (wrong tokenizer); v1 serves 100% again.",
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.events.ofType("Model Rolled Back")[0]?.detail.data).toMatchObject({
      trigger: "command",
      command: "Abort Requested",
      requestedBy: "dave",
    });
    state = await flow.checkCanary(state, world);
    expect(canaryVerdict(state)).toBe("Rollback");
  });

  it("answers a rollback with nothing running with what serves the model", async () => {
    expect(
      await handleCommand({ "detail-type": "Rollback Requested", detail: { model: MODEL } }, world),
    ).toEqual({
      command: "Rollback Requested",
      model: MODEL,
      status: "nothing to do",
      message: "No rollout of llama is running: a rollback has nothing to do. v1 serves it.",
    });
  });

  it("rejects a malformed command, naming every field that is wrong", async () => {
    const outcome = await handleCommand(
      { "detail-type": "Rollback Requested", detail: { model: "Llama 3", requestedBy: "" } } as CommandEvent,
      world,
    );
    expect(outcome.status).toBe("rejected");
    expect(outcome.findings?.map((f) => f.path)).toEqual(["detail.model", "detail.requestedBy"]);
    expect(outcome.message).toBe(
      "The command was not carried out: detail.model: expected a model name: lowercase letters, digits and '-', found 'Llama 3'; detail.requestedBy: expected at least 1 character, found ''.",
    );
    expect(world.events.ofType("Model Rolled Back")).toEqual([]);
  });
});
