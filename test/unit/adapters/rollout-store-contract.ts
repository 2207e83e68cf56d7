// The RolloutStore contract (lib/ports.ts), as one suite every adapter runs: the DynamoDB store and the
// local JSON-file store must be interchangeable under the stages that use them.

import { beforeEach, describe, expect, it } from "vitest";
import type { ModelshipEvent } from "../../../lib/core/events/events";
import { type LockHolder, RECORD_FIELDS, type Transition } from "../../../lib/core/rollout/rollout";
import type { RecordChanges, RolloutStore } from "../../../lib/ports";

const holderA: LockHolder = {
  rolloutId: "llama-v2-0a1b2c3d",
  version: "v2",
  executionId: "exec-a",
  since: "2025-01-01T10:00:00.000Z",
};
const holderB: LockHolder = {
  rolloutId: "llama-v3-4e5f6a7b",
  version: "v3",
  since: "2025-01-01T10:05:00.000Z",
};

function transition(overrides: Partial<Transition> = {}): Transition {
  return {
    at: "2025-01-01T10:00:00.000Z",
    rolloutId: holderA.rolloutId,
    version: "v2",
    stage: "Prepare",
    status: "running",
    reason: "Rollout of llama v2 started.",
    ...overrides,
  };
}

function event(
  detailType: ModelshipEvent["detailType"],
  stage: string,
  rolloutId = holderA.rolloutId,
): ModelshipEvent {
  return {
    detailType,
    time: "2025-01-01T10:00:00.000Z",
    detail: { model: "llama", version: "v2", rolloutId, executionArn: "exec-a", stage, message: `${stage}.` },
  };
}

/** Seconds after 10:00 as an ISO timestamp, for transitions in a known order. */
function at(seconds: number): string {
  return new Date(Date.UTC(2025, 0, 1, 10, 0, seconds)).toISOString();
}

export function describeRolloutStoreContract(name: string, makeStore: () => Promise<RolloutStore>): void {
  describe(`${name} (RolloutStore contract)`, () => {
    let store: RolloutStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    describe("the per-model lock", () => {
      it("gives a free model's lock to the first rollout and shows the holder on the record", async () => {
        expect(await store.acquireLock("llama", holderA)).toEqual({ acquired: true });
        expect((await store.get("llama"))?.lock).toEqual(holderA);
      });

      it("refuses a second rollout and names the rollout that holds the lock", async () => {
        await store.acquireLock("llama", holderA);
        expect(await store.acquireLock("llama", holderB)).toEqual({ acquired: false, holder: holderA });
      });

      it("lets the holding rollout take it again, keeping the original holder", async () => {
        await store.acquireLock("llama", holderA);
        const retried = { ...holderA, since: "2025-01-01T11:00:00.000Z" };
        expect(await store.acquireLock("llama", retried)).toEqual({ acquired: true });
        expect((await store.get("llama"))?.lock).toEqual(holderA);
      });

      it("keeps the locks of different models apart", async () => {
        await store.acquireLock("llama", holderA);
        expect(await store.acquireLock("mistral", holderB)).toEqual({ acquired: true });
      });

      it("ignores a release by a rollout that does not hold the lock", async () => {
        await store.acquireLock("llama", holderA);
        await store.releaseLock("llama", holderB.rolloutId);
        expect((await store.get("llama"))?.lock).toEqual(holderA);
      });

      it("frees the lock when the holder releases it, for the next rollout to take", async () => {
        await store.acquireLock("llama", holderA);
        await store.releaseLock("llama", holderA.rolloutId);
        expect((await store.get("llama"))?.lock).toBeUndefined();
        expect(await store.acquireLock("llama", holderB)).toEqual({ acquired: true });
      });

      it("treats releasing twice, or releasing a model never seen, as a no-op", async () => {
        await store.acquireLock("llama", holderA);
        await store.releaseLock("llama", holderA.rolloutId);
        await store.releaseLock("llama", holderA.rolloutId);
        await store.releaseLock("never-seen", holderA.rolloutId);
        expect(await store.get("never-seen")).toBeUndefined();
      });
    });

    describe("records and history", () => {
      it("has no record for a model it has never seen", async () => {
        expect(await store.get("unknown")).toBeUndefined();
      });

      it("applies a transition's changes and appends it to the history", async () => {
        const promoted = transition({
          at: at(30),
          stage: "Promote",
          status: "promoted",
          reason: "v2 serves 100%.",
          weights: { stable: 0, candidate: 100 },
        });
        await store.record("llama", promoted, {
          stableVersion: "v2",
          weights: { stable: 100, candidate: 0 },
          status: "promoted",
        });
        expect(await store.get("llama")).toEqual({
          model: "llama",
          stableVersion: "v2",
          weights: { stable: 100, candidate: 0 },
          status: "promoted",
          updatedAt: at(30),
          history: [promoted],
        });
      });

      it("clears a field set to null and leaves fields it is not given as they are", async () => {
        await store.record("llama", transition({ at: at(1) }), {
          stableVersion: "v1",
          candidateVersion: "v2",
          weights: { stable: 95, candidate: 5 },
          status: "running",
        });
        await store.record("llama", transition({ at: at(2), stage: "Rollback", status: "rolled_back" }), {
          candidateVersion: null,
          weights: null,
          status: "rolled_back",
        });
        const record = await store.get("llama");
        expect(record).toMatchObject({ stableVersion: "v1", status: "rolled_back", updatedAt: at(2) });
        expect(record?.candidateVersion).toBeUndefined();
        expect(record?.weights).toBeUndefined();
      });

      it("keeps the workloads, canary position, alarm names and a pending promotion, and clears them with null", async () => {
        const handle = {
          id: "models/llama-v2",
          model: "llama",
          version: "v2",
          rolloutId: holderA.rolloutId,
          servedName: "llama",
          deployedAt: at(0),
          details: { namespace: "models", deployment: "llama-v2", port: 8000 },
        };
        const changes = {
          candidate: { version: "v2", rolloutId: holderA.rolloutId, handle },
          stable: { version: "v1", rolloutId: "llama-v1-00000000", handle: { ...handle, version: "v1" } },
          canary: { step: 2, steps: 4, weight: 25 },
          alarmNames: ["modelship-llama-v2-latency", "modelship-llama-v2-errors"],
          promoteRequested: true,
        };
        await store.record("llama", transition({ at: at(1) }), changes);
        expect(await store.get("llama")).toMatchObject(changes);

        await store.record("llama", transition({ at: at(2), stage: "Rollback", status: "rolled_back" }), {
          candidate: null,
          canary: null,
          alarmNames: null,
          promoteRequested: null,
        });
        const record = await store.get("llama");
        expect(record?.stable).toEqual(changes.stable);
        for (const field of ["candidate", "canary", "alarmNames", "promoteRequested"] as const) {
          expect(record?.[field], field).toBeUndefined();
        }
      });

      it("reads back every field a transition may change (RECORD_FIELDS), and clears each with null", async () => {
        const handle = {
          id: "models/llama-v2",
          model: "llama",
          version: "v2",
          rolloutId: holderA.rolloutId,
          servedName: "llama",
          deployedAt: at(0),
        };
        const changes = {
          stableVersion: "v1",
          candidateVersion: "v2",
          weights: { stable: 75, candidate: 25 },
          status: "running",
          stable: { version: "v1", rolloutId: "llama-v1-00000000", handle: { ...handle, version: "v1" } },
          candidate: { version: "v2", rolloutId: holderA.rolloutId, handle },
          previousStable: {
            version: "v0",
            rolloutId: "llama-v0-00000000",
            handle: { ...handle, version: "v0" },
          },
          canary: { step: 1, steps: 3, weight: 25 },
          alarmNames: ["modelship-llama-v2-latency"],
          promoteRequested: true,
          approval: {
            rolloutId: holderA.rolloutId,
            version: "v2",
            token: "task-token",
            at: "beforePromote",
            since: at(1),
            expiresAt: at(2),
          },
          capacity: {
            rolloutId: holderA.rolloutId,
            mode: "constrained",
            stableVersion: "v1",
            stableReplicas: 4,
          },
          shadow: { rolloutId: holderA.rolloutId, version: "v2", percent: 20, seconds: 60, since: at(1) },
        } as const satisfies Required<RecordChanges> & Record<(typeof RECORD_FIELDS)[number], unknown>;
        await store.record("llama", transition({ at: at(1) }), changes);
        expect(await store.get("llama")).toMatchObject(changes);

        await store.record(
          "llama",
          transition({ at: at(2) }),
          Object.fromEntries(RECORD_FIELDS.map((field) => [field, null])) as RecordChanges,
        );
        const record = await store.get("llama");
        for (const field of RECORD_FIELDS) expect(record?.[field], field).toBeUndefined();
      });

      it("keeps the lock when transitions are recorded", async () => {
        await store.acquireLock("llama", holderA);
        await store.record("llama", transition(), { candidateVersion: "v2", status: "running" });
        expect(await store.get("llama")).toMatchObject({ lock: holderA, candidateVersion: "v2" });
      });

      it("keeps a hook's run with its transition, for status and the report", async () => {
        const hook = {
          name: "regression",
          at: "eachStep",
          result: "failed",
          reason: "3 of 40 answers changed",
          durationMs: 1400,
          attempts: 2,
          step: 1,
        } as const;
        await store.record("llama", transition({ stage: "StepHooks", hook }));
        expect((await store.get("llama"))?.history.at(-1)?.hook).toEqual(hook);
      });

      it("returns the newest 50 transitions, oldest first", async () => {
        for (let i = 0; i < 55; i++) {
          await store.record("llama", transition({ at: at(i), reason: `step ${i}` }));
        }
        const history = (await store.get("llama"))?.history ?? [];
        expect(history).toHaveLength(50);
        expect(history[0]?.reason).toBe("step 5");
        expect(history.at(-1)?.reason).toBe("step 54");
      });

      it("keeps transitions recorded in the same instant in the order they were recorded", async () => {
        for (const stage of ["Validate", "DeployCandidate", "SmokeTest"]) {
          await store.record("llama", transition({ stage }));
        }
        expect((await store.get("llama"))?.history.map((t) => t.stage)).toEqual([
          "Validate",
          "DeployCandidate",
          "SmokeTest",
        ]);
      });

      it("lists every model, sorted by name, with its history", async () => {
        await store.record("qwen", transition({ reason: "qwen" }), { stableVersion: "v1" });
        await store.record("llama", transition({ reason: "llama" }), { stableVersion: "v7" });
        await store.acquireLock("mistral", holderB);
        const records = await store.list();
        expect(records.map((r) => r.model)).toEqual(["llama", "mistral", "qwen"]);
        expect(records[0]).toMatchObject({ stableVersion: "v7", history: [{ reason: "llama" }] });
        expect(records[1]).toMatchObject({ lock: holderB, history: [] });
      });
    });

    describe("ownership: writes conditioned on the lock, the end claim, the outbox", () => {
      const rollback = (seconds: number) =>
        transition({ at: at(seconds), stage: "Rollback", status: "rolled_back", reason: "Rolled back." });

      it("writes an owned transition while its rollout holds the lock", async () => {
        await store.acquireLock("llama", holderA);
        await store.record(
          "llama",
          transition({ stage: "CanaryStep" }),
          { weights: { stable: 75, candidate: 25 } },
          { owned: true },
        );
        expect(await store.get("llama")).toMatchObject({
          lock: holderA,
          weights: { stable: 75, candidate: 25 },
        });
      });

      it("refuses an owned write by a rollout that does not hold the lock: RolledBack, nothing changed", async () => {
        await store.acquireLock("llama", holderB);
        const write = store.record(
          "llama",
          transition({ stage: "Promote", status: "promoted" }),
          { stableVersion: "v2" },
          { owned: true, announce: [event("Model Promoted", "Promote")] },
        );
        await expect(write).rejects.toMatchObject({ name: "RolledBack" });
        await expect(write).rejects.toThrow(
          /Promote stopped without changing anything.*rollout llama-v3-4e5f6a7b of v3 holds it now/,
        );
        expect(await store.get("llama")).toEqual({ model: "llama", lock: holderB, history: [] });
        expect(await store.pendingEvents("llama", holderA.rolloutId)).toEqual([]);
      });

      it("refuses an owned write when no rollout holds the lock", async () => {
        const write = store.record("llama", transition({ stage: "CanaryStep" }), {}, { owned: true });
        await expect(write).rejects.toThrow(/no rollout holds it now/);
        expect(await store.get("llama")).toBeUndefined();
      });

      it("claims the rollout's end once: the same stage may claim again, another stage is refused and shown the claim", async () => {
        await store.acquireLock("llama", holderA);
        const claim = { stage: "Rollback", at: at(5) };
        expect(await store.claimEnd("llama", holderA.rolloutId, claim)).toEqual({ claimed: true });
        expect(await store.claimEnd("llama", holderA.rolloutId, { stage: "Rollback", at: at(6) })).toEqual({
          claimed: true,
        });
        expect(await store.claimEnd("llama", holderA.rolloutId, { stage: "Finalize", at: at(7) })).toEqual({
          claimed: false,
          lock: { ...holderA, ending: claim },
        });
        expect((await store.get("llama"))?.lock).toEqual({ ...holderA, ending: claim });
      });

      it("refuses an end claim by a rollout that does not hold the lock", async () => {
        expect(await store.claimEnd("llama", holderA.rolloutId, { stage: "Rollback", at: at(5) })).toEqual({
          claimed: false,
        });
        await store.acquireLock("llama", holderB);
        expect(await store.claimEnd("llama", holderA.rolloutId, { stage: "Rollback", at: at(5) })).toEqual({
          claimed: false,
          lock: holderB,
        });
        expect((await store.get("llama"))?.lock).toEqual(holderB);
      });

      it("once the end is claimed, refuses the rollout's other stages and lets the claiming stage write", async () => {
        await store.acquireLock("llama", holderA);
        await store.claimEnd("llama", holderA.rolloutId, { stage: "Rollback", at: at(5) });
        await expect(
          store.record(
            "llama",
            transition({ stage: "Promote", status: "promoted" }),
            { stableVersion: "v2" },
            { owned: true },
          ),
        ).rejects.toThrow(/Rollback is ending the rollout/);
        await store.record("llama", rollback(6), { status: "rolled_back" }, { owned: true });
        expect(await store.get("llama")).toMatchObject({
          status: "rolled_back",
          lock: { rolloutId: holderA.rolloutId },
        });
      });

      it("releases the lock in the same write as the rollout's last transition, and only for its holder", async () => {
        await store.acquireLock("llama", holderA);
        await expect(
          store.record(
            "llama",
            transition({ rolloutId: holderB.rolloutId, stage: "Rollback" }),
            {},
            { releaseLock: true },
          ),
        ).rejects.toMatchObject({ name: "RolledBack" });
        await store.record("llama", rollback(6), { status: "rolled_back" }, { releaseLock: true });
        const record = await store.get("llama");
        expect(record?.lock).toBeUndefined();
        expect(record).toMatchObject({ status: "rolled_back", history: [{ stage: "Rollback" }] });
        // The second caller of the same end finds the lock gone: it changes nothing.
        await expect(store.record("llama", rollback(7), {}, { releaseLock: true })).rejects.toThrow(
          /no rollout holds it now/,
        );
        expect((await store.get("llama"))?.history).toHaveLength(1);
      });

      it("keeps the events a write announces, per rollout and in the order written, until they are marked announced", async () => {
        await store.acquireLock("llama", holderA);
        await store.record(
          "llama",
          transition({ at: at(1), stage: "CanaryStep" }),
          {},
          {
            owned: true,
            announce: [event("Canary Weight Changed", "CanaryStep")],
          },
        );
        await store.record(
          "llama",
          rollback(2),
          {},
          {
            releaseLock: true,
            announce: [event("Model Rolled Back", "Rollback"), event("Stage Failed", "Rollback")],
          },
        );
        await store.record(
          "llama",
          transition({ at: at(3), rolloutId: holderB.rolloutId, stage: "Cleanup" }),
          {},
          {
            announce: [event("Stage Failed", "Cleanup", holderB.rolloutId)],
          },
        );
        const pending = await store.pendingEvents("llama", holderA.rolloutId);
        expect(pending.map((p) => p.event.detailType)).toEqual([
          "Canary Weight Changed",
          "Model Rolled Back",
          "Stage Failed",
        ]);
        expect(pending[1]?.event).toEqual(event("Model Rolled Back", "Rollback"));
        expect(new Set(pending.map((p) => p.id)).size).toBe(3);

        await store.markAnnounced("llama", [pending[0]?.id ?? "", pending[1]?.id ?? "", "never-written"]);
        expect(
          (await store.pendingEvents("llama", holderA.rolloutId)).map((p) => p.event.detailType),
        ).toEqual(["Stage Failed"]);
        expect(await store.pendingEvents("llama", holderB.rolloutId)).toHaveLength(1);
        expect(await store.pendingEvents("mistral", holderA.rolloutId)).toEqual([]);
      });

      it("keeps the outbox out of the record and the model list", async () => {
        await store.record("llama", transition(), {}, { announce: [event("Stage Failed", "Cleanup")] });
        expect(await store.get("llama")).toEqual({
          model: "llama",
          updatedAt: transition().at,
          history: [transition()],
        });
        expect((await store.list()).map((r) => r.model)).toEqual(["llama"]);
      });
    });

    describe("de-duplication", () => {
      it("says true to the first claim of a key and false to every repeat", async () => {
        expect(await store.claimOnce("s3://bucket/models/llama/v2/modelship.yaml#version-1")).toBe(true);
        expect(await store.claimOnce("s3://bucket/models/llama/v2/modelship.yaml#version-1")).toBe(false);
        expect(await store.claimOnce("s3://bucket/models/llama/v2/modelship.yaml#version-1")).toBe(false);
        expect(await store.claimOnce("s3://bucket/models/llama/v2/modelship.yaml#version-2")).toBe(true);
      });
    });

    describe("version results", () => {
      const stress = { stress: { ttftP95Ms: 412.5, errorRate: 0, suites: ["a", "b"], nested: { ok: true } } };

      it("returns the results saved for a version, exactly", async () => {
        await store.saveVersionResults("llama", "v2", stress);
        expect(await store.getVersionResults("llama", "v2")).toEqual(stress);
      });

      it("replaces a version's results when they are saved again", async () => {
        await store.saveVersionResults("llama", "v2", stress);
        await store.saveVersionResults("llama", "v2", { eval: { score: 0.61 } });
        expect(await store.getVersionResults("llama", "v2")).toEqual({ eval: { score: 0.61 } });
      });

      it("has none for a version or model without saved results", async () => {
        await store.saveVersionResults("llama", "v2", stress);
        expect(await store.getVersionResults("llama", "v3")).toBeUndefined();
        expect(await store.getVersionResults("mistral", "v2")).toBeUndefined();
      });

      it("does not make a version's results look like a model", async () => {
        await store.saveVersionResults("llama", "v2", stress);
        expect(await store.list()).toEqual([]);
      });
    });
  });
}
