// Real traffic decides, end to end on this machine with real llama.cpp servers: v1 is released; v2's
// canary watches its p95 latency on both sources — the prober's chats and its server's own /metrics, scraped
// each probe round — and a fault makes v2's server hold every long prompt 1.5 s before its turn. Real
// traffic (long prompts) is slow; the prober's short chats are not. The traffic alarm rolls v2 back while
// the probe alarm stays quiet, v1 serves 100% again, and nothing is left running.

import { describe, expect, it } from "vitest";
import type { AlarmState } from "../../lib/core/alarms/alarm-spec";
import type { ModelshipEvent } from "../../lib/core/events/events";
import {
  slowCandidateOnLongPrompts,
  tinyControlPlaneForFile,
  TRAFFIC_LATENCY_ALARMS,
  tinyManifest,
  tinyStatus,
  tinyUserChats,
  untilEvent,
  untilFinalized,
  uploadTiny,
} from "../support/tiny-canary";
import { isRunning } from "../support/process-alive";

const events: ModelshipEvent[] = [];
const logged: string[] = [];
const pids = new Map<string, number>();
/** Each alarm's last state seen while v2's canary ran (the alarms are deleted by the rollback). */
const alarmsSeen = new Map<string, AlarmState>();

const tiny = tinyControlPlaneForFile("modelship-traffic-e2e-", { events, logged, pids });

const status = () => tinyStatus(tiny.controlPlane);

/** Waits for an event of the version, keeping the alarms' states as it goes. */
const until = (version: string, detailType: string, timeoutMs: number) =>
  untilEvent(events, version, detailType, {
    timeoutMs,
    poll: async () => {
      for (const alarm of (await status()).alarms) alarmsSeen.set(alarm.name, alarm);
    },
  });

/** Long-prompt chats to the candidate, a few at a time, until stopped: the traffic users send. */
const realTraffic = () =>
  tinyUserChats(tiny.controlPlane, {
    prompt: "Summarize this: " + "the quick brown fox ".repeat(8),
    headers: { "x-modelship-variant": "candidate" },
    maxTokens: 2,
    concurrency: 4,
    paceMs: 200,
    timeoutMs: 30_000,
  });

describe("Real traffic decides, on the local runtime with llama.cpp", () => {
  it("releases v1", async () => {
    await uploadTiny(tiny.controlPlane.home, "v1", 1, tinyManifest("v1", "  watchSeconds: 2"));
    await until("v1", "Model Promoted", 90_000);
    await untilFinalized(events, "v1", 60_000);
  }, 150_000);

  it("rolls v2 back on its real-traffic latency alarm while the prober's chats stay fast", async () => {
    expect(await slowCandidateOnLongPrompts(tiny.controlPlane)).toBe(200);
    await uploadTiny(
      tiny.controlPlane.home,
      "v2",
      2,
      tinyManifest(
        "v2",
        `  steps:
    - { weight: 50, bakeSeconds: 30 }
  watchSeconds: 2
${TRAFFIC_LATENCY_ALARMS}`,
      ),
    );
    await until("v2", "Canary Weight Changed", 90_000);
    const traffic = realTraffic();
    let rolledBack: ModelshipEvent;
    try {
      rolledBack = await until("v2", "Model Rolled Back", 120_000);
    } finally {
      const answered = (await traffic.stop()).filter((answer) => answer.status !== 0);
      expect(answered.length).toBeGreaterThan(0);
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
    const execution = tiny.controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
    const result = await execution?.result;
    expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");
  }, 240_000);

  it("leaves nothing running once the control plane stops", async () => {
    const { runtime } = tiny.controlPlane;
    await tiny.controlPlane.close();
    for (const [version, pid] of pids) expect([version, isRunning(pid)]).toEqual([version, false]);
    expect(runtime.metrics.probers()).toEqual([]);
    expect(await runtime.alarms.states([...alarmsSeen.keys()])).toEqual([]);
    expect(logged.filter((line) => !/probe round|The prober of/.test(line))).toEqual([]);
  }, 60_000);
});
