import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import type { CandidateHandle } from "../../lib/ports";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryVerdict,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

/** v1 as a first release: gates → RegisterGateway → Promote → Watch → CheckWatch → Finalize. */
async function releaseFirstVersion(world: CanaryWorld): Promise<ExecutionState> {
  let state = await rolloutThroughGates(world, "v1");
  state = await flow.registerGateway(state, world);
  expect(state.plan?.hasStable).toBe(false);
  state = await flow.promote(state, world);
  world.clock.advance(300);
  state = await flow.checkWatch(state, world);
  expect(state.outcome?.["watch"]).toMatchObject({ rollback: false });
  return flow.finalize(state, world);
}

/** Every CanaryStep → Bake → CheckCanary until CanaryVerdict leaves the loop; returns where it went. */
async function runCanary(state: ExecutionState, world: CanaryWorld, duringBake = async () => {}) {
  for (;;) {
    state = await flow.canaryStep(state, world);
    world.clock.advance(Number(state.canary?.["bakeSeconds"]));
    await duringBake();
    state = await flow.checkCanary(state, world);
    const next = canaryVerdict(state);
    if (next !== "CanaryStep") return { state, next };
  }
}

describe("Promote: the new stable's replicas", () => {
  const manifest = (serving: string) => `
serving: ${serving}
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  watchSeconds: 300
`;

  it("scales a first release to its fixed replica count before it takes the traffic", async () => {
    const world = canaryWorld();
    let state = await rolloutThroughGates(world, "v1", manifest("{replicas: 3}"));
    state = await flow.registerGateway(state, world);
    const handle = state.candidate?.handle as CandidateHandle;
    await flow.promote(state, world);
    // Up to its full size before the traffic, then its own count (already there).
    expect(world.serving.scaled).toEqual([`${handle.id} → 3`, `${handle.id} → 3`]);
    expect(await world.serving.replicas(handle)).toMatchObject({ desired: 3 });
  });

  it("gives an autoscaled version its own range back: the gates ran it pinned to one replica", async () => {
    const world = canaryWorld();
    const autoscaled = "\n  autoscaling: {minReplicas: 2, maxReplicas: 5, metric: inFlight, target: 8}";
    let state = await rolloutThroughGates(world, "v1", manifest(autoscaled));
    const handle = state.candidate?.handle as CandidateHandle;
    expect(world.serving.autoscalers.get(handle.id)?.range).toEqual({ minReplicas: 1, maxReplicas: 1 });
    state = await flow.registerGateway(state, world);
    await flow.promote(state, world);
    // Its minimum before the traffic, then its range back.
    expect(world.serving.scaled).toEqual([`${handle.id} → 2`, `${handle.id} → autoscaled`]);
  });
});

describe("A first release", () => {
  let world: CanaryWorld;
  beforeEach(() => {
    world = canaryWorld();
  });

  it("goes to 100% without a canary, is watched by its alarms and prober, then finalized", async () => {
    let state = await rolloutThroughGates(world, "v1");
    state = await flow.registerGateway(state, world);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 0 });
    expect(world.registry.entry(MODEL, "v1")?.status).toBe("PendingManualApproval");

    state = await flow.promote(state, world);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.registry.entry(MODEL, "v1")?.status).toBe("Approved");
    const armed = [
      "modelship-llama-v1-latency-p95",
      "modelship-llama-v1-error-rate",
      "modelship-llama-v1-no-probe-data",
      "modelship-llama-v1-rollback",
    ];
    expect((await world.store.get(MODEL))?.alarmNames).toEqual(armed);
    expect(world.alarms.names).toEqual(armed);
    expect(world.metrics.running).toEqual([
      { model: MODEL, version: "v1", rolloutId: state.rollout.id, everySeconds: 10 },
    ]);

    state = await flow.checkWatch(state, world);
    state = await flow.finalize(state, world);
    expect(state.outcome).toEqual({
      reason: "llama v1 is the stable version after a quiet watch; the alarms and the prober were removed.",
      reportKey: `reports/llama/v1/${state.rollout.id}/report.html`,
    });
    expect(world.alarms.names).toEqual([]);
    expect(world.metrics.running).toEqual([]);
    const record = await world.store.get(MODEL);
    expect(record).toMatchObject({ stableVersion: "v1", status: "promoted", stable: { version: "v1" } });
    expect(record?.lock).toBeUndefined();
    expect(record?.previousStable).toBeUndefined();
    expect(world.events.emitted.map((e) => `${e.detailType} ${e.detail.stage}`)).toEqual([
      "Rollout Started Prepare",
      "Stage Succeeded DeployCandidate",
      "Stage Succeeded RegisterGateway",
      "Model Promoted Promote",
      "Stage Succeeded Finalize",
    ]);
  });
});

describe("A canary", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseFirstVersion(world);
    world.events.emitted.length = 0;
    world.gateway.changes.length = 0;
    world.alarms.ensureCalls.length = 0;
  });

  it("moves v2 through every step, promotes it with v1 warm through the watch, then retires v1", async () => {
    let state = await rolloutThroughGates(world, "v2");
    expect(state.plan).toMatchObject({ hasStable: true, stableVersion: "v1" });
    state = await flow.registerGateway(state, world);
    const { state: baked, next } = await runCanary(state, world);
    expect(next).toBe("Promote");
    expect(world.alarms.ensureCalls).toHaveLength(1);

    state = await flow.promote(baked, world);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v2: 100, v1: 0 });
    const watched = await world.store.get(MODEL);
    expect(watched).toMatchObject({
      status: "promoted",
      stableVersion: "v2",
      stable: { version: "v2", rolloutId: state.rollout.id },
      previousStable: { version: "v1" },
      weights: { stable: 100, candidate: 0 },
    });
    expect(watched?.candidate).toBeUndefined();
    expect(world.serving.running).toContain(watched?.previousStable?.handle.id);

    world.clock.advance(300);
    state = await flow.checkWatch(state, world);
    expect(state.outcome?.["watch"]).toMatchObject({ rollback: false, promote: false });
    state = await flow.finalize(state, world);

    expect(world.gateway.changes.map((c) => c.weights)).toEqual([
      { v1: 100, v2: 0 },
      { v1: 90, v2: 10 },
      { v1: 50, v2: 50 },
      { v1: 0, v2: 100 },
      { v2: 100, v1: 0 },
      { v2: 100 },
    ]);
    const record = await world.store.get(MODEL);
    expect(world.serving.running).toEqual([record?.stable?.handle.id]);
    expect(world.alarms.names).toEqual([]);
    expect(world.metrics.running).toEqual([]);
    expect(world.registry.entry(MODEL, "v2")?.status).toBe("Approved");
    expect(await world.store.getVersionResults(MODEL, "v2")).toMatchObject({
      rolloutId: state.rollout.id,
      smoke: { ttftMs: 41.5 },
    });
    expect(record?.lock).toBeUndefined();
    expect(record?.previousStable).toBeUndefined();
    expect(record?.history.filter((t) => t.rolloutId === state.rollout.id).map((t) => t.stage)).toEqual([
      "Prepare",
      "RegisterGateway",
      "CanaryStep",
      "CanaryStep",
      "CanaryStep",
      "Promote",
      "Finalize",
    ]);
  });

  it("announces each weight change with the step, the weight and the weight before", async () => {
    const state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    await runCanary(state, world);
    expect(world.events.ofType("Canary Weight Changed").map((e) => e.detail.data)).toEqual([
      expect.objectContaining({
        step: 1,
        steps: 3,
        weight: 10,
        previousWeight: 0,
        weights: { stable: 90, candidate: 10 },
      }),
      expect.objectContaining({
        step: 2,
        steps: 3,
        weight: 50,
        previousWeight: 10,
        weights: { stable: 50, candidate: 50 },
      }),
      expect.objectContaining({
        step: 3,
        steps: 3,
        weight: 100,
        previousWeight: 50,
        weights: { stable: 0, candidate: 100 },
      }),
    ]);
    const [first] = world.events.ofType("Canary Weight Changed");
    expect(first?.detail).toMatchObject({ model: MODEL, version: "v2", rolloutId: state.rollout.id });
    expect(first?.detail.message).toBe(
      "llama v2 takes 10% of traffic, v1 90% (step 1 of 3); v2 runs 1 replica, v1 1; baking 60 s.",
    );
  });

  it("never starts at 0%: some gateways fail a weight-0 dark launch", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    const plan = state.plan;
    if (!plan) throw new Error("Prepare planned nothing");
    state = {
      ...state,
      plan: { ...plan, canarySteps: [{ weight: 0, bakeSeconds: 60 }, ...plan.canarySteps] },
    };
    state = await flow.canaryStep(state, world);
    expect(state.canary).toEqual({ step: 2, steps: 4, weight: 10, bakeSeconds: 60 });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });
  });

  it("bakes each step as long as the manifest says", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    const bakes: unknown[] = [];
    for (let step = 0; step < 3; step++) {
      state = await flow.canaryStep(state, world);
      bakes.push(state.canary?.["bakeSeconds"]);
      state = await flow.checkCanary(state, world);
    }
    expect(bakes).toEqual([60, 60, 30]);
  });

  it("reports after each bake where the canary is and every alarm's value next to its threshold", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    state = await flow.canaryStep(state, world);
    const [first] = (await world.store.get(MODEL))?.alarmNames ?? [];
    world.alarms.setState(first ?? "", "OK", { value: 812 });
    state = await flow.checkCanary(state, world);
    const check = state.canary?.["check"] as { reason: string };
    expect(check.reason).toMatch(/^Step 1 of 3: v2 at 10%, v1 at 90%; alarms: /);
    expect(check.reason).toMatch(/ OK \(812 \/ \d+(\.\d+)?\)/);
    expect(check.reason).toMatch(/INSUFFICIENT_DATA/);
  });
});

describe("The rollout strategies", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseFirstVersion(world);
    world.events.emitted.length = 0;
    world.gateway.changes.length = 0;
  });

  const GATES_OFF = "gates:\n  stress: {enabled: false}\n  eval: {enabled: false}\n";

  it("blue/green: after the gates v2 takes all traffic at once, armed first, with v1 warm; an alarm takes it all back in one step", async () => {
    let state = await rolloutThroughGates(
      world,
      "v2",
      `${GATES_OFF}rollout: {strategy: blueGreen, watchSeconds: 300}\n`,
    );
    expect(state.plan).toMatchObject({ hasStable: true, strategy: { kind: "blueGreen" }, canarySteps: [] });
    expect(world.events.emitted[0]?.detail.message).toBe(
      `Rolling out llama v2 blue/green (all traffic at once after the gates) against stable v1.`,
    );
    state = await flow.registerGateway(state, world);

    state = await flow.promote(state, world);
    expect(world.alarms.names).toContain("modelship-llama-v2-rollback");
    expect(world.gateway.changes.map((c) => c.weights)).toEqual([
      { v1: 100, v2: 0 },
      { v2: 100, v1: 0 },
    ]);
    expect(state.outcome?.["reason"]).toBe(
      "llama v2 took 100% of traffic at once (blue/green); v1 stays warm through the 300 s watch, to take it all back in one step on an alarm.",
    );
    expect(world.serving.running).toContain((await world.store.get(MODEL))?.previousStable?.handle.id);

    world.alarms.setState("modelship-llama-v2-rollback", "ALARM");
    state = await flow.checkWatch(state, world);
    expect(state.outcome?.["watch"]).toMatchObject({ rollback: true });
    await flow.rollback(state, world).catch(() => undefined);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.alarms.names).toEqual([]);
  });

  it("linear: v2 moves by the same step each interval, and status names the strategy's step", async () => {
    let state = await rolloutThroughGates(
      world,
      "v2",
      `${GATES_OFF}rollout: {strategy: linear, linear: {stepPercent: 40, intervalSeconds: 60}}\n`,
    );
    state = await flow.registerGateway(state, world);
    state = await flow.canaryStep(state, world);
    expect((await world.store.get(MODEL))?.canary).toEqual({
      strategy: "linear",
      step: 1,
      steps: 3,
      weight: 40,
    });
    const { next } = await runCanary(state, world);

    expect(next).toBe("Promote");
    expect(world.gateway.changes.map((c) => c.weights)).toEqual([
      { v1: 100, v2: 0 },
      { v1: 60, v2: 40 },
      { v1: 20, v2: 80 },
      { v1: 0, v2: 100 },
    ]);
  });
});
