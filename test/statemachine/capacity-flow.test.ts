// The capacity-aware canary through the real definition (statemachines/pipeline.asl.json, run by the local
// executor) with the real canary stages on an in-memory world: a stable of four replicas, a canary of
// [25, 50, 100], the candidate's new replicas ready only some looks after each scale. Every scale and weight
// change is recorded in the order it reached the world.

import { describe, expect, it } from "vitest";
import type { CapacityMode } from "../../lib/core/manifest/rollout-settings";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { type ExecutionResult, LocalExecutor, type StateTransition } from "../../lib/local/executor";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { checkCanary } from "../../lib/pipeline/check-canary";
import { cleanup } from "../../lib/pipeline/cleanup";
import type { StageDeps } from "../../lib/pipeline/deps";
import { finalize } from "../../lib/pipeline/finalize";
import { promote } from "../../lib/pipeline/promote";
import { registerGateway } from "../../lib/pipeline/register-gateway";
import { stateMachineRollback } from "../../lib/pipeline/rollback";
import type { CandidateHandle } from "../../lib/ports";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import { definitionJson } from "./test-stages";

const V1_REPLICAS = 4;

async function releaseV1(world: CanaryWorld): Promise<void> {
  const manifest = `
serving: {replicas: ${V1_REPLICAS}}
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  watchSeconds: 300
`;
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1", manifest), world);
  state = await flow.promote(state, world);
  await flow.finalize(await flow.checkWatch(state, world), world);
}

/**
 * The world's scale and weight changes as `v2 → 2` / `weight 50`, and replicas that come up `looks` reads
 * after their scale: until then one fewer is ready.
 */
function observe(world: CanaryWorld, looks: number): string[] {
  const calls: string[] = [];
  const pending = new Map<string, number>();
  const scale = world.serving.scale.bind(world.serving);
  world.serving.scale = async (handle, replicas) => {
    calls.push(`${handle.version} → ${replicas}`);
    const before = (await world.serving.replicas(handle)).desired;
    await scale(handle, replicas);
    if (typeof replicas === "number" && replicas > before) pending.set(handle.id, looks);
  };
  const replicas = world.serving.replicas.bind(world.serving);
  world.serving.replicas = async (handle) => {
    const count = await replicas(handle);
    const left = pending.get(handle.id) ?? 0;
    if (left === 0) return count;
    pending.set(handle.id, left - 1);
    return { desired: count.desired, ready: count.desired - 1 };
  };
  const setWeights = world.gateway.setWeights.bind(world.gateway);
  world.gateway.setWeights = async (model, weights, stickiness) => {
    calls.push(`weight ${weights.candidate}`);
    return setWeights(model, weights, stickiness);
  };
  const promote = world.gateway.promote.bind(world.gateway);
  world.gateway.promote = async (model, version) => {
    const stable = (await world.store.get(model))?.stable;
    const ready = stable ? (await world.serving.replicas(stable.handle)).ready : 0;
    calls.push(`route → ${version} (stable ${ready} ready)`);
    return promote(model, version);
  };
  return calls;
}

interface Run {
  readonly result: ExecutionResult;
  readonly path: readonly string[];
  readonly calls: readonly string[];
  readonly world: CanaryWorld;
  readonly v2: CandidateHandle;
}

/** v1 serves with four replicas; v2 is through its gates and the definition runs it from Prepare to its end. */
async function runCanary(
  capacity: CapacityMode,
  options: {
    looks?: number;
    stages?: { CheckCanary?: (state: ExecutionState, deps: StageDeps) => ReturnType<typeof checkCanary> };
  } = {},
): Promise<Run> {
  const world = canaryWorld();
  await releaseV1(world);
  const manifest = `
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [25, 50, 100]
  bakeSeconds: 60
  watchSeconds: 300
  capacity: ${capacity}
`;
  const gated = await rolloutThroughGates(world, "v2", manifest);
  const calls = observe(world, options.looks ?? 2);
  const real =
    (run: (state: ExecutionState, deps: StageDeps) => Promise<unknown>) => async (input: unknown) =>
      run(input as ExecutionState, world);
  const given = (value: unknown) => async () => value;
  const executor = new LocalExecutor(definitionJson, {
    timeFactor: 0,
    handlers: {
      Prepare: given({ manifest: gated.manifest, plan: gated.plan }),
      Validate: given(gated.validation),
      DeployCandidate: given((gated.candidate as { handle: unknown }).handle),
      CheckCandidate: given({ phase: "ready", readySeconds: 12 }),
      SmokeTest: given(gated.smoke),
      StressWorker: given({}),
      MergeStress: given({}),
      EvalShard: given({}),
      MergeEval: given({}),
      RegisterGateway: real(registerGateway),
      RunHooks: given({ results: [] }),
      RequestApproval: () => Promise.reject(new Error("Not reached: approved automatically.")),
      Shadow: () => Promise.reject(new Error("Not reached: the manifest has no shadow.")),
      CanaryStep: real(canaryStep),
      CheckCanary: real(options.stages?.CheckCanary ?? checkCanary),
      Promote: real(promote),
      Finalize: real(finalize),
      Rollback: real(stateMachineRollback),
      Cleanup: real(cleanup),
    },
  });
  const transitions: StateTransition[] = [];
  const result = await executor.run(
    { rollout: gated.rollout },
    {
      executionId: gated.rollout.executionId ?? "",
      name: gated.rollout.id,
      onTransition: (t) => transitions.push(t),
    },
  ).result;
  const path = transitions
    .filter((t) => t.type === "entered" && t.iteration === undefined)
    .map((t) => t.state);
  return { result, path, calls, world, v2: (gated.candidate as { handle: CandidateHandle }).handle };
}

describe("The capacity-aware canary in the state machine", () => {
  it("scales the candidate, waits for its replicas in a Wait loop, and only then moves each weight", async () => {
    const run = await runCanary("surge");
    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.calls).toEqual([
      "weight 25",
      "v2 → 2",
      "weight 50",
      "v2 → 4",
      "weight 100",
      // Promote moves the route while v2 runs the replicas that carried 100%, then gives it its own count.
      "route → v2 (stable 4 ready)",
      "v2 → 1",
    ]);
    // Step 1 needs the one replica the gates ran; steps 2 and 3 each wait two looks for a new replica.
    const waits = run.path.filter((state) => state === "WaitForCanaryReplicas");
    expect(waits).toHaveLength(4);
    expect(run.path.filter((state) => state === "Bake")).toHaveLength(3);
    // Each Wait follows a CanaryStep whose weight did not move, and is followed by CanaryStep again.
    run.path.forEach((state, i) => {
      if (state !== "WaitForCanaryReplicas") return;
      expect(run.path.slice(i - 2, i + 2)).toEqual([
        "CanaryStep",
        "IsCanaryStepApplied",
        "WaitForCanaryReplicas",
        "CanaryStep",
      ]);
    });
  });

  it("scales the stable down in constrained only after the weight it served moved: never more than stable + 1", async () => {
    const run = await runCanary("constrained");
    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.calls.slice(0, 10)).toEqual([
      "weight 25",
      "v1 → 3",
      "v2 → 2",
      "weight 50",
      "v1 → 2",
      "v2 → 3",
      "weight 75",
      "v1 → 1",
      "v2 → 4",
      "weight 100",
    ]);
    // Finalize retired v1 after the watch: v2 alone serves.
    expect(run.world.gateway.weightsOf(MODEL)).toEqual({ v2: 100 });
  });

  it("rolls back with CandidateTimeout when the new replicas never come up, the weight where it was", async () => {
    const run = await runCanary("surge", { looks: 10_000 });
    expect(run.result.status).toBe("FAILED");
    expect(run.path).toContain("Rollback");
    expect(run.calls).toEqual(["weight 25", "v2 → 2", "route → v1 (stable 4 ready)"]);
    const rolledBack = run.world.events.ofType("Model Rolled Back")[0];
    expect(rolledBack?.detail.reason).toMatch(/CandidateTimeout: .*v2 has 1 of 2 replicas ready/);
    expect(run.world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });

  it("rolls back a constrained canary by restoring the stable's replicas, ready, before traffic returns to it", async () => {
    let checks = 0;
    const alarmAtStep2 = async (state: ExecutionState, deps: StageDeps) => {
      checks += 1;
      if (checks < 2) return checkCanary(state, deps);
      return { rollback: true, promote: false, reason: "alarm llama-v2-latency fired" };
    };
    const run = await runCanary("constrained", { stages: { CheckCanary: alarmAtStep2 } });
    expect(run.result.status).toBe("FAILED");
    expect(run.calls).toEqual([
      "weight 25",
      "v1 → 3",
      "v2 → 2",
      "weight 50",
      // The rollback: v1's third replica takes back 25% at once, v2 gives up the replica that served it, then
      // v1's fourth replica starts and, once ready, takes the rest: never more than 4 + 1 replicas.
      "weight 25",
      "v2 → 1",
      "v1 → 4",
      "weight 0",
      "route → v1 (stable 4 ready)",
      "v1 → autoscaled",
    ]);
    const rolledBack = run.world.events.ofType("Model Rolled Back")[0];
    expect(rolledBack?.detail.data).toMatchObject({ restoredReplicas: { replicas: 4, ready: 4 } });
    expect(rolledBack?.detail.message).toMatch(
      /its 4 replicas restored first, one at a time, .*: the restore took \d+ s/,
    );
  });
});
