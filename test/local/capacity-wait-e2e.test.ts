// The wait for capacity end to end on the local runtime, with real llama.cpp servers and local.maxServers: 1.
// `alpha` v1 holds the one server slot (its first release waits for a person's approval with its candidate
// running); `tiny` v1, uploaded meanwhile, waits for capacity — `modelship status --local` says so, with the
// reason — and deploys once the abort command ends alpha's rollout and its server stops. Then `tiny` v2's canary,
// which needs a second server beside v1, waits its 3 s bound and fails InsufficientCapacity: nothing of v2 was
// started, the lock is free, v1 still serves. `tiny` v3, aborted while it waits, ends the same way, as Aborted.
// Nothing is left running once the control plane stops.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run as statusCommand } from "../../lib/cli/status";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ControlPlane } from "../../lib/local/control-plane";
import { adminFetch } from "../support/admin-fetch";
import { isRunning } from "../support/process-alive";
import { runningServers } from "../support/server-processes";
import { tinyControlPlane, tinyManifest, tinyStatus, uploadTiny } from "../support/tiny-canary";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
const seen = new Set<number>();
let peak = 0;
let sampling: NodeJS.Timeout | undefined;

/** What `modelship status <model> --local` prints. */
async function statusText(model: string): Promise<string> {
  const printed: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((text: unknown) => void printed.push(String(text)));
  try {
    expect(await statusCommand([model, "--local", "--home", controlPlane.home])).toBe(0);
  } finally {
    log.mockRestore();
  }
  return printed.join("\n");
}

function eventOf(model: string, version: string, detailType: string, stage?: string) {
  return events.find(
    (e) =>
      e.detail.model === model &&
      e.detail.version === version &&
      e.detailType === detailType &&
      (stage === undefined || e.detail.stage === stage),
  );
}

/** Waits, with a generous bound, for an event of `model` `version` (two models here share version names). */
function untilEvent(model: string, version: string, detailType: string, stage?: string) {
  return vi.waitFor(
    () => {
      const found = eventOf(model, version, detailType, stage);
      if (found) return found;
      const failed = eventOf(model, version, "Stage Failed");
      if (failed && detailType !== "Stage Failed")
        throw new Error(`${model} ${version} failed: ${failed.detail.message}`);
      throw new Error(`no ${detailType} for ${model} ${version} yet`);
    },
    { timeout: 120_000, interval: 200 },
  );
}

describe("The wait for capacity on the local runtime, with llama.cpp and local.maxServers: 1", () => {
  beforeAll(async () => {
    ({ work, controlPlane } = await tinyControlPlane(
      "modelship-capacity-wait-e2e-",
      { events, logged },
      { maxServers: 1 },
    ));
    sampling = setInterval(() => {
      const servers = runningServers();
      for (const server of servers) seen.add(server.pid);
      peak = Math.max(peak, servers.length);
    }, 100);
  }, 60_000);

  afterAll(async () => {
    clearInterval(sampling);
    await controlPlane?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("waits while another model holds the only server slot, says so in status, and deploys once it frees", async () => {
    const alpha = tinyManifest("v1", "  approval: manual").replace("name: tiny", "name: alpha");
    await uploadTiny(controlPlane.home, "v1", 1, alpha, "alpha");
    await untilEvent("alpha", "v1", "Approval Requested");
    expect(runningServers()).toHaveLength(1);

    await uploadTiny(
      controlPlane.home,
      "v1",
      2,
      tinyManifest("v1", "  watchSeconds: 2\n  capacityWaitSeconds: 300"),
    );
    const waiting = await vi.waitFor(
      async () => {
        const text = await statusText("tiny");
        if (!text.includes("waiting for capacity")) throw new Error(text);
        return text;
      },
      { timeout: 120_000, interval: 250 },
    );
    // The real output, for the docs.
    console.info(`modelship status tiny --local, while it waits:\n${waiting}`);
    expect(waiting).toContain("running: v1 waiting for capacity (nothing deployed yet)");
    expect(waiting).toMatch(
      /capacity\s+Waiting for capacity before deploying tiny v1: The rollout needs 1 more server process; 0 of local\.maxServers 1 are free \(1 runs\)\. The plan: 1 replica of v1\. Waiting since \S+, until \S+ \(rollout\.capacityWaitSeconds: 300\)/,
    );
    expect(eventOf("tiny", "v1", "Stage Succeeded", "DeployCandidate")).toBeUndefined();

    const abort = await adminFetch(controlPlane.url, controlPlane.home, "commands", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ command: "Abort Requested", model: "alpha", reason: "make room for tiny" }),
    });
    expect(abort.status).toBe(200);

    const deployed = await untilEvent("tiny", "v1", "Stage Succeeded", "DeployCandidate");
    expect(deployed.detail.message).toMatch(/It waited \d+ s for capacity\./);
    console.info(`DeployCandidate after the wait: ${deployed.detail.message}`);
    await untilEvent("tiny", "v1", "Stage Succeeded", "Finalize");
    const history = (await controlPlane.runtime.deps.store.get("tiny"))?.history ?? [];
    expect(history.filter((t) => t.stage === "CheckCapacity").map((t) => t.reason)).toEqual([
      expect.stringMatching(/^Waiting for capacity before deploying tiny v1/),
      expect.stringMatching(/^tiny v1 has the capacity it waited \d+ s for/),
    ]);
    expect(peak).toBe(1);
  }, 400_000);

  it("fails InsufficientCapacity once the bound passes, with nothing of the candidate started and the lock free", async () => {
    const before = runningServers();
    await uploadTiny(
      controlPlane.home,
      "v2",
      3,
      tinyManifest("v2", "  steps: [50, 100]\n  bakeSeconds: 2\n  capacityWaitSeconds: 3"),
    );
    const failed = await untilEvent("tiny", "v2", "Stage Failed");

    expect(failed.detail).toMatchObject({ model: "tiny", stage: "Cleanup", error: "InsufficientCapacity" });
    console.info(`Past the bound: ${failed.detail.message}`);
    // The bound passed: at least its 3 s (more on a busy machine, never less).
    expect(Number(/It waited (\d+) s/.exec(failed.detail.reason ?? "")?.[1])).toBeGreaterThanOrEqual(3);
    expect(failed.detail.reason).toMatch(
      /^The rollout needs 1 more server process; 0 of local\.maxServers 1 are free \(1 runs\)\. The plan: surge canary beside v1's 1 replica: at most 2 replicas at once\. It waited (\d+) s, since \S+ \(rollout\.capacityWaitSeconds: 3\)\. Nothing was deployed\.$/,
    );
    expect(eventOf("tiny", "v2", "Stage Succeeded", "DeployCandidate")).toBeUndefined();
    expect(runningServers()).toEqual(before);
    const status = await tinyStatus(controlPlane);
    expect(status.lock).toBeUndefined();
    expect(status.stable?.version).toBe("v1");
    expect(peak).toBe(1);
  }, 200_000);

  it("ends a rollout aborted while it waits: nothing deployed, the lock free, the stable untouched", async () => {
    const before = runningServers();
    await uploadTiny(
      controlPlane.home,
      "v3",
      4,
      tinyManifest("v3", "  steps: [50, 100]\n  bakeSeconds: 2\n  capacityWaitSeconds: 300"),
    );
    await vi.waitFor(
      async () => {
        const text = await statusText("tiny");
        if (!text.includes("running: v3 waiting for capacity")) throw new Error(text);
      },
      { timeout: 120_000, interval: 250 },
    );

    const abort = await adminFetch(controlPlane.url, controlPlane.home, "commands", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ command: "Abort Requested", model: "tiny", reason: "not today" }),
    });
    expect(abort.status).toBe(200);
    const failed = await untilEvent("tiny", "v3", "Stage Failed");

    expect(failed.detail).toMatchObject({ stage: "Cleanup", error: "Aborted" });
    expect(failed.detail.reason).toContain("CheckCapacity stopped");
    expect(eventOf("tiny", "v3", "Stage Succeeded", "DeployCandidate")).toBeUndefined();
    expect(runningServers()).toEqual(before);
    const status = await tinyStatus(controlPlane);
    expect(status.lock).toBeUndefined();
    expect(status.stable?.version).toBe("v1");
    expect(status.route?.backends.map((b) => `${b.variant} ${b.version} ${b.weight}`)).toEqual([
      "stable v1 100",
    ]);
  }, 200_000);

  it("leaves nothing running once the control plane stops", async () => {
    await controlPlane.close();
    for (const pid of seen) expect([pid, isRunning(pid)]).toEqual([pid, false]);
  }, 60_000);
});
