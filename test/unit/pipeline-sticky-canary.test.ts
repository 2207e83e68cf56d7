import { beforeEach, describe, expect, it } from "vitest";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryVerdict,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";

const STICKY_MANIFEST = `
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [25, 50, 75]
  bakeSeconds: 60
  watchSeconds: 300
  stickiness: {header: x-session-id}
`;
const STICKINESS = { header: "x-session-id" };

describe("A sticky canary (rollout.stickiness)", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    // v1, a first release straight to 100%: its watch passes and it is finalized.
    let first = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    first = await flow.promote(first, world);
    world.clock.advance(300);
    await flow.finalize(await flow.checkWatch(first, world), world);
    world.gateway.changes.length = 0;
  });

  it("gives the gateway its key at RegisterGateway and at every step, and the promotion ends it", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2", STICKY_MANIFEST), world);
    for (;;) {
      state = await flow.canaryStep(state, world);
      world.clock.advance(60);
      state = await flow.checkCanary(state, world);
      if (canaryVerdict(state) !== "CanaryStep") break;
    }
    await flow.promote(state, world);
    expect(world.gateway.changes.map(({ weights, stickiness }) => ({ weights, stickiness }))).toEqual([
      { weights: { v1: 100, v2: 0 }, stickiness: STICKINESS },
      { weights: { v1: 75, v2: 25 }, stickiness: STICKINESS },
      { weights: { v1: 50, v2: 50 }, stickiness: STICKINESS },
      { weights: { v1: 25, v2: 75 }, stickiness: STICKINESS },
      { weights: { v1: 0, v2: 100 }, stickiness: STICKINESS },
      { weights: { v2: 100, v1: 0 }, stickiness: undefined },
    ]);
  });

  it("records the key with the canary's position and says it in the step's event", async () => {
    const state = await flow.registerGateway(await rolloutThroughGates(world, "v2", STICKY_MANIFEST), world);
    await flow.canaryStep(state, world);
    expect((await world.store.get(MODEL))?.canary).toEqual({
      step: 1,
      steps: 4,
      weight: 25,
      stickiness: STICKINESS,
    });
    const [changed] = world.events.ofType("Canary Weight Changed");
    expect(changed?.detail.data).toMatchObject({ weight: 25, stickiness: STICKINESS });
    expect(changed?.detail.message).toBe(
      "llama v2 takes 25% of traffic, v1 75% (step 1 of 4); v2 runs 1 replica, v1 1; baking 60 s. Requests with header x-session-id stay on the version their key is on.",
    );
  });

  it("sends everyone back to stable on a rollback: the route keeps no key", async () => {
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2", STICKY_MANIFEST), world);
    state = await flow.canaryStep(state, world);
    await flow.rollback({ ...state, error: { Error: "CanaryAlarm", Cause: "latency" } }, world);
    expect(await world.gateway.describe(MODEL)).toEqual({
      model: MODEL,
      backends: [expect.objectContaining({ variant: "stable", version: "v1", weight: 100 })],
    });
  });

  it("gives a rollout without stickiness none: every request by weight", async () => {
    const state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    await flow.canaryStep(state, world);
    expect(world.gateway.changes.every((change) => change.stickiness === undefined)).toBe(true);
    expect((await world.store.get(MODEL))?.canary).not.toHaveProperty("stickiness");
  });
});
