// The linear and blue/green strategies end to end on this machine, with real llama.cpp servers behind the
// local gateway: v1 is a first release; v2 goes linear, 25% more every 2 s — the route serves 25, 50, 75 and
// 100% to it, in that order, before its promotion; v3 goes blue/green — it takes all the traffic in one step
// after its gates while v2's server keeps running through the watch, and is stopped by Finalize; v4 goes
// blue/green too, and a delay injected into it during its watch trips its latency alarm: all the traffic goes
// back to v3 in one step, served by the same v3 server that never stopped, and nothing of v4 is left running.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ControlPlane } from "../../lib/local/control-plane";
import { adminFetch } from "../support/admin-fetch";
import { isRunning } from "../support/process-alive";
import {
  chatWithTiny,
  eventsOf,
  tinyAlarms as ALARMS,
  tinyControlPlane,
  tinyManifest,
  tinyRouteSampler,
  tinyStatus,
  uploadTiny,
} from "../support/tiny-canary";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
/** The model's routes and alarms, sampled while a rollout runs. */
const routes = tinyRouteSampler(() => controlPlane);
const routesSeen = routes.seen;
const alarmNamesSeen = routes.alarmNames;

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-strategies-e2e-", { events, logged }));
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

const { eventOf } = eventsOf(events);

/** Waits for an event of `version`, sampling the route as it goes; fails at once if the rollout failed. */
async function until(version: string, detailType: string, stage?: string): Promise<ModelshipEvent> {
  return vi.waitFor(
    async () => {
      await routes.sample();
      const found = eventOf(version, detailType, stage);
      if (found) return found;
      const failed = eventOf(version, "Stage Failed");
      if (failed) throw new Error(`${version} failed: ${failed.detail.message}`);
      throw new Error(`no ${detailType} ${stage ?? ""} for ${version} yet`);
    },
    { timeout: 240_000, interval: 100 },
  );
}

/** The routes sampled since `version` joined the route. */
function routesOf(version: string): string[] {
  // From the route before the first that names the version: a fast blue/green's gates can register it at 0%
  // and switch it to 100% between two samples, so its first sampled route may already be the switch.
  const first = routesSeen.findIndex((route) => route.split(", ").some((b) => b.split(" ")[1] === version));
  return first < 0 ? [] : routesSeen.slice(Math.max(0, first - 1));
}

/** The pid of `version`'s server, as DeployCandidate announced it. */
function pidOf(version: string): number {
  const deployed = eventOf(version, "Stage Succeeded", "DeployCandidate");
  const pid = (deployed?.detail.data?.["where"] as { pid?: unknown } | undefined)?.pid;
  expect(pid, `${version}'s pid`).toBeTypeOf("number");
  return pid as number;
}

const chat = () => chatWithTiny(controlPlane);
const status = () => tinyStatus(controlPlane);

async function setFault(variant: string, fault: object | undefined): Promise<void> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, `faults/tiny/${variant}`, {
    method: fault ? "PUT" : "DELETE",
    ...(fault && { headers: { "content-type": "application/json" }, body: JSON.stringify(fault) }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

describe("The linear and blue/green strategies on the local runtime, with llama.cpp behind the local gateway", () => {
  it("releases v1 as a first release", { timeout: 300_000 }, async () => {
    await uploadTiny(controlPlane.home, "v1", 1, tinyManifest("v1", `  watchSeconds: 2\n${ALARMS(5000)}`));
    await until("v1", "Stage Succeeded", "Finalize");
    expect(await chat()).toEqual({ status: 200, version: "v1" });
  });

  it(
    "moves v2 25 → 50 → 75 → 100% in linear steps, then promotes it and retires v1",
    { timeout: 300_000 },
    async () => {
      await uploadTiny(
        controlPlane.home,
        "v2",
        2,
        tinyManifest(
          "v2",
          `  strategy: linear\n  linear: { stepPercent: 25, intervalSeconds: 2 }\n  watchSeconds: 2\n${ALARMS(5000)}`,
        ),
      );
      const started = await until("v2", "Rollout Started");
      expect(started.detail.data?.["strategy"]).toBe("linear");
      await until("v2", "Stage Succeeded", "Finalize");

      const steps = events
        .filter((e) => e.detail.version === "v2" && e.detailType === "Canary Weight Changed")
        .map((e) => e.detail.data?.["weights"]);
      expect(steps).toEqual([
        { stable: 75, candidate: 25 },
        { stable: 50, candidate: 50 },
        { stable: 25, candidate: 75 },
        { stable: 0, candidate: 100 },
      ]);
      const order = events
        .filter((e) => e.detail.version === "v2")
        .map((e) => e.detailType)
        .filter((type) => type === "Canary Weight Changed" || type === "Model Promoted");
      expect(order.at(-1)).toBe("Model Promoted");
      // The weights the gateway served, as sampled: v2 joins at 0% (too briefly to be sampled reliably).
      expect(routesOf("v2").filter((route) => route !== "stable v1 100, candidate v2 0")).toEqual([
        "stable v1 100",
        "stable v1 75, candidate v2 25",
        "stable v1 50, candidate v2 50",
        "stable v1 25, candidate v2 75",
        "stable v1 0, candidate v2 100",
        "stable v2 100, stable v1 0",
        "stable v2 100",
      ]);
      expect(isRunning(pidOf("v1"))).toBe(false);
      expect(await chat()).toEqual({ status: 200, version: "v2" });
    },
  );

  it(
    "gives v3 all the traffic in one step after its gates, keeps v2 warm through the watch, then stops v2",
    { timeout: 300_000 },
    async () => {
      await uploadTiny(
        controlPlane.home,
        "v3",
        3,
        tinyManifest("v3", `  strategy: blueGreen\n  watchSeconds: 6\n${ALARMS(5000)}`),
      );
      const promoted = await until("v3", "Model Promoted");
      expect(promoted.detail.message).toMatch(/took 100% of traffic at once \(blue\/green\)/);
      // In the watch, v2's server is the same process that served it, on the route at 0%, ready to return.
      const warm = await status();
      expect(warm.route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([
        ["stable", "v3", 100],
        ["stable", "v2", 0],
      ]);
      expect(isRunning(pidOf("v2"))).toBe(true);
      expect(await chat()).toEqual({ status: 200, version: "v3" });

      await until("v3", "Stage Succeeded", "Finalize");
      expect(eventOf("v3", "Canary Weight Changed")).toBeUndefined();
      expect(routesOf("v3").filter((route) => route !== "stable v2 100, candidate v3 0")).toEqual([
        "stable v2 100",
        "stable v3 100, stable v2 0",
        "stable v3 100",
      ]);
      expect(isRunning(pidOf("v2"))).toBe(false);
      expect(isRunning(pidOf("v3"))).toBe(true);
      const shipped = await status();
      expect(shipped.stable?.version).toBe("v3");
      expect(shipped.previousStable).toBeUndefined();
      expect(shipped.lock).toBeUndefined();
      expect(shipped.prober).toBeNull();
    },
  );

  it(
    "returns all of v4's traffic to the still-running v3 in one step when v4 alarms during its watch",
    { timeout: 300_000 },
    async () => {
      await uploadTiny(
        controlPlane.home,
        "v4",
        4,
        tinyManifest("v4", `  strategy: blueGreen\n  watchSeconds: 40\n${ALARMS(800)}`),
      );
      await until("v4", "Model Promoted");
      const v3 = pidOf("v3");
      // Promoted, v4 is the route's stable and v3 waits at 0%: the fault goes on v4's variant now.
      await setFault("stable", { delay: { fixedDelayMs: 1500, percentage: 100 } });
      const rolledBack = await until("v4", "Model Rolled Back");
      // A fault belongs to the variant: with v3 the stable again, it would now hold v3's requests.
      await setFault("stable", undefined);
      expect(rolledBack.detail.data?.["trigger"]).toBe("alarm");
      expect(rolledBack.detail.reason).toMatch(/modelship-tiny-v4-.*latency/i);

      // Back in one step: v3 served 100% right after v4, the same server process that never stopped.
      expect(routesOf("v4").filter((route) => route !== "stable v3 100, candidate v4 0")).toEqual([
        "stable v3 100",
        "stable v4 100, stable v3 0",
        "stable v3 100",
      ]);
      expect(isRunning(v3)).toBe(true);
      expect(await chat()).toEqual({ status: 200, version: "v3" });
      const record = await status();
      expect(record.stable?.version).toBe("v3");
      expect(record.stable?.handle.details?.["pid"]).toBe(v3);

      // Nothing of v4 is left: its server, its alarms, its prober, its hold on the model.
      await vi.waitFor(async () => expect((await status()).lock).toBeUndefined(), { timeout: 30_000 });
      expect(isRunning(pidOf("v4"))).toBe(false);
      const after = await status();
      expect(after.status).toBe("rolled_back");
      expect(after.alarms).toEqual([]);
      expect(after.prober).toBeNull();
      expect(await controlPlane.runtime.deps.registry.getStatus("tiny", "v4")).toBe("Rejected");

      const execution = controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
      const result = await execution?.result;
      expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");
    },
  );

  it("leaves nothing running once the control plane stops", { timeout: 60_000 }, async () => {
    const { runtime } = controlPlane;
    await controlPlane.close();
    for (const version of ["v1", "v2", "v3", "v4"]) {
      expect([version, isRunning(pidOf(version))]).toEqual([version, false]);
    }
    expect(runtime.metrics.probers()).toEqual([]);
    expect(await runtime.alarms.states([...alarmNamesSeen])).toEqual([]);
    expect(logged.filter((line) => !/probe round/.test(line))).toEqual([]);
  });
});
