// The canary end to end on this machine, with real llama.cpp servers and real HTTP through the local
// gateway: a control plane watches its bucket; v1 is a first release (100% after its gates); v2 goes through
// every canary step to promotion, and v1's server is removed after the watch; v3, slowed down at the gateway
// by an injected delay, trips its latency alarm and is rolled back by the alarm loop while its bake still
// runs — v2 serves 100% again, v3's server is gone and its report.html tells the step, the alarm's metric
// and the rollback; a restarted control plane serves v2 again and answers
// the CLI. Events and records tell the whole story; after the control plane stops, no server, prober, alarm
// or socket is left.

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import {
  chatWithTiny,
  tinyControlPlane,
  tinyAlarms as ALARMS,
  tinyManifest,
  tinyRouteSampler,
  tinyStatus,
  uploadTiny,
} from "../support/tiny-canary";
import { readEvents } from "../../lib/local/jsonl-events";
import { run as runRollback } from "../../lib/cli/rollback";
import { run as runStatus } from "../../lib/cli/status";
import { isRunning } from "../support/process-alive";
import { captureConsole } from "../support/console-capture";
import { adminFetch } from "../support/admin-fetch";
import {
  countElements,
  elementById,
  structureProblems,
  tableRecords,
  visibleText,
} from "../support/html-page";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
/** The model's routes and alarms, sampled while a rollout runs. */
const routes = tinyRouteSampler(() => controlPlane);
const routesSeen = routes.seen;
const alarmNamesSeen = routes.alarmNames;
const pids = new Map<string, number>();

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-canary-e2e-", { events, logged, pids }));
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

function eventsOf(version: string, detailType?: string): ModelshipEvent[] {
  return events.filter(
    (e) => e.detail.version === version && (detailType === undefined || e.detailType === detailType),
  );
}

/** Waits for an event while sampling the route and the record's alarms. */
async function until(version: string, detailType: string, timeoutMs: number): Promise<ModelshipEvent> {
  let found: ModelshipEvent | undefined;
  await vi.waitFor(
    async () => {
      await sample();
      found = eventsOf(version, detailType)[0];
      if (!found) {
        const failed = eventsOf(version).find((e) => e.detailType === "Stage Failed");
        if (failed) throw new Error(`${version} failed: ${JSON.stringify(failed.detail)}`);
        throw new Error(`no ${detailType} for ${version} yet`);
      }
    },
    { timeout: timeoutMs, interval: 150 },
  );
  return found as ModelshipEvent;
}

const sample = routes.sample;

const chat = (headers: Record<string, string> = {}) => chatWithTiny(controlPlane, headers);
const status = () => tinyStatus(controlPlane);

describe("The canary on the local runtime, with llama.cpp behind the local gateway", () => {
  it("releases v1 to 100% without a canary, from a manifest copied into the bucket", async () => {
    await uploadTiny(controlPlane.home, "v1", 1, tinyManifest("v1", `  watchSeconds: 2\n${ALARMS(5000)}`));
    await until("v1", "Model Promoted", 60_000);
    const finalized = await until("v1", "Stage Succeeded", 30_000).then(() =>
      vi.waitFor(
        () => {
          const done = eventsOf("v1", "Stage Succeeded").find((e) => e.detail.stage === "Finalize");
          if (!done) throw new Error("v1 not finalized yet");
          return done;
        },
        { timeout: 30_000, interval: 150 },
      ),
    );
    expect(finalized.detail.stage).toBe("Finalize");
    expect(eventsOf("v1", "Canary Weight Changed")).toEqual([]);
    expect(await chat()).toEqual({ status: 200, version: "v1" });
    const v1 = await status();
    expect(v1.route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([["stable", "v1", 100]]);
    expect(v1.lock).toBeUndefined();
    expect(v1.stable?.version).toBe("v1");
  }, 120_000);

  it("takes v2 through every canary step to promotion, with traffic on v2 during the canary, then removes v1", async () => {
    await uploadTiny(
      controlPlane.home,
      "v2",
      2,
      tinyManifest(
        "v2",
        `  steps:\n    - { weight: 25, bakeSeconds: 4 }\n    - { weight: 50, bakeSeconds: 4 }\n  bakeSeconds: 3\n  watchSeconds: 4\n${ALARMS(5000)}`,
      ),
    );
    await until("v2", "Canary Weight Changed", 60_000);
    // While v2 takes a share, requests without a variant reach it by weight; the candidate header always does.
    expect((await chat({ "x-modelship-variant": "candidate" })).version).toBe("v2");
    const versions = new Set<string>();
    for (let i = 0; i < 60 && !versions.has("v2"); i++) {
      const answer = await chat();
      expect(answer.status).toBe(200);
      versions.add(answer.version);
    }
    expect(versions.has("v2")).toBe(true);

    await until("v2", "Model Promoted", 60_000);
    await vi.waitFor(
      async () => {
        await sample();
        if (!eventsOf("v2", "Stage Succeeded").some((e) => e.detail.stage === "Finalize")) {
          throw new Error("v2 not finalized yet");
        }
      },
      { timeout: 60_000, interval: 150 },
    );
    const weights = eventsOf("v2", "Canary Weight Changed").map((e) => e.detail.data?.["weights"]);
    expect(weights).toEqual([
      { stable: 75, candidate: 25 },
      { stable: 50, candidate: 50 },
      { stable: 0, candidate: 100 },
    ]);
    // The route as sampled: v2 joins at 0% for a moment (too short to be sampled reliably), then each step;
    // after the promotion the local gateway keeps v1 warm at 0% through the watch, then Finalize drops it.
    const v2Routes = routesSeen
      .slice(routesSeen.lastIndexOf("stable v1 100"))
      .filter((route) => route !== "stable v1 100, candidate v2 0");
    expect(v2Routes).toEqual([
      "stable v1 100",
      "stable v1 75, candidate v2 25",
      "stable v1 50, candidate v2 50",
      "stable v1 0, candidate v2 100",
      "stable v2 100, stable v1 0",
      "stable v2 100",
    ]);
    expect(isRunning(pids.get("v1") as number)).toBe(false);
    expect(await chat()).toEqual({ status: 200, version: "v2" });
    const record = await status();
    expect(record.stable?.version).toBe("v2");
    expect(record.previousStable).toBeUndefined();
    expect(record.alarms).toEqual([]);
    expect(record.prober).toBeNull();
  }, 180_000);

  it("rolls v3 back on its latency alarm while its bake runs, and v2 serves 100% again", async () => {
    const fault = await adminFetch(controlPlane.url, controlPlane.home, "faults/tiny/candidate", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ delay: { fixedDelayMs: 1500, percentage: 100 } }),
    });
    expect(fault.status).toBe(200);
    await uploadTiny(
      controlPlane.home,
      "v3",
      3,
      tinyManifest(
        "v3",
        `  steps:\n    - { weight: 50, bakeSeconds: 40 }\n  bakeSeconds: 40\n  watchSeconds: 4\n${ALARMS(800)}`,
      ),
    );
    const rolledBack = await until("v3", "Model Rolled Back", 90_000);
    expect(rolledBack.detail.data?.["trigger"]).toBe("alarm");
    expect(rolledBack.detail.reason).toMatch(/modelship-tiny-v3-.*latency/i);
    expect(rolledBack.detail.reason).toMatch(/threshold of 800/);
    expect(eventsOf("v3", "Model Promoted")).toEqual([]);

    const record = await status();
    expect(record.route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([
      ["stable", "v2", 100],
    ]);
    expect(record.status).toBe("rolled_back");
    expect(record.lock).toBeUndefined();
    expect(record.prober).toBeNull();
    expect(isRunning(pids.get("v3") as number)).toBe(false);
    expect(await chat()).toEqual({ status: 200, version: "v2" });

    // The execution, still in its bake when the alarm acted, ends in RolledBack once the bake is over.
    const execution = controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
    const result = await execution?.result;
    expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");

    const history = record.history.filter((t) => t.version === "v3").map((t) => t.status);
    expect(history.at(-1)).toBe("rolled_back");
    const registry = await controlPlane.runtime.deps.registry.getStatus("tiny", "v3");
    expect(registry).toBe("Rejected");
    expect(await controlPlane.runtime.deps.registry.getStatus("tiny", "v2")).toBe("Approved");

    // report.html tells the whole rollout: its step, the latency alarm's metric over the bake against its
    // threshold, the alarm that rolled it back and why — written by the alarm's Rollback, kept by the
    // state machine's.
    const page = await readFile(
      join(controlPlane.home, "bucket", "reports", "tiny", "v3", rolledBack.detail.rolloutId, "report.html"),
      "utf8",
    );
    const banner = visibleText(page.slice(page.indexOf('<div class="end'), page.indexOf("<nav")));
    expect(banner).toMatch(/^✘ Rolled back by alarm modelship-tiny-v3-rollback at /);
    expect(banner).toContain(rolledBack.detail.reason);
    const [step] = tableRecords(page, "Canary steps").map((row) =>
      Object.fromEntries(Object.entries(row).map(([column, cell]) => [column, visibleText(cell)])),
    );
    expect(step).toMatchObject({
      Step: "1 of 2",
      "v3 (candidate)": "50%",
      "v2 (stable)": "50%",
      "Planned bake": "40.0 s",
    });
    const latency = tableRecords(page, "Alarms").find((row) =>
      visibleText(row["Alarm"] ?? "").startsWith("modelship-tiny-v3-latency-p95"),
    );
    expect(visibleText(latency?.["Goes to ALARM when"] ?? "")).toBe("1 of 2 periods of 10 s are > 800");
    // The injected 1.5 s delay is what the chart shows beyond the threshold.
    expect(Number(visibleText(latency?.["Beyond the threshold"] ?? ""))).toBeGreaterThanOrEqual(1);
    expect(Number(visibleText(latency?.["Highest"] ?? ""))).toBeGreaterThan(1500);
    expect(countElements(elementById(page, "canary"), "svg")).toBeGreaterThanOrEqual(1);
    expect(visibleText(elementById(page, "rollout"))).toContain("Manifest models/tiny/v3/modelship.yaml");
    expect(structureProblems(page)).toEqual([]);
  }, 180_000);

  it("keeps serving v2 across a restart of the control plane, and answers the CLI's --local commands", async () => {
    const before = pids.get("v2") as number;
    await controlPlane.close();
    expect(isRunning(before)).toBe(false);
    controlPlane = await startControlPlane({
      home: controlPlane.home,
      timeFactor: 1,
      port: 0,
      onEvent: (event) => void events.push(event),
      log: (message) => void logged.push(message),
    });
    expect(controlPlane.runtime.restored).toEqual([
      "Started tiny v2 again (rollout " + (await status()).stable?.rolloutId + ").",
    ]);
    expect(await chat()).toEqual({ status: 200, version: "v2" });
    const restarted = (await status()).stable?.handle.details?.["pid"];
    expect(typeof restarted === "number" && restarted !== before && isRunning(restarted)).toBe(true);
    pids.set("v2", restarted as number);

    const printed = captureConsole();
    try {
      expect(await runStatus(["tiny", "--local", "--home", controlPlane.home])).toBe(0);
      expect(await runRollback(["tiny", "--local", "--home", controlPlane.home])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(printed.join("\n")).toMatch(/tiny {2}rolled back: v2 serves 100%/);
    expect(printed.join("\n")).toMatch(/gateway {3}stable v2 100%/);
    expect(printed.join("\n")).toMatch(
      /No rollout of tiny is running: a rollback has nothing to do\. v2 serves it\./,
    );
  }, 120_000);

  it("leaves nothing running once the control plane stops, and the events file tells the same story", async () => {
    const v2 = pids.get("v2") as number;
    expect(isRunning(v2)).toBe(true);
    expect(alarmNamesSeen.size).toBeGreaterThan(0);
    const { runtime, url } = controlPlane;
    await controlPlane.close();

    for (const [version, pid] of pids) expect([version, isRunning(pid)]).toEqual([version, false]);
    expect(runtime.metrics.probers()).toEqual([]);
    expect(await runtime.alarms.states([...alarmNamesSeen])).toEqual([]);
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();

    const written = (await readEvents(join(controlPlane.home, "events.jsonl"))).map(
      (e) => `${e.detailType} ${e.detail.version}`,
    );
    expect(written).toEqual(events.map((e) => `${e.detailType} ${e.detail.version}`));
    for (const story of [
      "Rollout Started v1",
      "Model Promoted v1",
      "Rollout Started v2",
      "Canary Weight Changed v2",
      "Model Promoted v2",
      "Rollout Started v3",
      "Canary Weight Changed v3",
      "Model Rolled Back v3",
    ]) {
      expect(written).toContain(story);
    }
    expect(logged.filter((line) => !/probe round/.test(line))).toEqual([]);
  }, 60_000);
});
