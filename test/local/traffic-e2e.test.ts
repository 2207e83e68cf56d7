// Real traffic decides, end to end on this machine with real llama.cpp servers: v1 is released; v2's
// canary watches its p95 latency on both sources — the prober's chats and its server's own /metrics, scraped
// each probe round — and a fault makes v2's server hold every long prompt 1.5 s before its turn. Real
// traffic (long prompts) is slow; the prober's short chats are not. The traffic alarm rolls v2 back while
// the probe alarm stays quiet, v1 serves 100% again, and nothing is left running.

import { rm } from "node:fs/promises";
import { setTimeout as pause } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AlarmState } from "../../lib/core/alarms/alarm-spec";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ControlPlane } from "../../lib/local/control-plane";
import { tinyControlPlane, tinyManifest, uploadTiny } from "../support/tiny-canary";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";
import { adminFetch } from "../support/admin-fetch";
import { isRunning } from "../support/process-alive";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
const pids = new Map<string, number>();
/** Each alarm's last state seen while v2's canary ran (the alarms are deleted by the rollback). */
const alarmsSeen = new Map<string, AlarmState>();

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-traffic-e2e-", { events, logged }));
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

async function status(): Promise<LocalModelStatus> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "status?model=tiny");
  const { models } = (await response.json()) as { models: LocalModelStatus[] };
  return models[0] as LocalModelStatus;
}

/** Waits for an event of the version, keeping each server's pid and the alarms' states as it goes. */
async function until(version: string, detailType: string, timeoutMs: number): Promise<ModelshipEvent> {
  let found: ModelshipEvent | undefined;
  await vi.waitFor(
    async () => {
      const current = await status();
      for (const alarm of current.alarms) alarmsSeen.set(alarm.name, alarm);
      for (const event of events) {
        const where = event.detail.data?.["where"] as { pid?: unknown } | undefined;
        if (event.detail.stage === "DeployCandidate" && typeof where?.pid === "number") {
          pids.set(event.detail.version, where.pid);
        }
      }
      found = events.find((e) => e.detail.version === version && e.detailType === detailType);
      if (!found) {
        const failed = events.find((e) => e.detail.version === version && e.detailType === "Stage Failed");
        if (failed) throw new Error(`${version} failed: ${JSON.stringify(failed.detail)}`);
        throw new Error(`no ${detailType} for ${version} yet`);
      }
    },
    { timeout: timeoutMs, interval: 200 },
  );
  return found as ModelshipEvent;
}

/** Long-prompt chats to the candidate, a few at a time, until stopped: the traffic users send. */
function realTraffic(): { stop: () => Promise<number> } {
  let stopped = false;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped) {
      if (inFlight.size < 4) {
        const request = fetch(`${controlPlane.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-modelship-variant": "candidate" },
          body: JSON.stringify({
            model: "tiny",
            messages: [{ role: "user", content: "Summarize this: " + "the quick brown fox ".repeat(8) }],
            max_tokens: 2,
          }),
          signal: AbortSignal.timeout(30_000),
        })
          .then((response) => response.arrayBuffer())
          .then(() => void sent++)
          .catch(() => undefined);
        const tracked = request.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      // Pacing the load, not waiting for a result.
      await pause(200);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      return sent;
    },
  };
}

describe("Real traffic decides, on the local runtime with llama.cpp", () => {
  it("releases v1", async () => {
    await uploadTiny(controlPlane.home, "v1", 1, tinyManifest("v1", "  watchSeconds: 2"));
    await until("v1", "Model Promoted", 90_000);
    await vi.waitFor(
      () => {
        if (!events.some((e) => e.detail.version === "v1" && e.detail.stage === "Finalize")) {
          throw new Error("v1 not finalized yet");
        }
      },
      { timeout: 60_000, interval: 200 },
    );
  }, 150_000);

  it("rolls v2 back on its real-traffic latency alarm while the prober's chats stay fast", async () => {
    const fault = await adminFetch(controlPlane.url, controlPlane.home, "faults/tiny/candidate", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ serverDelay: { fixedDelayMs: 1500, minPromptTokens: 100, percentage: 100 } }),
    });
    expect(fault.status).toBe(200);
    await uploadTiny(
      controlPlane.home,
      "v2",
      2,
      tinyManifest(
        "v2",
        `  steps:
    - { weight: 50, bakeSeconds: 30 }
  watchSeconds: 2
  alarms:
    latencyP95Ms: { threshold: 800, source: both }
    errorRate: { threshold: 0.5, source: probe }
    vsStable: { source: probe }
    periodSeconds: 10
    datapointsToAlarm: 2
    evaluationPeriods: 2
    treatMissingData: notBreaching`,
      ),
    );
    await until("v2", "Canary Weight Changed", 90_000);
    const traffic = realTraffic();
    let rolledBack: ModelshipEvent;
    try {
      rolledBack = await until("v2", "Model Rolled Back", 120_000);
    } finally {
      const sent = await traffic.stop();
      expect(sent).toBeGreaterThan(0);
    }
    expect(rolledBack.detail.data?.["trigger"]).toBe("alarm");
    expect(rolledBack.detail.reason).toMatch(
      /alarm modelship-tiny-v2-latency-p95-traffic is in ALARM: [\d.]+ against a threshold of 800/,
    );
    expect(rolledBack.detail.reason).not.toMatch(/latency-p95-probe/);

    // Two breaching periods in a row are needed: in between, real traffic's p95 was seen over the threshold
    // and the probes' under it.
    const probe = alarmsSeen.get("modelship-tiny-v2-latency-p95-probe");
    const real = alarmsSeen.get("modelship-tiny-v2-latency-p95-traffic");
    expect(probe?.state).toBe("OK");
    expect(probe?.value).toBeLessThan(800);
    expect(real?.value).toBeGreaterThan(800);

    const record = await status();
    expect(record.route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([
      ["stable", "v1", 100],
    ]);
    expect(record.status).toBe("rolled_back");
    expect(record.prober).toBeNull();
    expect(isRunning(pids.get("v2") as number)).toBe(false);

    // The execution, still in its bake when the alarm acted, ends in RolledBack once the bake is over.
    const execution = controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
    const result = await execution?.result;
    expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");
  }, 240_000);

  it("leaves nothing running once the control plane stops", async () => {
    const { runtime } = controlPlane;
    await controlPlane.close();
    for (const [version, pid] of pids) expect([version, isRunning(pid)]).toEqual([version, false]);
    expect(runtime.metrics.probers()).toEqual([]);
    expect(await runtime.alarms.states([...alarmsSeen.keys()])).toEqual([]);
    expect(logged.filter((line) => !/probe round|The prober of/.test(line))).toEqual([]);
  }, 60_000);
});
