import { beforeEach, describe, expect, it } from "vitest";
import { stableReplicasNeededAt } from "../../lib/core/capacity/capacity-plan";
import type { CapacityMode } from "../../lib/core/manifest/rollout-settings";
import { CandidateTimeout, RolledBack } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { promote } from "../../lib/pipeline/promote";
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

const V2_MANIFEST = (capacity: CapacityMode, serving = "") => `
${serving}
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

/** What `recordScalesAndRoute` saw, and the most replicas the model's versions held at once. */
interface Recorded {
  /** Every change, in order: `v1 → 4`, `v1 75 · v2 25` (the route's weights after a change), `route → v1 (4 ready)`. */
  readonly calls: string[];
  /** The most replicas of the model's versions (desired: the cluster must fit them) at any moment. */
  peak: number;
}

/**
 * Records every scale, weight change and route promotion (with `watched`'s ready replicas then); after each
 * scale-up of `watched`, its next `starting.looks` looks (read at the scale) find one replica still starting.
 */
function recordScalesAndRoute(
  world: CanaryWorld,
  watched: CandidateHandle,
  starting: { looks: number },
): Recorded {
  const recorded: Recorded = { calls: [], peak: 0 };
  const { calls } = recorded;
  const replicas = world.serving.replicas.bind(world.serving);
  const desired = new Map<string, number>();
  const total = () => [...desired.values()].reduce((sum, n) => sum + n, 0);
  const track = async (handle: CandidateHandle) => {
    if (!desired.has(handle.id)) desired.set(handle.id, (await replicas(handle)).desired);
  };
  /** Looks left that find one of `watched`'s replicas starting. */
  let pending = 0;
  const readyNow = async (handle: CandidateHandle) =>
    (await replicas(handle)).ready - (handle.id === watched.id && pending > 0 ? 1 : 0);
  const scale = world.serving.scale.bind(world.serving);
  world.serving.scale = async (handle, count) => {
    calls.push(`${handle.version} → ${count}`);
    await track(handle);
    const before = (await replicas(handle)).desired;
    await scale(handle, count);
    const after = (await replicas(handle)).desired;
    desired.set(handle.id, after);
    recorded.peak = Math.max(recorded.peak, total());
    if (handle.id === watched.id && after > before) pending = starting.looks;
  };
  const remove = world.serving.remove.bind(world.serving);
  world.serving.remove = async (handle) => {
    desired.set(handle.id, 0);
    return remove(handle);
  };
  world.serving.replicas = async (handle) => {
    await track(handle);
    const count = await replicas(handle);
    if (handle.id !== watched.id || pending === 0) return count;
    pending -= 1;
    return { desired: count.desired, ready: count.desired - 1 };
  };
  const weights = () =>
    Object.entries(world.gateway.weightsOf(MODEL))
      .filter(([, weight]) => weight > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([version, weight]) => `${version} ${weight}`)
      .join(" · ");
  const setWeights = world.gateway.setWeights.bind(world.gateway);
  world.gateway.setWeights = async (model, split, stickiness) => {
    await setWeights(model, split, stickiness);
    calls.push(weights());
  };
  const promote = world.gateway.promote.bind(world.gateway);
  world.gateway.promote = async (model, version) => {
    calls.push(`route → ${version} (${await readyNow(watched)} ready)`);
    return promote(model, version);
  };
  return recorded;
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

describe("Rollback after a constrained canary: the stable restored one replica at a time", () => {
  let world: CanaryWorld;
  let v1: CandidateHandle;
  let state: ExecutionState;
  let recorded: Recorded;
  /** Looks at v1's replicas after each scale-up that still find one of them starting. */
  const starting = { looks: 0 };
  const FLEET_PLUS_ONE = 5;

  beforeEach(async () => {
    world = canaryWorld();
    v1 = await releaseV1(world, 4);
    state = await flow.registerGateway(
      // v2 serves with 4 replicas of its own once promoted: a rollback in the watch shrinks them.
      await rolloutThroughGates(world, "v2", V2_MANIFEST("constrained", "serving: {replicas: 4}")),
      world,
    );
    state = await flow.canaryStep(state, world);
    state = await flow.canaryStep(state, world);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 3 });
    starting.looks = 3;
    recorded = recordScalesAndRoute(world, v1, starting);
  });

  const rollBackNow = () =>
    rollback({ by: "command", command: "Rollback Requested", model: MODEL, requestedBy: "a tester" }, world);

  it("moves the weight back to what the stable carries, shrinks the candidate, then adds a stable replica and waits for it", async () => {
    const outcome = await rollBackNow();
    expect(recorded.calls).toEqual([
      "v1 75 · v2 25",
      "v2 → 1",
      "v1 → 4",
      "v1 100",
      "route → v1 (4 ready)",
      "v1 → autoscaled",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(FLEET_PLUS_ONE);
    // Three looks found the new replica starting, five seconds apart.
    expect(outcome.reason).toContain(
      "v1 serves 100% again — its 4 replicas restored first, one at a time, each taking back its share of the traffic once ready (rollout.capacity: constrained): the restore took 15 s, the rollback was slower by that much.",
    );
    expect(world.events.ofType("Model Rolled Back")[0]?.detail.data).toMatchObject({
      restoredReplicas: { replicas: 4, ready: 4, seconds: 15 },
    });
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect((await world.store.get(MODEL))?.capacity).toBeUndefined();
  });

  it("restores the previous stable from its one warm replica during the watch, each replica taking back a quarter", async () => {
    state = await flow.canaryStep(state, world);
    state = await flow.promote(state, world);
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 1 });
    recorded.calls.length = 0;
    const outcome = await rollBackNow();
    expect(recorded.calls).toEqual([
      "v1 25 · v2 75",
      "v2 → 3",
      "v1 → 2",
      "v1 50 · v2 50",
      "v2 → 2",
      "v1 → 3",
      "v1 75 · v2 25",
      "v2 → 1",
      "v1 → 4",
      "v1 100",
      "route → v1 (4 ready)",
      "v1 → autoscaled",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(FLEET_PLUS_ONE);
    expect(outcome.reason).toContain(
      "(the previous stable, kept warm) serves 100% again — its 4 replicas restored first, one at a time",
    );
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
  });

  it("returns the rest of the traffic after its bounded wait, saying how far it got, and restores the rest once the candidate is gone", async () => {
    state = await flow.canaryStep(state, world);
    state = await flow.promote(state, world);
    recorded.calls.length = 0;
    starting.looks = Number.POSITIVE_INFINITY;
    const outcome = await rollBackNow();
    expect(recorded.calls).toEqual([
      "v1 25 · v2 75",
      "v2 → 3",
      "v1 → 2",
      "route → v1 (1 ready)",
      "v1 → 4",
      "v1 → autoscaled",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(FLEET_PLUS_ONE);
    expect(outcome.reason).toContain(
      "but only 1 of 4 were ready after 600 s, the longest a rollback waits: the rest of the traffic returned to v1 regardless",
    );
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 4 });
  });

  it("picks up where a rollback that stopped half-way left off, and a third call finds it done", async () => {
    state = await flow.canaryStep(state, world);
    state = await flow.promote(state, world);
    recorded.calls.length = 0;
    const scale = world.serving.scale;
    let failOnce = true;
    world.serving.scale = async (handle, count) => {
      if (failOnce && handle.version === "v1" && count === 3) {
        failOnce = false;
        throw new Error("the API server went away");
      }
      return scale(handle, count);
    };
    await expect(rollBackNow()).rejects.toThrow(/the API server went away/);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 50, v2: 50 });
    const outcome = await rollBackNow();
    expect(outcome.result).toBe("rolled back");
    expect(recorded.calls).toEqual([
      "v1 25 · v2 75",
      "v2 → 3",
      "v1 → 2",
      "v1 50 · v2 50",
      "v2 → 2",
      // The first call stopped as it scaled v1 to 3; the second finds the weight and v2 where it left them.
      "v1 → 3",
      "v1 75 · v2 25",
      "v2 → 1",
      "v1 → 4",
      "v1 100",
      "route → v1 (4 ready)",
      "v1 → autoscaled",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(FLEET_PLUS_ONE);
    const calls = recorded.calls.length;
    // A command after the end finds no rollout running: nothing is scaled or moved again.
    expect((await rollBackNow()).result).toBe("nothing to roll back");
    expect(recorded.calls).toHaveLength(calls);
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
    calls = recordScalesAndRoute(world, v2, starting).calls;
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

describe("Promote requested early in constrained: the canary's plan carried on to 100%", () => {
  const EARLY_CONSTRAINED = `
serving: {replicas: 4}
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [25, 50, 100]
  bakeSeconds: 60
  watchSeconds: 300
  capacity: constrained
`;
  let world: CanaryWorld;
  let v1: CandidateHandle;
  let state: ExecutionState;
  let recorded: Recorded;
  /** Looks at v2's replicas after each scale-up that still find one of them starting. */
  const starting = { looks: 2 };

  beforeEach(async () => {
    world = canaryWorld();
    v1 = await releaseV1(world, 4);
    state = await flow.registerGateway(await rolloutThroughGates(world, "v2", EARLY_CONSTRAINED), world);
    state = await flow.canaryStep(state, world);
    const v2 = state.candidate?.handle as CandidateHandle;
    expect(await world.serving.replicas(v2)).toMatchObject({ desired: 1 });
    starting.looks = 2;
    recorded = recordScalesAndRoute(world, v2, starting);
  });

  const promoteReason = async () =>
    (await world.store.get(MODEL))?.history.findLast((t) => t.stage === "Promote")?.reason;

  it("grows the candidate one replica at a time as the stable gives up its own, never over 4 + 1", async () => {
    await flow.promote(state, world);
    expect(recorded.calls).toEqual([
      "v1 → 3",
      "v2 → 2",
      "v1 50 · v2 50",
      "v1 → 2",
      "v2 → 3",
      "v1 25 · v2 75",
      "v1 → 1",
      "v2 → 4",
      "route → v2 (4 ready)",
      "v2 → 4",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(5);
    expect(await promoteReason()).toMatch(
      /v2 was brought to its full 4 replicas one at a time as the stable gave up its own \(rollout.capacity: constrained\) first, ready 15 s after the first scale: the promotion was slower by that much\./,
    );
    // One v1 replica stays warm through the watch; each weight on the way was recorded before the route moved.
    expect(await world.serving.replicas(v1)).toMatchObject({ desired: 1 });
    const weights = (await world.store.get(MODEL))?.history.flatMap((t) =>
      t.stage === "CanaryScaling" && t.weights ? [t.weights.candidate] : [],
    );
    expect(weights).toEqual([50, 75]);
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v2: 100, v1: 0 });
  });

  it("carries on where a promotion that stopped half-way left off", async () => {
    const scale = world.serving.scale;
    let failOnce = true;
    world.serving.scale = async (handle, count) => {
      if (failOnce && handle.version === "v1" && count === 2) {
        failOnce = false;
        throw new Error("the API server went away");
      }
      return scale(handle, count);
    };
    await expect(promote(state, world)).rejects.toThrow(/the API server went away/);
    await flow.promote(state, world);
    expect(recorded.calls).toEqual([
      "v1 → 3",
      "v2 → 2",
      "v1 50 · v2 50",
      // The first call stopped as it scaled v1 to 2; the second carries on from the route and the counts.
      "v1 → 2",
      "v2 → 3",
      "v1 25 · v2 75",
      "v1 → 1",
      "v2 → 4",
      "route → v2 (4 ready)",
      "v2 → 4",
    ]);
    expect(recorded.peak).toBeLessThanOrEqual(5);
  });

  it("takes the traffic after its bounded wait, then lets the stable go before the candidate's rest start", async () => {
    starting.looks = Number.POSITIVE_INFINITY;
    await flow.promote(state, world);
    expect(recorded.calls).toEqual(["v1 → 3", "v2 → 2", "route → v2 (1 ready)", "v1 → 1", "v2 → 4"]);
    expect(recorded.peak).toBeLessThanOrEqual(5);
    expect(await promoteReason()).toContain(
      "but only 1 were ready after 240 s, the longest Promote waits: it took 100% regardless, the rest start behind it.",
    );
  });
});
