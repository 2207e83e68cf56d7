import { beforeEach, describe, expect, it } from "vitest";
import {
  CandidateFailed,
  GatewayFailed,
  Transient,
  type ModelshipError,
  ModelInvalid,
  RolloutInProgress,
} from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import type { CandidateHandle } from "../../lib/ports";
import { cleanup } from "../../lib/pipeline/cleanup";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryGateway } from "../support/memory-gateway";
import { MemoryObjectStore } from "../support/memory-object-store";
import { MemoryRegistry } from "../support/memory-registry";
import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { RecordingServing } from "../support/recording-serving";

const ROLLOUT_ID = "llama-v3-0a1b2c3d";
const handle: CandidateHandle = {
  id: "llama-v3-candidate",
  model: "llama",
  version: "v3",
  rolloutId: ROLLOUT_ID,
  servedName: "llama",
  deployedAt: "2025-06-01T12:01:00.000Z",
};

/** The error as a Catch hands it on: a Lambda error whose Cause is the runtime's error JSON. */
function caughtLambdaError(error: ModelshipError): ExecutionState["error"] {
  return {
    Error: error.name,
    Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: [] }),
  };
}

function failedState(error: ModelshipError, candidate?: CandidateHandle): ExecutionState {
  return {
    rollout: {
      id: ROLLOUT_ID,
      model: "llama",
      version: "v3",
      source: { bucket: "b", key: "models/llama/v3/modelship.yaml", prefix: "models/llama/v3/" },
    },
    ...(candidate ? { candidate: { handle: candidate, readinessChecks: 3 } } : {}),
    error: caughtLambdaError(error),
  };
}

const modelInvalid = new ModelInvalid("The weights of llama v3 are not a servable model.", {
  hint: "Fix the findings and upload again.",
});

describe("Cleanup", () => {
  let store: MemoryRolloutStore;
  let events: MemoryEvents;
  let objects: MemoryObjectStore;
  let clock: FixedClock;

  beforeEach(async () => {
    store = new MemoryRolloutStore();
    events = new MemoryEvents();
    objects = new MemoryObjectStore();
    clock = new FixedClock("2025-06-01T12:05:00.000Z");
    await store.acquireLock("llama", {
      rolloutId: ROLLOUT_ID,
      version: "v3",
      since: "2025-06-01T12:00:00.000Z",
    });
    await store.record(
      "llama",
      {
        at: "2025-06-01T12:00:00.000Z",
        rolloutId: ROLLOUT_ID,
        version: "v3",
        stage: "Prepare",
        status: "running",
        reason: "started",
      },
      { candidateVersion: "v3", status: "running" },
    );
  });

  function deps(
    serving = new RecordingServing(),
    gateway = new MemoryGateway(),
    registry = new MemoryRegistry(),
  ) {
    return { store, events, clock, serving, gateway, registry, objects };
  }

  describe("a candidate that reached RegisterGateway", () => {
    const gatewayFailed = new GatewayFailed("Could not register llama v3 in the model registry: denied.");
    const stableHandle: CandidateHandle = {
      ...handle,
      id: "llama-v2",
      version: "v2",
      rolloutId: "llama-v2-1",
    };

    async function routeWithStableAndCandidate(): Promise<MemoryGateway> {
      const gateway = new MemoryGateway();
      await gateway.register("llama", stableHandle);
      await gateway.promote("llama", "v2");
      await gateway.register("llama", handle);
      return gateway;
    }

    it("is taken off the model's route after GatewayFailed, and the stable keeps its traffic", async () => {
      const gateway = await routeWithStableAndCandidate();
      const outcome = await cleanup(failedState(gatewayFailed, handle), deps(undefined, gateway));
      expect(gateway.weightsOf("llama")).toEqual({ v2: 100 });
      expect(outcome.cleaned).toContain("Took llama v3 off the model's route.");
    });

    it("is taken off the route when the state already has $.gateway, whatever failed", async () => {
      const gateway = await routeWithStableAndCandidate();
      const state = { ...failedState(modelInvalid, handle), gateway: { route: "llama" } };
      await cleanup(state, deps(undefined, gateway));
      expect(gateway.weightsOf("llama")).toEqual({ v2: 100 });
    });

    it("finds nothing to undo on a route that never got it (a first release's registration failed)", async () => {
      const gateway = new MemoryGateway();
      const outcome = await cleanup(failedState(gatewayFailed, handle), deps(undefined, gateway));
      expect(await gateway.describe("llama")).toBeUndefined();
      expect(outcome.leftBehind).toEqual([]);
    });

    it("is taken off the route after a Transient that ran out of retries once every gate had passed", async () => {
      const gateway = await routeWithStableAndCandidate();
      const state: ExecutionState = {
        ...failedState(new Transient("The API server answered 503."), handle),
        plan: { gates: { smoke: true, stress: false, eval: false } } as ExecutionState["plan"] & object,
        smoke: { verdicts: [] },
      };
      await cleanup(state, deps(undefined, gateway));
      expect(gateway.weightsOf("llama")).toEqual({ v2: 100 });
    });

    it("rejects the version's registry entry, and leaves one it never made alone", async () => {
      const registry = new MemoryRegistry();
      await registry.register({
        model: "llama",
        version: "v3",
        rolloutId: handle.rolloutId,
        artifactUri: "s3://bucket/models/llama/v3/",
        reportUris: {},
        metadata: {},
      });
      const gateway = await routeWithStableAndCandidate();
      const outcome = await cleanup(failedState(gatewayFailed, handle), deps(undefined, gateway, registry));
      expect(await registry.getStatus("llama", "v3")).toBe("Rejected");
      expect(registry.entry("llama", "v3")?.statusHistory.at(-1)?.reason).toMatch(
        /^GatewayFailed: Could not/,
      );
      expect(outcome.cleaned).toContain("Rejected llama v3 in the model registry.");

      const unregistered = new MemoryRegistry();
      const again = await cleanup(failedState(gatewayFailed, handle), deps(undefined, gateway, unregistered));
      expect(await unregistered.getStatus("llama", "v3")).toBeUndefined();
      expect(again.leftBehind).toEqual([]);
    });

    it("leaves the route alone for a failure before RegisterGateway", async () => {
      const gateway = await routeWithStableAndCandidate();
      await cleanup(failedState(modelInvalid, handle), deps(undefined, gateway));
      expect(gateway.weightsOf("llama")).toEqual({ v2: 100, v3: 0 });
    });

    it("reports a route it could not change as left behind, and still releases the lock", async () => {
      const gateway = Object.assign(new MemoryGateway(), {
        removeBackend: () => Promise.reject(new Error("httproutes is forbidden\nmore")),
      });
      const outcome = await cleanup(failedState(gatewayFailed, handle), deps(undefined, gateway));
      expect(outcome.leftBehind).toEqual([
        "llama v3 could not be taken off the model's route (httproutes is forbidden); remove its backend by hand.",
      ]);
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("a candidate deployed without a handle in the state", () => {
    const candidateFailed = new CandidateFailed("The Deployment was created, the Service was not.");
    const validated = (state: ExecutionState): ExecutionState => ({
      ...state,
      validation: {} as NonNullable<ExecutionState["validation"]>,
    });

    it("is found by its rollout and removed, once Validate has passed (a deploy that failed half-way)", async () => {
      const serving = new RecordingServing({
        leftoversByRollout: {
          [ROLLOUT_ID]: ["Deployment models/llama-v3"],
          "other-rollout": ["Deployment x"],
        },
      });
      const outcome = await cleanup(validated(failedState(candidateFailed)), deps(serving));
      expect(serving.removed).toEqual(["Deployment models/llama-v3"]);
      expect(outcome.cleaned).toContain("Deleted Deployment models/llama-v3.");
      expect(outcome.leftBehind).toEqual([]);
    });

    it("is not looked for when the rollout failed before DeployCandidate could run", async () => {
      const serving = new RecordingServing({
        leftoversByRollout: { [ROLLOUT_ID]: ["Deployment models/llama-v3"] },
      });
      await cleanup(failedState(modelInvalid), deps(serving));
      expect(serving.removed).toEqual([]);
    });

    it("is reported as possibly left behind when the sweep fails, and the lock is still released", async () => {
      const serving = new RecordingServing({ failRemoveWith: new Error("connect ETIMEDOUT 10.0.0.1:443") });
      const outcome = await cleanup(validated(failedState(candidateFailed)), deps(serving));
      expect(outcome.leftBehind).toEqual([
        `Could not look for other workloads of rollout ${ROLLOUT_ID} (connect ETIMEDOUT 10.0.0.1:443); check for any left by hand.`,
      ]);
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("after a failure of its own rollout", () => {
    it("records the failure with its reason, then releases the lock", async () => {
      await cleanup(failedState(modelInvalid), deps());
      const record = await store.get("llama");
      expect(record?.lock).toBeUndefined();
      expect(record).toMatchObject({ status: "failed" });
      expect(record?.candidateVersion).toBeUndefined();
      expect(record?.history.at(-1)).toEqual({
        at: "2025-06-01T12:05:00.000Z",
        rolloutId: ROLLOUT_ID,
        version: "v3",
        stage: "Cleanup",
        status: "failed",
        reason: "ModelInvalid: The weights of llama v3 are not a servable model.",
      });
    });

    it("emits Stage Failed with the error, reason and hint", async () => {
      await cleanup(failedState(modelInvalid), deps());
      expect(events.emitted).toEqual([
        {
          detailType: "Stage Failed",
          time: "2025-06-01T12:05:00.000Z",
          detail: {
            model: "llama",
            version: "v3",
            rolloutId: ROLLOUT_ID,
            executionArn: "",
            stage: "Cleanup",
            message: "Rollout of llama v3 failed: The weights of llama v3 are not a servable model.",
            error: "ModelInvalid",
            reason: "The weights of llama v3 are not a servable model.",
            hint: "Fix the findings and upload again.",
            data: { cleaned: [], leftBehind: [] },
          },
        },
      ]);
    });

    it("returns the failure and what it cleaned, for $.outcome", async () => {
      const outcome = await cleanup(failedState(modelInvalid, handle), deps());
      expect(outcome).toEqual({
        error: "ModelInvalid",
        reason: "The weights of llama v3 are not a servable model.",
        hint: "Fix the findings and upload again.",
        cleaned: [
          "Removed the candidate workload llama-v3-candidate.",
          "Recorded the failure in llama's history.",
          "Released the lock on llama.",
        ],
        leftBehind: [],
        reportKey: `reports/llama/v3/${ROLLOUT_ID}/report.html`,
      });
    });

    it("removes the candidate workload", async () => {
      const serving = new RecordingServing();
      await cleanup(failedState(modelInvalid, handle), deps(serving));
      expect(serving.removed).toEqual(["llama-v3-candidate"]);
    });

    it("is idempotent: run again, it records and emits nothing twice", async () => {
      const first = await cleanup(failedState(modelInvalid, handle), deps());
      const again = await cleanup(failedState(modelInvalid, handle), deps());
      expect(again.error).toBe(first.error);
      expect((await store.get("llama"))?.history.filter((t) => t.stage === "Cleanup")).toHaveLength(1);
      expect(events.emitted).toHaveLength(1);
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("when the workload cannot be removed", () => {
    it("reports any other failure to remove, and still releases the lock", async () => {
      const serving = new RecordingServing({
        failRemoveWith: new Error("connect ECONNREFUSED 10.0.0.1:443"),
      });
      const outcome = await cleanup(failedState(modelInvalid, handle), deps(serving));
      expect(outcome.leftBehind).toEqual([
        "The candidate workload llama-v3-candidate could not be removed (Error: connect ECONNREFUSED 10.0.0.1:443); delete it by hand.",
      ]);
      expect(events.emitted[0]?.detail.data).toMatchObject({ leftBehind: outcome.leftBehind });
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("after RolloutInProgress", () => {
    const otherHolder = { rolloutId: "llama-v2-77777777", version: "v2", since: "2025-06-01T11:00:00.000Z" };
    const conflict = new RolloutInProgress("Model llama is already being rolled out.", otherHolder, {
      hint: "Wait for it.",
    });

    beforeEach(async () => {
      await store.releaseLock("llama", ROLLOUT_ID);
      await store.acquireLock("llama", otherHolder);
    });

    it("leaves the other rollout's lock and record alone", async () => {
      const before = await store.get("llama");
      await cleanup(failedState(conflict), deps());
      expect(await store.get("llama")).toEqual(before);
    });

    it("still emits Stage Failed with the conflict", async () => {
      const outcome = await cleanup(failedState(conflict), deps());
      expect(events.emitted.map((e) => [e.detailType, e.detail.error, e.detail.hint])).toEqual([
        ["Stage Failed", "RolloutInProgress", "Wait for it."],
      ]);
      expect(outcome.cleaned).toEqual([]);
    });
  });

  it("adds a failure before the lock to the history without touching the running rollout's state", async () => {
    const otherHolder = { rolloutId: "llama-v2-77777777", version: "v2", since: "2025-06-01T11:00:00.000Z" };
    await store.releaseLock("llama", ROLLOUT_ID);
    await store.acquireLock("llama", otherHolder);
    const before = await store.get("llama");
    await cleanup(failedState(modelInvalid), deps());
    const after = await store.get("llama");
    expect(after?.lock).toEqual(otherHolder);
    expect(after?.status).toBe(before?.status);
    expect(after?.candidateVersion).toBe(before?.candidateVersion);
    expect(after?.history.at(-1)).toMatchObject({
      rolloutId: ROLLOUT_ID,
      status: "failed",
      stage: "Cleanup",
    });
  });

  it("reads a States.* error with a plain-text cause", async () => {
    const state: ExecutionState = {
      ...failedState(modelInvalid),
      error: { Error: "States.Timeout", Cause: "Task timed out." },
    };
    const outcome = await cleanup(state, deps());
    expect(outcome).toMatchObject({ error: "States.Timeout", reason: "Task timed out." });
    expect((await store.get("llama"))?.lock).toBeUndefined();
  });

  it("reports a candidate entry without a usable handle instead of passing it to Serving", async () => {
    const serving = new RecordingServing();
    const state: ExecutionState = { ...failedState(modelInvalid), candidate: { handle: { id: 42 } } };
    const outcome = await cleanup(state, deps(serving));
    expect(serving.removed).toEqual([]);
    expect(outcome.leftBehind).toEqual([
      `The state's candidate entry has no usable handle, so no workload was removed; check for one left over from rollout ${ROLLOUT_ID}.`,
    ]);
    expect((await store.get("llama"))?.lock).toBeUndefined();
  });
});
