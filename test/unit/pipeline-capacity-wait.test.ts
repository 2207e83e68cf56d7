// CheckCapacity, the look before anything is deployed (lib/pipeline/capacity-wait.ts), with in-memory ports and
// a clock the test moves: enough at once; too little inside the bound (waits, with the reason, one transition
// at the start); enough after a wait (says how long); past the bound (InsufficientCapacity, nothing deployed);
// a bound of 0 (fails at the first look); an abort during the wait.

import { beforeEach, describe, expect, it } from "vitest";
import { capacityPollSeconds, decideCapacityWait } from "../../lib/core/capacity/capacity-wait";
import { MAX_CAPACITY_WAIT_SECONDS } from "../../lib/core/manifest/rollout-settings";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { resolveStackConfig } from "../../lib/core/resolution/stack-config";
import { loadManifest } from "../../lib/core/resolution/manifest";
import { planRollout } from "../../lib/core/rollout/plan";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { deployCandidate } from "../../lib/pipeline/deploy-candidate";
import type { CapacityProgress } from "../../lib/pipeline/flow-state";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { MemoryServing } from "../support/memory-serving";
import { ROLLOUT, stateAfterValidate } from "../support/rollout-state";

let clock: FixedClock;
let serving: MemoryServing;
let store: MemoryRolloutStore;

beforeEach(async () => {
  clock = new FixedClock();
  serving = new MemoryServing(clock);
  store = new MemoryRolloutStore();
  await store.acquireLock("llama", {
    rolloutId: ROLLOUT.id,
    version: ROLLOUT.version,
    since: clock.now().toISOString(),
  });
});

const deps = () => ({
  serving,
  events: new MemoryEvents(),
  clock,
  config: DEFAULT_STACK_CONFIG,
  objects: { bucket: "models-bucket" },
  store,
});

/** The state CheckCapacity gets: Validate's (2 GPUs a replica) with Prepare's plan, and the previous look. */
function stateWith(yaml: string, previous?: CapacityProgress): ExecutionState {
  const state = stateAfterValidate(yaml);
  if (!state.manifest) throw new Error("no manifest");
  const plan = planRollout(state.manifest, undefined, DEFAULT_STACK_CONFIG);
  return { ...state, plan, ...(previous && { capacity: previous as unknown as Record<string, unknown> }) };
}

const look = (state: ExecutionState) => deployCandidate({ action: "checkCapacity", state }, deps());

async function capacityTransitions() {
  return ((await store.get("llama"))?.history ?? []).filter((t) => t.stage === "CheckCapacity");
}

describe("CheckCapacity", () => {
  it("lets the rollout deploy at once when the capacity is there, and records nothing", async () => {
    serving.freeGpus = 6;
    const answer = await look(stateWith("serving: {replicas: 3}"));

    expect(answer).toMatchObject({ enough: true, waitedSeconds: 0, neededGpus: 6, freeGpus: 6 });
    expect(answer.waiting).toBeUndefined();
    expect(serving.capacityLooks).toEqual([{ gpus: 6, replicas: 3 }]);
    expect(await capacityTransitions()).toEqual([]);
  });

  it("waits inside the bound with the reason — needed and free, the plan, since and until — recorded once", async () => {
    serving.freeGpus = 5;
    const first = await look(stateWith("serving: {replicas: 3}"));

    expect(first).toMatchObject({
      enough: false,
      since: "2025-06-01T12:00:00.000Z",
      waiting: { until: "2025-06-01T12:15:00.000Z" },
    });
    clock.advance(15);
    const second = await look(stateWith("serving: {replicas: 3}", first));
    expect(second).toMatchObject({ since: first.since, waitedSeconds: 15, waiting: first.waiting });

    const transitions = await capacityTransitions();
    expect(transitions).toHaveLength(1);
    expect(transitions[0]?.reason).toBe(
      "Waiting for capacity before deploying llama v3: 6 needed, 5 free. The plan: 3 replicas of v3. Waiting since 2025-06-01T12:00:00.000Z, until 2025-06-01T12:15:00.000Z (rollout.capacityWaitSeconds: 900); then InsufficientCapacity.",
    );
    expect(serving.deployed).toEqual([]);
  });

  it("deploys once the capacity frees inside the bound, and says how long it waited", async () => {
    serving.freeGpus = 0;
    const first = await look(stateWith("serving: {replicas: 1}"));
    clock.advance(95);
    serving.freeGpus = 2;
    const state = stateWith("serving: {replicas: 1}", first);
    const ready = await look(state);

    expect(ready).toMatchObject({ enough: true, since: first.since, waitedSeconds: 95 });
    expect(ready.waiting).toBeUndefined();
    expect((await capacityTransitions()).map((t) => t.reason)).toEqual([
      expect.stringMatching(/^Waiting for capacity/),
      "llama v3 has the capacity it waited 95 s for: 2 needed, 2 free. Deploying it now.",
    ]);
    await deployCandidate({ ...state, capacity: ready as unknown as Record<string, unknown> }, deps());
    expect(serving.deployed).toHaveLength(1);
    // DeployCandidate deploys on the look: it does not ask the cluster again.
    expect(serving.capacityLooks).toHaveLength(2);
  });

  it("fails InsufficientCapacity past the bound, saying how long it waited and what was missing; nothing deployed", async () => {
    serving.freeGpus = 1;
    const first = await look(stateWith("serving: {replicas: 1}\nrollout: {capacityWaitSeconds: 60}"));
    clock.advance(60);

    await expect(
      look(stateWith("serving: {replicas: 1}\nrollout: {capacityWaitSeconds: 60}", first)),
    ).rejects.toMatchObject({
      name: "InsufficientCapacity",
      reason:
        "2 needed, 1 free. The plan: 1 replica of v3. It waited 60 s, since 2025-06-01T12:00:00.000Z (rollout.capacityWaitSeconds: 60). Nothing was deployed.",
      hint: expect.stringContaining("capacityWaitSeconds"),
    });
    expect(serving.deployed).toEqual([]);
  });

  it("fails at the first look when the bound is 0", async () => {
    serving.freeGpus = 1;
    await expect(look(stateWith("rollout: {capacityWaitSeconds: 0}"))).rejects.toMatchObject({
      name: "InsufficientCapacity",
      reason: expect.stringContaining("It did not wait (rollout.capacityWaitSeconds: 0)."),
    });
    expect(await capacityTransitions()).toEqual([]);
  });

  it("stops with Aborted when the rollout was rolled back by a command during the wait", async () => {
    serving.freeGpus = 0;
    const first = await look(stateWith(""));
    await store.record(
      "llama",
      {
        at: clock.now().toISOString(),
        rolloutId: ROLLOUT.id,
        version: ROLLOUT.version,
        stage: "Rollback",
        status: "rolled_back",
        reason: "Abort Requested by alice: wrong weights.",
      },
      {},
      { releaseLock: true },
    );

    await expect(look(stateWith("", first))).rejects.toMatchObject({
      name: "Aborted",
      reason: expect.stringContaining("Abort Requested by alice"),
    });
    expect(serving.capacityLooks).toHaveLength(1);
  });

  it("ends the wait past the bound after a deploy refused for capacity, even when a look finds enough", () => {
    const since = "2025-06-01T12:00:00.000Z";
    const now = new Date("2025-06-01T12:15:00.000Z");
    expect(decideCapacityWait({ enough: true, since, now, waitSeconds: 900, refused: true })).toMatchObject({
      kind: "exhausted",
      waitedSeconds: 900,
    });
    expect(decideCapacityWait({ enough: true, since, now, waitSeconds: 901, refused: true })).toMatchObject({
      kind: "deploy",
    });
  });
});

describe("rollout.capacityWaitSeconds", () => {
  it("defaults to the stack's 900 s, and the plan looks every readiness poll within 500 looks", () => {
    const state = stateWith("");
    expect(state.manifest?.rollout.capacityWaitSeconds).toBe(900);
    expect(state.plan).toMatchObject({ capacityWaitSeconds: 900, capacityPollSeconds: 15 });
    expect(capacityPollSeconds(MAX_CAPACITY_WAIT_SECONDS, 15)).toBe(173);
  });

  it("refuses a bound that is not whole seconds from 0 to a day, naming the field", () => {
    for (const value of ["-1", "1.5", String(MAX_CAPACITY_WAIT_SECONDS + 1), "soon"]) {
      const { manifest, findings } = loadManifest(
        `rollout: {capacityWaitSeconds: ${value}}`,
        { name: "llama", version: "v3", fileName: "modelship.yaml" },
        DEFAULT_STACK_CONFIG,
      );
      expect(manifest, value).toBeUndefined();
      expect(
        findings.map((f) => f.path),
        value,
      ).toContain("rollout.capacityWaitSeconds");
    }
  });

  it("takes the stack's default, and refuses a bad one and a local.maxServers below 1", () => {
    const { config } = resolveStackConfig({ defaults: { rollout: { capacityWaitSeconds: 120 } } });
    expect(config?.defaults.rollout.capacityWaitSeconds).toBe(120);
    const refused = resolveStackConfig({
      defaults: { rollout: { capacityWaitSeconds: -5 } },
      local: { maxServers: 0 },
    });
    expect(refused.config).toBeUndefined();
    expect(refused.findings.map((f) => f.path).sort()).toEqual([
      "defaults.rollout.capacityWaitSeconds",
      "local.maxServers",
    ]);
  });
});
