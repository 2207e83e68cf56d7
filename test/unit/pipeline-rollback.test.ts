import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { rollbackOnAlarm } from "../../lib/pipeline/alarm-rollback";
import { handleCommand } from "../../lib/pipeline/commands";
import { rollback } from "../../lib/pipeline/rollback";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryVerdict,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

async function releaseV1(world: CanaryWorld): Promise<ExecutionState> {
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  state = await flow.promote(state, world);
  state = await flow.checkWatch(state, world);
  return flow.finalize(state, world);
}

/** A version through its gates, registered, and at its first canary step (baking). */
async function canaryAtFirstStep(world: CanaryWorld, version: string): Promise<ExecutionState> {
  const state = await flow.registerGateway(await rolloutThroughGates(world, version), world);
  return flow.canaryStep(state, world);
}

function alarmEvent(alarmName: string, value: "ALARM" | "OK" = "ALARM") {
  return {
    "detail-type": "CloudWatch Alarm State Change" as const,
    detail: {
      alarmName,
      state: { value, reason: "Threshold Crossed: 3 datapoints were greater than the threshold" },
    },
  };
}

const latencyAlarm = (version: string) => `modelship-llama-${version}-latency-p95`;
const rollbackAlarm = (version: string) => `modelship-llama-${version}-rollback`;

/** CloudWatch finds v2's p95 latency at 2412 ms (threshold 2000): the alarm and the composite over it fire. */
function fireLatency(world: CanaryWorld, version = "v2"): void {
  world.alarms.setState(latencyAlarm(version), "ALARM", { value: 2412 });
  world.alarms.setState(rollbackAlarm(version), "ALARM");
}

describe("Rollback", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
  });

  it("acts on an alarm during a bake; the state machine's check and Rollback then find the work done", async () => {
    let state = await canaryAtFirstStep(world, "v2");
    const candidate = (await world.store.get(MODEL))?.candidate;
    fireLatency(world);

    const byAlarm = await rollbackOnAlarm(alarmEvent(rollbackAlarm("v2")), world);
    expect(byAlarm.result).toBe("rolled back");
    expect(byAlarm.reason).toBe(
      "Rolled back llama v2 because alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000; v1 serves 100% again.",
    );
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.serving.running).not.toContain(candidate?.handle.id);
    expect(world.alarms.names).toEqual([]);
    expect(world.metrics.running).toEqual([]);
    expect(world.registry.entry(MODEL, "v2")?.status).toBe("Rejected");
    const record = await world.store.get(MODEL);
    expect(record).toMatchObject({
      status: "rolled_back",
      stableVersion: "v1",
      stable: { version: "v1" },
      weights: { stable: 100, candidate: 0 },
    });
    expect(record?.lock).toBeUndefined();
    expect(record?.candidate).toBeUndefined();
    expect(record?.canary).toBeUndefined();

    const routeChanges = world.gateway.changes.length;
    world.clock.advance(60);
    state = await flow.checkCanary(state, world);
    expect(state.canary?.["check"]).toEqual({ rollback: true, promote: false, reason: byAlarm.reason });
    expect(canaryVerdict(state)).toBe("Rollback");
    state = await flow.rollback(state, world);
    expect(state.outcome?.["reason"]).toBe(byAlarm.reason);
    expect(world.events.ofType("Model Rolled Back")).toHaveLength(1);
    expect(world.gateway.changes).toHaveLength(routeChanges);
    expect((await world.store.get(MODEL))?.history.filter((t) => t.stage === "Rollback")).toHaveLength(1);
  });

  it("announces the rollback with the alarm that fired and the version that serves again", async () => {
    const state = await canaryAtFirstStep(world, "v2");
    fireLatency(world);
    await rollbackOnAlarm(alarmEvent(rollbackAlarm("v2")), world);
    const [event] = world.events.ofType("Model Rolled Back");
    expect(event?.detail).toMatchObject({
      model: MODEL,
      version: "v2",
      rolloutId: state.rollout.id,
      executionArn: state.rollout.executionId,
      stage: "Rollback",
      reason: "alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000",
      data: {
        trigger: "alarm",
        alarm: "modelship-llama-v2-rollback",
        restoredVersion: "v1",
        weights: { stable: 100, candidate: 0 },
      },
    });
  });

  it("names the alarm, its value and threshold when the state machine finds it first", async () => {
    let state = await canaryAtFirstStep(world, "v2");
    world.alarms.setState(latencyAlarm("v2"), "ALARM", { value: 2412 });
    state = await flow.checkCanary(state, world);
    expect(state.canary?.["check"]).toEqual({
      rollback: true,
      promote: false,
      reason: "alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000",
    });
    state = await flow.rollback(state, world);
    expect(state.outcome?.["reason"]).toBe(
      "Rolled back llama v2 because alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000; v1 serves 100% again.",
    );
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });

  it("rolls back a stage's failure after the gates, with the caught error as the reason", async () => {
    let state = await canaryAtFirstStep(world, "v2");
    state = { ...state, error: { Error: "Transient", Cause: "setWeights failed with ThrottlingException" } };
    state = await flow.rollback(state, world);
    expect(state.outcome?.["reason"]).toBe(
      "Rolled back llama v2 because the state machine caught Transient: setWeights failed with ThrottlingException; v1 serves 100% again.",
    );
  });

  it("during the watch, returns all traffic to the previous stable, still warm, and retires the promoted one", async () => {
    let state = await canaryAtFirstStep(world, "v2");
    for (let step = 1; step < 3; step++) state = await flow.canaryStep(state, world);
    state = await flow.promote(state, world);
    const v1 = (await world.store.get(MODEL))?.previousStable;
    const v2 = (await world.store.get(MODEL))?.stable;
    const deploys = world.serving.deployed.length;

    fireLatency(world);
    const byAlarm = await rollbackOnAlarm(alarmEvent(latencyAlarm("v2")), world);
    expect(byAlarm.reason).toMatch(/; v1 \(the previous stable, kept warm\) serves 100% again\.$/);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.serving.running).toEqual([v1?.handle.id]);
    expect(world.serving.removed).toContain(v2?.handle.id);
    expect(world.serving.deployed).toHaveLength(deploys);
    const record = await world.store.get(MODEL);
    expect(record).toMatchObject({ status: "rolled_back", stableVersion: "v1", stable: v1 });
    expect(record?.previousStable).toBeUndefined();

    world.clock.advance(300);
    state = await flow.checkWatch(state, world);
    expect(state.outcome?.["watch"]).toMatchObject({ rollback: true, reason: byAlarm.reason });
    state = await flow.rollback(state, world);
    expect(state.outcome?.["reason"]).toBe(byAlarm.reason);
    expect(world.events.ofType("Model Rolled Back")).toHaveLength(1);
  });

  it("is never undone by a stage that runs after it: Finalize does not retire the version serving again", async () => {
    let state = await canaryAtFirstStep(world, "v2");
    state = await flow.promote(state, world);
    const v1 = (await world.store.get(MODEL))?.previousStable;
    fireLatency(world);
    const byAlarm = await rollbackOnAlarm(alarmEvent(rollbackAlarm("v2")), world);
    await expect(flow.finalize(state, world)).rejects.toMatchObject({
      name: "RolledBack",
      message: byAlarm.reason,
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.serving.running).toEqual([v1?.handle.id]);
  });

  it("leaves a first release unserved, having nothing to return to, and says so", async () => {
    world = canaryWorld();
    await flow.promote(await flow.registerGateway(await rolloutThroughGates(world, "v1"), world), world);
    const outcome = await handleCommand(
      {
        "detail-type": "Rollback Requested",
        detail: { model: MODEL, requestedBy: "alice", reason: "wrong answers" },
      },
      world,
    );
    expect(outcome).toMatchObject({ status: "done", command: "Rollback Requested", model: MODEL });
    expect(outcome.message).toBe(
      "Rolled back llama v1 because a rollback was requested by alice (wrong answers); llama had no earlier version to return to, so its route was removed: it is not served until a new version is released.",
    );
    expect(await world.gateway.describe(MODEL)).toBeUndefined();
    expect(world.serving.running).toEqual([]);
    const record = await world.store.get(MODEL);
    expect(record?.stable).toBeUndefined();
    expect(record?.stableVersion).toBeUndefined();
    expect(record?.weights).toBeUndefined();
    expect(record?.status).toBe("rolled_back");
  });

  it("for an older rollout leaves the newer rollout of the same model alone", async () => {
    const v2 = await canaryAtFirstStep(world, "v2");
    fireLatency(world);
    const first = await rollbackOnAlarm(alarmEvent(rollbackAlarm("v2")), world);

    const v3 = await canaryAtFirstStep(world, "v3");
    const before = await world.store.get(MODEL);
    const stale = await flow.rollback({ ...v2, canary: { ...v2.canary, check: { rollback: true } } }, world);
    expect(stale.outcome?.["reason"]).toBe(first.reason);
    const again = await rollbackOnAlarm(alarmEvent(latencyAlarm("v2")), world);
    expect(again).toEqual({
      result: "nothing to roll back",
      reason:
        "No running rollout watches alarm modelship-llama-v2-latency-p95 (an earlier version's alarm, or a rollout already rolled back or finished): nothing to roll back.",
    });

    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v3: 10 });
    const after = await world.store.get(MODEL);
    expect(after?.lock?.rolloutId).toBe(v3.rollout.id);
    expect(after?.candidate).toEqual(before?.candidate);
    expect(after?.alarmNames).toEqual(before?.alarmNames);
    expect(world.metrics.running.map((p) => p.version)).toEqual(["v3"]);
  });

  it("for a rollout that lost the model outside modelship leaves the route alone but removes its own workload", async () => {
    const state = await canaryAtFirstStep(world, "v2");
    const handle = (await world.store.get(MODEL))?.candidate?.handle;
    await world.store.releaseLock(MODEL, state.rollout.id);
    await world.store.record(
      MODEL,
      {
        at: "2025-06-01T12:30:00.000Z",
        rolloutId: "manual",
        version: "v2",
        stage: "Operator",
        status: "failed",
        reason: "reset by hand",
      },
      { candidate: null },
    );
    const outcome = await rollback(
      { by: "state machine", state: { ...state, error: { Error: "Transient", Cause: "x" } } },
      world,
    );
    expect(outcome.result).toBe("nothing to roll back");
    expect(outcome.reason).toBe(
      `Rollout ${state.rollout.id} of llama v2 is no longer running (no rollout holds the model), so its route was not touched; it was to be rolled back because the state machine caught Transient: x. Its candidate workload ${handle?.id} was removed.`,
    );
    expect(world.serving.running).not.toContain(handle?.id);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });
  });

  it("for a model with no rollout running touches nothing and says so", async () => {
    const routeChanges = world.gateway.changes.length;
    const outcome = await rollback({ by: "command", command: "Rollback Requested", model: MODEL }, world);
    expect(outcome).toEqual({
      result: "nothing to roll back",
      reason: "No rollout of llama is running: a rollback has nothing to do. v1 serves it.",
    });
    const unknown = await rollback({ by: "command", command: "Abort Requested", model: "mistral" }, world);
    expect(unknown.reason).toBe("No rollout of mistral is running: an abort has nothing to do.");
    expect(world.gateway.changes).toHaveLength(routeChanges);
    expect(world.events.ofType("Model Rolled Back")).toEqual([]);
  });

  it("names the alarms with the pipeline's own prefix and acts only on alarms named with it", async () => {
    const config = {
      ...DEFAULT_STACK_CONFIG,
      canaryMetrics: { ...DEFAULT_STACK_CONFIG.canaryMetrics, alarmPrefix: "Team-A-Pipeline-" },
    };
    const teamA = canaryWorld({ config });
    await releaseV1(teamA);
    await canaryAtFirstStep(teamA, "v2");
    const armed = (await teamA.store.get(MODEL))?.alarmNames ?? [];
    expect(armed).toContain("Team-A-Pipeline-llama-v2-rollback");
    teamA.alarms.setState("Team-A-Pipeline-llama-v2-rollback", "ALARM");

    // Another pipeline's alarm for a model of the same name is not this pipeline's to act on.
    const other = await rollbackOnAlarm(alarmEvent(rollbackAlarm("v2")), teamA);
    expect(other.result).toBe("nothing to roll back");
    expect(teamA.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });

    const own = await rollbackOnAlarm(alarmEvent("Team-A-Pipeline-llama-v2-rollback"), teamA);
    expect(own.result).toBe("rolled back");
    expect(teamA.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });

  it("ignores an alarm going back to OK", async () => {
    await canaryAtFirstStep(world, "v2");
    const outcome = await rollbackOnAlarm(alarmEvent(latencyAlarm("v2"), "OK"), world);
    expect(outcome).toEqual({
      result: "nothing to roll back",
      reason: "Alarm modelship-llama-v2-latency-p95 is OK, not ALARM: nothing to roll back.",
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 90, v2: 10 });
  });

  it("says what is wrong with an event that is not an alarm state change", async () => {
    const outcome = await rollbackOnAlarm(
      {
        "detail-type": "CloudWatch Alarm State Change",
        detail: { alarmName: "x", state: { value: "FIRING" } },
      },
      world,
    );
    expect(outcome.result).toBe("nothing to roll back");
    expect(outcome.reason).toMatch(
      /^Not a CloudWatch alarm state change modelship can act on: detail\.state\.value: /,
    );
  });

  it("finishes, once, a rollback that failed half-way when it is run again", async () => {
    const state = await canaryAtFirstStep(world, "v2");
    let registryDown = true;
    const setStatus = world.registry.setStatus.bind(world.registry);
    world.registry.setStatus = (...args) =>
      registryDown ? Promise.reject(new Error("registry unavailable")) : setStatus(...args);

    await expect(flow.rollback(state, world)).rejects.toThrow("registry unavailable");
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect((await world.store.get(MODEL))?.lock).toBeDefined();

    registryDown = false;
    const retried = await rollback({ by: "state machine", state }, world);
    expect(retried.result).toBe("rolled back");
    const again = await rollback({ by: "state machine", state }, world);
    expect(again).toMatchObject({ result: "already rolled back", reason: retried.reason });
    expect(world.events.ofType("Model Rolled Back")).toHaveLength(1);
    expect(world.registry.entry(MODEL, "v2")?.status).toBe("Rejected");
    expect((await world.store.get(MODEL))?.lock).toBeUndefined();
  });

  it("during the gates (an abort) removes the candidate's workloads, leaves the route, and stops the execution", async () => {
    const state = await rolloutThroughGates(world, "v2");
    const outcome = await handleCommand(
      { "detail-type": "Abort Requested", detail: { model: MODEL, requestedBy: "bob" } },
      world,
    );
    expect(outcome.message).toBe(
      "Rolled back llama v2 because an abort was requested by bob; v2 had taken no traffic; v1 still serves 100%.",
    );
    expect(world.serving.running).toEqual([(await world.store.get(MODEL))?.stable?.handle.id]);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    await expect(flow.registerGateway(state, world)).rejects.toMatchObject({
      name: "RolledBack",
      message: outcome.message,
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });
});
