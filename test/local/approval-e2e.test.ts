// Manual approval end to end on this machine, with real llama.cpp servers behind the local gateway: v1 is a
// first release; v2 waits before its promotion, holding its canary weight, until `modelship approve --local`
// lets it go on (who approved is recorded); v3 waits before any traffic and is rolled back when its wait times
// out; v4 waits before its promotion and is rolled back by its latency alarm while it waits (a delay injected
// at the gateway) — the wait is released at once, not at its timeout; v5 is rejected with `modelship reject`;
// v6 is rejected by a person setting its status to Rejected in registry.json (after an edit of another version,
// which is ignored, and a malformed edit, which is reported while v6 keeps waiting). Each rollback leaves v2 at 100%, the candidate's server gone and the lock free.

import { readFile, rm, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { run as approve } from "../../lib/cli/approve";
import { run as reject } from "../../lib/cli/reject";
import type { ControlPlane } from "../../lib/local/control-plane";
import { adminFetch } from "../support/admin-fetch";
import { isRunning } from "../support/process-alive";
import { captureConsole } from "../support/console-capture";
import {
  eventsOf,
  tinyControlPlane,
  tinyAlarms as ALARMS,
  tinyManifest,
  tinyStatus,
  uploadTiny,
} from "../support/tiny-canary";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-approval-e2e-", { events, logged }));
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

const { eventOf, until } = eventsOf(events);

async function weights(): Promise<Record<string, number>> {
  const route = await controlPlane.runtime.gateway.describe("tiny");
  return Object.fromEntries((route?.backends ?? []).map((b) => [b.version, b.weight]));
}

async function cli(command: (argv: string[]) => Promise<number>, argv: string[]) {
  const lines = captureConsole();
  try {
    const code = await command([...argv, "--local", "--home", controlPlane.home]);
    return { code, text: lines.join("\n") };
  } finally {
    vi.restoreAllMocks();
  }
}

/**
 * Uploads `version` of tiny (its weights seeded by its number) with one canary step to 50%, a 2 s watch and
 * `approval` as its rollout.approval; bakes of `bakeSeconds`, its alarms' latency threshold `latencyP95Ms`.
 */
async function uploadWithApproval(
  version: string,
  approval: string,
  { bakeSeconds = 2, latencyP95Ms = 5000 } = {},
): Promise<void> {
  const rollout = `  steps: [50]\n  bakeSeconds: ${bakeSeconds}\n  watchSeconds: 2\n  approval: ${approval}\n`;
  await uploadTiny(
    controlPlane.home,
    version,
    Number(version.slice(1)),
    // The comparison with the stable loose: one period in which the candidate's tiny server is 1.25× slower than
    // the stable's — noise on a loaded machine — would roll back a version whose approval this file waits for.
    tinyManifest(version, `${rollout}${ALARMS(latencyP95Ms)}\n    vsStable: { latencyP95Ratio: 20 }`),
  );
}

/** The candidate's server for `version` is gone, its alarms and prober too, and no rollout holds the model. */
async function expectNothingLeftOf(version: string): Promise<void> {
  const record = await controlPlane.runtime.deps.store.get("tiny");
  expect(record?.lock).toBeUndefined();
  expect(record?.candidate).toBeUndefined();
  expect(record?.stable?.version).toBe("v2");
  const status = await tinyStatus(controlPlane);
  expect(status.alarms).toEqual([]);
  expect(status.prober).toBeNull();
  expect(await weights()).toEqual({ v2: 100 });
  const deployed = eventOf(version, "Stage Succeeded", "DeployCandidate");
  const pid = (deployed?.detail.data?.["where"] as { pid?: number } | undefined)?.pid;
  expect(pid).toBeTypeOf("number");
  expect(isRunning(pid as number)).toBe(false);
}

describe("Manual approval on the local runtime, with llama.cpp behind the local gateway", () => {
  it("releases v1 as a first release, with no approval asked", async () => {
    await uploadTiny(controlPlane.home, "v1", 1, tinyManifest("v1", `  watchSeconds: 2\n${ALARMS(5000)}`));
    await until("v1", "Stage Succeeded", "Finalize");
    expect(eventOf("v1", "Approval Requested")).toBeUndefined();
  });

  it(
    "holds v2 at its canary weight until `modelship approve` lets it be promoted, recording who approved",
    { timeout: 180_000 },
    async () => {
      await uploadWithApproval("v2", "manual");
      const asked = await until("v2", "Approval Requested");
      const waiting = await controlPlane.runtime.deps.store.get("tiny");
      const token = (waiting as { approval?: { token?: string } } | undefined)?.approval?.token;
      expect(token).toBeTypeOf("string");
      expect(JSON.stringify(asked.detail)).not.toContain(token);
      // steps: [50] ends with the 100% step appended: v2 waits there, v1 still on the route to return to.
      expect(await weights()).toEqual({ v1: 0, v2: 100 });
      expect(eventOf("v2", "Model Promoted")).toBeUndefined();

      const answered = await cli(approve, ["tiny", "--reason", "looks good"]);
      expect(answered.code, answered.text).toBe(0);

      await until("v2", "Stage Succeeded", "Finalize");
      expect(await weights()).toEqual({ v2: 100 });
      const record = await controlPlane.runtime.deps.store.get("tiny");
      expect(JSON.stringify(record?.history)).toMatch(/[Aa]pproved by/);
    },
  );

  it(
    "rolls v3 back when its wait before traffic times out, before any traffic moved",
    { timeout: 180_000 },
    async () => {
      await uploadWithApproval("v3", "{mode: manual, at: beforeTraffic, timeoutSeconds: 3}");
      await until("v3", "Approval Requested");
      const rolledBack = await until("v3", "Model Rolled Back");
      expect(rolledBack.detail.message).toMatch(/ApprovalTimedOut|timed out/);
      expect(eventOf("v3", "Canary Weight Changed")).toBeUndefined();
      expect(await weights()).toEqual({ v2: 100 });
      await vi.waitFor(() => expectNothingLeftOf("v3"), { timeout: 30_000, interval: 200 });
    },
  );

  it(
    "rolls v4 back by its latency alarm while it waits for approval, releasing the wait at once",
    { timeout: 180_000 },
    async () => {
      await uploadWithApproval("v4", "{mode: manual, timeoutSeconds: 600}", {
        bakeSeconds: 1,
        latencyP95Ms: 1000,
      });
      await until("v4", "Approval Requested");
      // Slowed only once it waits: on a loaded machine a fault set before the upload could trip the alarm in the
      // 1 s bake, before any approval was asked — a rollback, but not the one this test is about.
      const faultUrl = "faults/tiny/candidate";
      const delay = await adminFetch(controlPlane.url, controlPlane.home, faultUrl, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ delay: { fixedDelayMs: 1500, percentage: 100 } }),
      });
      expect(delay.status, await delay.clone().text()).toBe(200);
      try {
        const rolledBack = await until("v4", "Model Rolled Back");
        expect(rolledBack.detail.message).toMatch(/alarm .* is in ALARM/);
        await vi.waitFor(() => expectNothingLeftOf("v4"), { timeout: 30_000, interval: 200 });
        // The execution leaves its wait with the rollback, not at the 600 s timeout.
        const execution = controlPlane.runtime.executions.get(String(rolledBack.detail.executionArn));
        await vi.waitFor(
          () => {
            if (!execution?.ended()) throw new Error("v4's execution still waits");
          },
          { timeout: 60_000, interval: 200 },
        );
      } finally {
        // Cleared whatever happened, so the next versions' canaries are not slowed by it.
        const cleared = await adminFetch(controlPlane.url, controlPlane.home, faultUrl, { method: "DELETE" });
        expect(cleared.status).toBe(200);
      }
    },
  );

  it("rolls v5 back when `modelship reject` answers its wait", { timeout: 180_000 }, async () => {
    await uploadWithApproval("v5", "manual");
    await until("v5", "Approval Requested");

    const answered = await cli(reject, ["tiny", "--reason", "answers too short"]);
    expect(answered.code, answered.text).toBe(0);

    const rolledBack = await until("v5", "Model Rolled Back");
    expect(rolledBack.detail.message).toMatch(/ApprovalRejected|rejected/i);
    expect(await weights()).toEqual({ v2: 100 });
    await vi.waitFor(() => expectNothingLeftOf("v5"), { timeout: 30_000, interval: 200 });
  });

  it(
    "rolls v6 back when a person sets its status to Rejected in registry.json, recording who and why",
    { timeout: 180_000 },
    async () => {
      await uploadWithApproval("v6", "manual");
      await until("v6", "Approval Requested");
      const path = join(controlPlane.home, "registry.json");
      type Entry = { version: string; status: string; statusHistory: { status: string; reason: string }[] };
      const edit = async (version: string, status: string) => {
        const file = JSON.parse(await readFile(path, "utf8"));
        const entries: Entry[] = file.groups.tiny.entries;
        entries.findLast((e) => e.version === version)!.status = status;
        await writeFile(path, JSON.stringify(file, null, 2));
      };
      const loggedLine = (pattern: RegExp) =>
        vi.waitFor(
          () => {
            const line = logged.find((l) => pattern.test(l));
            if (!line) throw new Error(`nothing logged matches ${pattern}`);
            return line;
          },
          { timeout: 30_000, interval: 100 },
        );

      // Another version's status, set by hand, answers nothing.
      await edit("v1", "Rejected");
      expect(await loggedLine(/registry\.json: tiny v1 .* set to Rejected by hand, ignored/)).toMatch(
        /the rollout of tiny running now is .* \(v6\): nothing to reject/,
      );
      // A malformed edit (a typo) is reported; v6 keeps waiting.
      await edit("v6", "Rejectd");
      expect(await loggedLine(/registry\.json was changed and cannot be read/)).toMatch(
        /status is "Rejectd"; expected one of PendingManualApproval, Approved, Rejected/,
      );
      expect(eventOf("v6", "Model Rolled Back")).toBeUndefined();
      expect((await controlPlane.runtime.deps.store.get("tiny"))?.approval?.version).toBe("v6");

      await edit("v6", "Rejected");
      const rolledBack = await until("v6", "Model Rolled Back");
      expect(rolledBack.detail.message).toMatch(/ApprovalRejected|rejected/i);
      const user = userInfo().username;
      const record = await controlPlane.runtime.deps.store.get("tiny");
      expect(record?.history.find((t) => t.version === "v6" && t.stage === "Rejected")?.reason).toBe(
        `tiny v6 was rejected by ${user} in the model registry: status set to Rejected in registry.json.`,
      );
      expect(await weights()).toEqual({ v2: 100 });
      await vi.waitFor(() => expectNothingLeftOf("v6"), { timeout: 30_000, interval: 200 });
      // The rollback gave the hand-set status its history entry.
      const entries: Entry[] = JSON.parse(await readFile(path, "utf8")).groups.tiny.entries;
      const v6 = entries.findLast((e) => e.version === "v6")!;
      expect(v6.status).toBe("Rejected");
      expect(v6.statusHistory.at(-1)?.status).toBe("Rejected");
    },
  );
});
