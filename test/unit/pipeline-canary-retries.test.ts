import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { finalize } from "../../lib/pipeline/finalize";
import { promote } from "../../lib/pipeline/promote";
import { registerGateway } from "../../lib/pipeline/register-gateway";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

async function releaseV1(world: CanaryWorld): Promise<void> {
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  state = await flow.promote(state, world);
  await flow.finalize(await flow.checkWatch(state, world), world);
}

describe("Every canary stage, retried by the state machine", () => {
  let world: CanaryWorld;
  let state: ExecutionState;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
    world.events.emitted.length = 0;
    world.alarms.ensureCalls.length = 0;
    state = await rolloutThroughGates(world, "v2");
  });

  async function transitions(stage: string): Promise<number> {
    const record = await world.store.get(MODEL);
    return record?.history.filter((t) => t.rolloutId === state.rollout.id && t.stage === stage).length ?? 0;
  }

  it("RegisterGateway: one route entry, one registry entry, one record and one event", async () => {
    const first = await registerGateway(state, world);
    const again = await registerGateway(state, world);
    expect(again).toEqual(first);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100, v2: 0 });
    expect(world.registry.entry(MODEL, "v2")?.id).toBe(first.registryId);
    expect(await transitions("RegisterGateway")).toBe(1);
    expect(world.events.emitted.filter((e) => e.detail.stage === "RegisterGateway")).toHaveLength(1);
  });

  it("CanaryStep: the same step, the alarms created once, one record and one event", async () => {
    state = await flow.registerGateway(state, world);
    const first = await canaryStep(state, world);
    const again = await canaryStep(state, world);
    expect(again).toEqual(first);
    expect(world.alarms.ensureCalls).toHaveLength(1);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });
    expect(await transitions("CanaryStep")).toBe(1);
    expect(world.events.ofType("Canary Weight Changed")).toHaveLength(1);
    expect(world.metrics.running).toHaveLength(1);
  });

  it("CanaryStep: a retry after the record could not be written finishes the step", async () => {
    state = await flow.registerGateway(state, world);
    const record = world.store.record.bind(world.store);
    let failNext = true;
    world.store.record = (...args) => {
      if (!failNext) return record(...args);
      failNext = false;
      return Promise.reject(new Error("ProvisionedThroughputExceededException"));
    };
    await expect(canaryStep(state, world)).rejects.toThrow("ProvisionedThroughputExceededException");
    const progress = await canaryStep(state, world);
    expect(progress).toMatchObject({ step: 1, weight: 10 });
    expect(await transitions("CanaryStep")).toBe(1);
    expect((await world.store.get(MODEL))?.alarmNames).toEqual(world.alarms.names);
  });

  it("Promote: the recorded outcome, and nothing moved twice", async () => {
    state = await flow.canaryStep(await flow.registerGateway(state, world), world);
    const first = await promote(state, world);
    const changes = world.gateway.changes.length;
    const again = await promote(state, world);
    expect(again).toEqual(first);
    expect(world.gateway.changes).toHaveLength(changes);
    expect(world.events.ofType("Model Promoted")).toHaveLength(1);
    expect(await transitions("Promote")).toBe(1);
  });

  it("Finalize: the recorded outcome, the lock released, nothing removed twice", async () => {
    state = await flow.canaryStep(await flow.registerGateway(state, world), world);
    state = await flow.promote(state, world);
    const first = await finalize(state, world);
    const removed = [...world.serving.removed];
    const again = await finalize(state, world);
    expect(again).toEqual(first);
    expect(world.serving.removed).toEqual(removed);
    expect(world.events.emitted.filter((e) => e.detail.stage === "Finalize")).toHaveLength(1);
    expect((await world.store.get(MODEL))?.lock).toBeUndefined();
  });
});
