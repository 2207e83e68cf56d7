import { beforeEach, describe, expect, it } from "vitest";
import { stableReplicasNeededAt } from "../../lib/core/capacity/capacity-plan";
import type { CapacityMode } from "../../lib/core/manifest/rollout-settings";
import { CandidateTimeout, RolledBack } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { rollback } from "../../lib/pipeline/rollback";
import type { CandidateHandle } from "../../lib/ports";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

/** v1 released with `replicas` replicas: the stable a canary of v2 shifts from. */
async function releaseV1(world: CanaryWorld, replicas: number): Promise<CandidateHandle> {
  const manifest = `
serving: {replicas: ${replicas}}
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  watchSeconds: 300
`;
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1", manifest), world);
  state = await flow.promote(state, world);
  await flow.finalize(await flow.checkWatch(state, world), world);
  return state.candidate?.handle as CandidateHandle;
}

const V2_MANIFEST = (capacity: CapacityMode) => `
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [25, 50, 100]
  bakeSeconds: 60
  watchSeconds: 300
  capacity: ${capacity}
`;

/** Every scale and weight change, in the order they reach the world, as `v2 → 2` and `weight 50`. */
function recordWorldCalls(world: CanaryWorld): string[] {
  const calls: string[] = [];
  const scale = world.serving.scale.bind(world.serving);
  world.serving.scale = async (handle, replicas) => {
    calls.push(`${handle.version} → ${replicas}`);
    return scale(handle, replicas);
  };
  const setWeights = world.gateway.setWeights.bind(world.gateway);
  world.gateway.setWeights = async (model, weights, stickiness) => {
    calls.push(`weight ${weights.candidate}`);
    return setWeights(model, weights, stickiness);
  };
  return calls;
}

/**
 * Records every scale (`v1 → 4`) and every route change (`route → v1 (n ready)`, with `watched`'s ready replicas
 * then) into the returned list; while `starting.looks` is above 0, a look at `watched` once it runs `full`
 * replicas finds one of them still starting (and uses up a look).
 */
function recordScalesAndRoute(
  world: CanaryWorld,
  watched: CandidateHandle,
  full: number,
  starting: { looks: number },
): string[] {
  const calls: string[] = [];
  const scale = world.serving.scale.bind(world.serving);
  world.serving.scale = async (handle, replicas) => {
    calls.push(`${handle.version} → ${replicas}`);
    return scale(handle, replicas);
  };
  const replicas = world.serving.replicas.bind(world.serving);
  world.serving.replicas = async (handle) => {
    const count = await replicas(handle);
    if (handle.id !== watched.id || count.desired < full || starting.looks === 0) return count;
    starting.looks -= 1;
    return { desired: count.desired, ready: count.desired - 1 };
  };
  const promote = world.gateway.promote.bind(world.gateway);
  world.gateway.promote = async (model, version) => {
    const ready = (await replicas(watched)).ready - (starting.looks > 0 ? 1 : 0);
    calls.push(`route → ${version} (${ready} ready)`);
    return promote(model, version);
  };
  return calls;
}

describe("CanaryStep: the candidate's replicas follow its weight", () => {
  let world: CanaryWorld;
  let v1: CandidateHandle;
  let state: ExecutionState;
  let v2: CandidateHandle;
  async function startV2(capacity: CapacityMode): Promise<void> {
    state = await flow.registerGateway(await rolloutThroughGates(world, "v2", V2_MANIFEST(capacity)), world);
    v2 = state.candidate?.handle as CandidateHandle;
  }

  beforeEach(async () => {
    world = canaryWorld();
    v1 = await releaseV1(world, 4);
  });

  it("scales the candidate to ceil(stable × weight / 100) and moves the weight only once they are ready", async () => {
    await startV2("surge");
    const calls = recordWorldCalls(world);
    state = await flow.canaryStep(state, world);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 75, v2: 25 });

    world.serving.unready.set(v2.id, 1);
    state = await flow.canaryStep(state, world);
    // Not applied: $.canary is still step 1, and says what step 2 waits for.
    expect(state.canary).toMatchObject({
      step: 1,
      weight: 25,
      scaling: { step: 2, weight: 50, replicas: 2, ready: 1, checks: 1 },
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 75, v2: 25 });
    expect((await world.store.get(MODEL))?.history.at(-1)?.reason).toBe(
      "Scaling llama v2 to 2 replicas before it takes 50% of traffic.",
    );

    world.clock.advance(45);
    world.serving.unready.delete(v2.id);
    state = await flow.canaryStep(state, world);
    expect(state.canary).toEqual({ step: 2, steps: 3, weight: 50, bakeSeconds: 60 });
    expect(calls).toEqual(["weight 25", "v2 → 2", "weight 50"]);
    const changed = world.events.ofType("Canary Weight Changed").at(-1);
    expect(changed?.detail.data).toMatchObject({ weight: 50, replicas: { candidate: 2, stable: 4 } });
    expect(changed?.detail.message).toBe(
      "llama v2 takes 50% of traffic, v1 50% (step 2 of 3); v2 runs 2 replicas, v1 4 (v2's new replicas were ready 45 s after the scale); baking 60 s.",
    );
  });

  it("keeps the stable at full size in surge: the candidate grows to the stable's size beside it", async () => {
    await startV2("surge");
    const calls = recordWorldCalls(world);
    for (let step = 0; step < 3; step++) state = await flow.canaryStep(state, world);
    expect(calls).toEqual(["weight 25", "v2 → 2", "weight 50", "v2 → 4", "weight 100"]);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 4 });
  });

  it("fails with CandidateTimeout once the startup budget's looks are spent, the weight unmoved", async () => {
    await startV2("surge");
    state = await flow.canaryStep(state, world);
    world.serving.unready.set(v2.id, 1);
    const looks = state.plan?.maxReadinessChecks ?? 0;
    for (let look = 0; look < looks; look++) state = await flow.canaryStep(state, world);
    expect(state.canary?.["scaling"]).toMatchObject({ checks: looks });
    const timedOut = canaryStep(state, world);
    await expect(timedOut).rejects.toBeInstanceOf(CandidateTimeout);
    await expect(timedOut).rejects.toThrow(/v2 has 1 of 2 replicas ready/);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 75, v2: 25 });
  });

  it("runs at most stable + 1 replicas in constrained, a stable replica given up only after its traffic moved", async () => {
    await startV2("constrained");
    const calls = recordWorldCalls(world);
    let weight = 0;
    const counts = { v1: 4, v2: 1 };
    const scale = world.serving.scale.bind(world.serving);
    world.serving.scale = async (handle, replicas) => {
      if (typeof replicas === "number") {
        if (handle.version === "v1")
          expect(replicas).toBeGreaterThanOrEqual(stableReplicasNeededAt(4, weight));
        counts[handle.version as "v1" | "v2"] = replicas;
        expect(counts.v1 + counts.v2).toBeLessThanOrEqual(5);
      }
      return scale(handle, replicas);
    };
    const setWeights = world.gateway.setWeights.bind(world.gateway);
    world.gateway.setWeights = async (model, weights, stickiness) => {
      // Every weight the candidate takes is carried by its ready replicas.
      expect(weights.candidate).toBeLessThanOrEqual((counts.v2 * 100) / 4);
      weight = weights.candidate;
      return setWeights(model, weights, stickiness);
    };
    for (let step = 0; step < 3; step++) state = await flow.canaryStep(state, world);
    expect(calls).toEqual([
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
    const record = await world.store.get(MODEL);
    expect(record?.capacity).toEqual({
      rolloutId: state.rollout.id,
      mode: "constrained",
      stableVersion: "v1",
      stableReplicas: 4,
    });
    expect(world.events.ofType("Canary Weight Changed").at(-1)?.detail.message).toContain(
      "v2 runs 4 replicas, v1 1",
    );
  });

  it("plans every step from the stable's size recorded at the first step, whatever the stable runs later", async () => {
    await startV2("constrained");
    state = await flow.canaryStep(state, world);
    // The stable's autoscaler grew it meanwhile: the plan still holds the rollout to 4 + 1.
    await world.serving.scale(v1, 6);
    state = await flow.canaryStep(state, world);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 3 });
    expect((await world.store.get(MODEL))?.capacity?.stableReplicas).toBe(4);
  });

  it("scales the stable back when it gave up a replica after a rollback took the model", async () => {
    await startV2("constrained");
    state = await flow.canaryStep(state, world);
    const scale = world.serving.scale.bind(world.serving);
    world.serving.scale = async (handle, replicas) => {
      // A rollback command lands just before the stable's scale-down does.
      if (handle.version === "v1" && replicas === 3) {
        await rollback({ by: "command", command: "Rollback Requested", model: MODEL }, world);
      }
      return scale(handle, replicas);
    };
    await expect(canaryStep(state, world)).rejects.toBeInstanceOf(RolledBack);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 4 });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });
});

describe("Rollback after a constrained canary: the stable restored first", () => {
  let world: CanaryWorld;
  let v1: CandidateHandle;
  let state: ExecutionState;
  /** Every change, in order: scales, `route → v1` when traffic returns, and v1's ready replicas then. */
  let calls: string[];
  /** Looks at v1's replicas after its scale-up that still find one of them starting. */
  const starting = { looks: 0 };

  beforeEach(async () => {
    world = canaryWorld();
    v1 = await releaseV1(world, 4);
    state = await flow.registerGateway(
      await rolloutThroughGates(world, "v2", V2_MANIFEST("constrained")),
      world,
    );
    state = await flow.canaryStep(state, world);
    state = await flow.canaryStep(state, world);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 3 });
    starting.looks = 3;
    calls = recordScalesAndRoute(world, v1, 4, starting);
  });

  const rollBackNow = () =>
    rollback({ by: "command", command: "Rollback Requested", model: MODEL, requestedBy: "a tester" }, world);

  it("scales the stable back to its recorded size and waits until it is ready before traffic returns, saying how long that took", async () => {
    const outcome = await rollBackNow();
    expect(calls).toEqual(["v1 → 4", "route → v1 (4 ready)", "v1 → autoscaled"]);
    // Three looks found a replica starting, five seconds apart.
    expect(outcome.reason).toContain(
      "v1 serves 100% again — its 4 replicas restored first (rollout.capacity: constrained), ready 15 s after the scale: the rollback was slower by that much.",
    );
    expect(world.events.ofType("Model Rolled Back")[0]?.detail.data).toMatchObject({
      restoredReplicas: { replicas: 4, ready: 4, seconds: 15 },
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    const record = await world.store.get(MODEL);
    expect(record?.capacity).toBeUndefined();
  });

  it("returns traffic after its bounded wait when the stable's replicas never come up, saying how many were ready", async () => {
    starting.looks = Number.POSITIVE_INFINITY;
    const outcome = await rollBackNow();
    expect(calls.slice(0, 2)).toEqual(["v1 → 4", "route → v1 (3 ready)"]);
    expect(outcome.reason).toContain("but only 3 were ready after 600 s, the longest a rollback waits");
  });

  it("restores the previous stable the same way during the watch, when it was scaled down to one", async () => {
    state = await flow.canaryStep(state, world);
    state = await flow.promote(state, world);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 1 });
    calls.length = 0;
    const outcome = await rollBackNow();
    expect(calls.slice(0, 2)).toEqual(["v1 → 4", "route → v1 (4 ready)"]);
    expect(outcome.reason).toContain(
      "(the previous stable, kept warm) serves 100% again — its 4 replicas restored first",
    );
  });
});

describe("Rollback after a surge canary", () => {
  it("has nothing to restore and says nothing about it", async () => {
    const world = canaryWorld();
    const v1 = await releaseV1(world, 4);
    let state = await flow.registerGateway(
      await rolloutThroughGates(world, "v2", V2_MANIFEST("surge")),
      world,
    );
    state = await flow.canaryStep(state, world);
    await flow.canaryStep(state, world);
    const outcome = await rollback({ by: "command", command: "Rollback Requested", model: MODEL }, world);
    expect(outcome.reason).not.toContain("restored");
    expect(world.events.ofType("Model Rolled Back")[0]?.detail.data).not.toHaveProperty("restoredReplicas");
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 4 });
  });
});

describe("Promote requested early: the candidate at full size first", () => {
  const EARLY_MANIFEST = `
serving:
  autoscaling: {minReplicas: 1, maxReplicas: 8, metric: inFlight, target: 8}
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [25, 50, 100]
  bakeSeconds: 60
  watchSeconds: 300
`;
  let world: CanaryWorld;
  let state: ExecutionState;
  /** Every change, in order: scales, and `route → v2 (n ready)` when the candidate takes all traffic. */
  let calls: string[];
  /** Looks at v2's replicas after its scale-up that still find one of them starting. */
  const starting = { looks: 0 };

  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world, 4);
    state = await flow.registerGateway(await rolloutThroughGates(world, "v2", EARLY_MANIFEST), world);
    state = await flow.canaryStep(state, world);
    const v2 = state.candidate?.handle as CandidateHandle;
    // The 25% step runs ceil(4 × 25 / 100) = 1 replica of v2.
    expect(await world.serving.replicas(v2)).toMatchObject({ desired: 1 });
    starting.looks = 2;
    calls = recordScalesAndRoute(world, v2, 4, starting);
  });

  it("scales the candidate to the stable's recorded size and waits until it is ready before it takes 100%, saying how long that took", async () => {
    await flow.promote(state, world);
    const reason = (await world.store.get(MODEL))?.history.findLast((t) => t.stage === "Promote")?.reason;
    expect(calls).toEqual(["v2 → 4", "route → v2 (4 ready)", "v2 → autoscaled"]);
    // Two looks found a replica starting, five seconds apart.
    expect(reason).toContain(
      "v2 was scaled to its full 4 replicas first, ready 10 s after the scale: the promotion was slower by that much.",
    );
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v2: 100, v1: 0 });
  });

  it("takes the traffic after its bounded wait when the replicas never come up, saying how many were ready", async () => {
    starting.looks = Number.POSITIVE_INFINITY;
    await flow.promote(state, world);
    const reason = (await world.store.get(MODEL))?.history.findLast((t) => t.stage === "Promote")?.reason;
    expect(calls.slice(0, 2)).toEqual(["v2 → 4", "route → v2 (3 ready)"]);
    expect(reason).toContain("but only 3 were ready after 240 s, the longest Promote waits");
  });
});
