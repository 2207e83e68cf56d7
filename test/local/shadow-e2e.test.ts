// Shadow traffic end to end on this machine, with real llama.cpp servers behind the real local gateway: v1 is
// released; v2's shadow copies half of v1's requests to v2 while users' requests keep coming, passes, and its
// report shows the paired answers; v3's server is slowed on long prompts (a fault on the candidate), its shadow
// copies every request to it, and its real-traffic latency alarm rolls it back during the shadow, before any
// canary step — every user request answered 200 by the stable, none by the candidate, nothing left running.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ShadowSamples } from "../../lib/core/traffic/shadow-samples";
import { isRunning } from "../support/process-alive";
import {
  slowCandidateOnLongPrompts,
  tinyControlPlaneForFile,
  TRAFFIC_LATENCY_ALARMS,
  tinyManifest,
  tinyStatus,
  tinyUserChats,
  type UserAnswer,
  untilEvent,
  untilFinalized,
  uploadTiny,
} from "../support/tiny-canary";

const events: ModelshipEvent[] = [];
const logged: string[] = [];
const pids = new Map<string, number>();

const tiny = tinyControlPlaneForFile("modelship-shadow-e2e-", { events, logged, pids });

const status = () => tinyStatus(tiny.controlPlane);
const until = (version: string, detailType: string, timeoutMs: number) =>
  untilEvent(events, version, detailType, { timeoutMs, rollbackFails: true });

/** Long enough for the slowed server's `minPromptTokens`: the prober's short chats are not held. */
const USER_PROMPT = "Summarize this: " + "the quick brown fox ".repeat(8);

/** Long-prompt chats as users send them (no variant header), a few at a time, until stopped. */
const userTraffic = () =>
  tinyUserChats(tiny.controlPlane, {
    prompt: USER_PROMPT,
    maxTokens: 3,
    concurrency: 3,
    paceMs: 150,
    timeoutMs: 60_000,
  });

async function reportFiles(version: string): Promise<{ html: string; shadow: Record<string, unknown> }> {
  const folder = join(tiny.controlPlane.home, "bucket", "reports", "tiny", version);
  const [rolloutId] = await readdir(folder);
  const dir = join(folder, rolloutId as string);
  return {
    html: await readFile(join(dir, "report.html"), "utf8"),
    shadow: JSON.parse(await readFile(join(dir, "shadow.json"), "utf8")) as Record<string, unknown>,
  };
}

describe("Shadow traffic on the local runtime with llama.cpp", () => {
  it("releases v1 without a shadow: a first release has no stable to mirror, and its start says so", async () => {
    await uploadTiny(
      tiny.controlPlane.home,
      "v1",
      1,
      tinyManifest("v1", "  watchSeconds: 2\n  shadow: { percent: 50, seconds: 12 }"),
    );
    const started = await until("v1", "Rollout Started", 60_000);
    expect(started.detail.message).toMatch(
      /The shadow \(rollout\.shadow\) is skipped: v1 is the first release/,
    );
    await until("v1", "Model Promoted", 90_000);
    await untilFinalized(events, "v1", 60_000);
    expect(events.some((e) => e.detail.version === "v1" && e.detailType === "Shadow Started")).toBe(false);
  }, 180_000);

  it("passes v2's shadow while users are answered by v1, and shows the paired answers in its report", async () => {
    await uploadTiny(
      tiny.controlPlane.home,
      "v2",
      2,
      tinyManifest(
        "v2",
        `  steps:
    - { weight: 50, bakeSeconds: 2 }
  bakeSeconds: 2 # the 100% step appended after 50% bakes this long
  watchSeconds: 2
  # Long enough for dozens of paired answers at users' pace.
  shadow: { percent: 50, seconds: 10 }
  # Generous: this shadow is to pass on a busy machine, where the copies make v2's chats slower than v1's.
  alarms:
    latencyP95Ms: 20000
    errorRate: 0.5
    vsStable: { latencyP95Ratio: 100, errorRateDelta: 0.5 }
    periodSeconds: 10
    datapointsToAlarm: 1
    evaluationPeriods: 2
    treatMissingData: notBreaching`,
      ),
    );
    const shadowStarted = await until("v2", "Shadow Started", 90_000);
    const traffic = userTraffic();
    let answers: UserAnswer[];
    try {
      const shadowing = await status();
      expect(shadowing.route?.mirror).toEqual({ version: "v2", percent: 50 });
      await until("v2", "Shadow Ended", 90_000);
    } finally {
      answers = await traffic.stop();
    }
    expect(shadowStarted.detail.data).toMatchObject({ percent: 50, seconds: 10, stableVersion: "v1" });
    expect(answers.length).toBeGreaterThan(0);
    // Until the first canary step, only v1 answered users.
    const stepAt = events.find((e) => e.detail.version === "v2" && e.detailType === "Canary Weight Changed");
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    if (!stepAt) expect(new Set(answers.map((a) => a.version))).toEqual(new Set(["v1"]));

    await until("v2", "Model Promoted", 120_000);
    await untilFinalized(events, "v2", 60_000);
    const { html, shadow } = await reportFiles("v2");
    expect(shadow["verdict"]).toMatchObject({ rollback: false });
    const samples = shadow["samples"] as ShadowSamples;
    if ("unavailable" in samples) throw new Error(`v2's shadow kept no samples: ${samples.unavailable}`);
    expect(samples).toMatchObject({ version: "v2", percent: 50, dropped: expect.any(Number) });
    expect(samples.mirrored).toBeGreaterThan(0);
    expect(samples.pairs.length).toBeGreaterThan(0);
    // A pair is one user's request with v1's answer (the one the user got) and v2's answer to its copy.
    const answered = { status: 200, completionTokens: expect.any(Number), latencyMs: expect.any(Number) };
    for (const pair of samples.pairs) {
      expect(pair.request).toBe(USER_PROMPT);
      expect(pair.stable).toMatchObject(answered);
      expect(pair.candidate).toMatchObject(answered);
      expect(pair.stable.completionTokens).toBeLessThanOrEqual(3);
      expect(pair.stable.outputChars).toBeGreaterThanOrEqual(0);
      expect(pair.candidate.outputChars).toBeGreaterThanOrEqual(0);
    }
    expect(html).toContain('id="shadow"');
    expect(html).toContain("The same requests answered by both versions");
    expect(html).toContain("v1 (the user's answer)");
    expect(html).toContain("v2 (the copy's answer)");
    // Each answer's length and latency beside it: two per pair.
    const lengths = html.match(/\d+ tokens?, [\d,]+ characters?, [\d.,]+ ms/g) ?? [];
    expect(lengths.length).toBeGreaterThanOrEqual(2 * samples.pairs.length);
  }, 300_000);

  it("rolls v3 back during its shadow on its slowed server's real-traffic latency, before any step, with v2 answering every user", async () => {
    expect(await slowCandidateOnLongPrompts(tiny.controlPlane)).toBe(200);
    await uploadTiny(
      tiny.controlPlane.home,
      "v3",
      3,
      tinyManifest(
        "v3",
        `  steps:
    - { weight: 50, bakeSeconds: 2 }
  watchSeconds: 2
  # The alarm needs two breaching 10 s periods (about 20 s on a quiet machine) and must fire within the shadow;
  # the execution ends only once the shadow's Wait is over, so a longer shadow is time the test sits idle.
  shadow: { percent: 100, seconds: 60 }
${TRAFFIC_LATENCY_ALARMS}`,
      ),
    );
    await until("v3", "Shadow Started", 90_000);
    const traffic = userTraffic();
    let rolledBack: ModelshipEvent;
    let answers: UserAnswer[];
    try {
      rolledBack = await until("v3", "Model Rolled Back", 150_000);
    } finally {
      answers = await traffic.stop();
    }

    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status !== 200 || a.variant !== "stable" || a.version !== "v2")).toEqual(
      [],
    );
    expect(rolledBack.detail.data?.["trigger"]).toBe("alarm");
    expect(rolledBack.detail.reason).toMatch(/modelship-tiny-v3-latency-p95-traffic is in ALARM/);
    expect(rolledBack.detail.message).toContain(
      "No user saw v3: during its shadow it answered only copies of 100% of v2's requests",
    );
    expect(events.some((e) => e.detail.version === "v3" && e.detailType === "Canary Weight Changed")).toBe(
      false,
    );

    const after = await status();
    expect(after.route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([
      ["stable", "v2", 100],
    ]);
    expect(after.route?.mirror).toBeUndefined();
    expect(after.prober).toBeNull();
    expect(isRunning(pids.get("v3") as number)).toBe(false);

    const execution = tiny.controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
    const result = await execution?.result;
    expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");
    const { shadow } = await reportFiles("v3");
    expect(shadow["verdict"]).toMatchObject({ rollback: true });
    // The users' requests reached v3 only as copies.
    expect(shadow["samples"]).toMatchObject({ version: "v3", percent: 100 });
    expect((shadow["samples"] as { mirrored: number }).mirrored).toBeGreaterThan(0);
  }, 300_000);

  it("leaves nothing running once the control plane stops", async () => {
    const { runtime } = tiny.controlPlane;
    await tiny.controlPlane.close();
    for (const [version, pid] of pids) expect([version, isRunning(pid)]).toEqual([version, false]);
    expect(runtime.metrics.probers()).toEqual([]);
    expect(logged.filter((line) => !/probe round|The prober of/.test(line))).toEqual([]);
  }, 60_000);
});
