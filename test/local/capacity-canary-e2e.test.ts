// `rollout.capacity: constrained` end to end on the local runtime, with real llama.cpp servers: `tiny` v1 runs
// 3 replicas; v2's canary (3 replicas, steps 50 → 100) never runs more than the fleet + 1 = 4 servers at once,
// counted from the process table every 100 ms through the whole canary; v3's canary is rolled back in the
// middle of its 50% bake, when the stable (v2) runs 2 of its 3 replicas: the stable grows back one replica at
// a time, each taking back its share once ready while v3 shrinks, so the rollback too never runs more than
// fleet + 1 servers, and the stable is back at 3 ready replicas before the gateway sends it all traffic again
// (the order read from samples of the gateway's route, the replica counts and the processes).
//
// It runs once CanaryStep and Rollback carry the capacity plan out (the stages' branch, issue 13 §2): until
// then the manifest refuses `constrained` and this file is skipped, saying why.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { loadManifest } from "../../lib/core/resolution/manifest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { ControlPlane } from "../../lib/local/control-plane";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";
import { adminFetch } from "../support/admin-fetch";
import { isRunning } from "../support/process-alive";
import { runningServers, type ServerProcess } from "../support/server-processes";
import { eventsOf, tinyControlPlane, tinyManifest, uploadTiny } from "../support/tiny-canary";

const FLEET = 3;
const constrainedRefused = loadManifest(
  "rollout: {capacity: constrained}",
  { name: "tiny", version: "v2", fileName: "modelship.yaml" },
  { ...DEFAULT_STACK_CONFIG, local: { ...DEFAULT_STACK_CONFIG.local, timeFactor: 1 } },
).findings.some((finding) => finding.code === "manifest.capacity-constrained-unbuilt");

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
const seen = new Set<number>();

/** One moment of the rollout: the servers running, the route's weights, each version's replicas. */
interface Sample {
  readonly servers: readonly ServerProcess[];
  readonly route: readonly string[];
  readonly replicas: LocalModelStatus["replicas"];
}

async function status(): Promise<LocalModelStatus> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "status?model=tiny");
  const { models } = (await response.json()) as { models: LocalModelStatus[] };
  return models[0] as LocalModelStatus;
}

/** Samples every 100 ms until stopped. */
function sampleRollout(): { readonly samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const current = await status();
      const servers = runningServers();
      for (const server of servers) seen.add(server.pid);
      samples.push({
        servers,
        route: current.route?.backends.map((b) => `${b.variant} ${b.version} ${b.weight}`) ?? [],
        replicas: current.replicas,
      });
      // A steady sampling pace, not a wait for a result.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    samples,
    stop: async () => {
      sampling = false;
      await loop;
    },
  };
}

function manifest(version: string, rollout: string): string {
  return tinyManifest(version, rollout).replace(
    "  maxModelLen: 256\n",
    `  maxModelLen: 256\n  replicas: ${FLEET}\n`,
  );
}

describe.skipIf(constrainedRefused)("A constrained canary on the local runtime, with llama.cpp", () => {
  beforeAll(async () => {
    ({ work, controlPlane } = await tinyControlPlane("modelship-capacity-e2e-", { events, logged }));
  }, 60_000);

  afterAll(async () => {
    await controlPlane?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("releases v1 with its 3 replicas", async () => {
    await uploadTiny(controlPlane.home, "v1", 1, manifest("v1", "  watchSeconds: 2"));
    await eventsOf(events).until("v1", "Stage Succeeded", "Finalize");
    await vi.waitFor(
      async () => expect((await status()).replicas).toMatchObject([{ version: "v1", ready: FLEET }]),
      { timeout: 120_000, interval: 250 },
    );
  }, 240_000);

  it("never runs more than the fleet + 1 servers through v2's constrained canary", async () => {
    const sampler = sampleRollout();
    try {
      await uploadTiny(
        controlPlane.home,
        "v2",
        2,
        manifest("v2", "  capacity: constrained\n  steps: [50, 100]\n  bakeSeconds: 3\n  watchSeconds: 2"),
      );
      await eventsOf(events).until("v2", "Stage Succeeded", "Finalize");
    } finally {
      await sampler.stop();
    }
    const counts = sampler.samples.map((s) => s.servers.length);
    expect(Math.max(...counts)).toBe(FLEET + 1);
    expect(sampler.samples.some((s) => s.route.includes("candidate v2 50"))).toBe(true);
    await vi.waitFor(
      async () => expect((await status()).replicas).toMatchObject([{ version: "v2", ready: FLEET }]),
      { timeout: 120_000, interval: 250 },
    );
  }, 400_000);

  it("restores the stable's replicas before a rollback in the middle of v3's canary sends it traffic again", async () => {
    const sampler = sampleRollout();
    let v2Rollout: string | undefined;
    try {
      await uploadTiny(
        controlPlane.home,
        "v3",
        3,
        manifest("v3", "  capacity: constrained\n  steps: [{weight: 50, bakeSeconds: 600}, 100]"),
      );
      v2Rollout = (await controlPlane.runtime.deps.store.get("tiny"))?.stable?.rolloutId;
      // Mid-canary: v3 at 50% and the stable down to 2 of its 3 replicas.
      await vi.waitFor(
        () => {
          const last = sampler.samples.at(-1);
          const stable = last?.replicas.find((r) => r.version === "v2");
          if (!last?.route.includes("candidate v3 50") || stable?.desired !== FLEET - 1) {
            throw new Error(`not mid-canary yet: ${JSON.stringify(last)}`);
          }
        },
        { timeout: 240_000, interval: 200 },
      );
      const rollback = await adminFetch(controlPlane.url, controlPlane.home, "commands", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ command: "Rollback Requested", model: "tiny", reason: "capacity e2e" }),
      });
      expect(rollback.status).toBe(200);
      await eventsOf(events).until("v3", "Model Rolled Back");
    } finally {
      await sampler.stop();
    }
    const { samples } = sampler;
    const mid = samples.findIndex((s) => s.route.includes("candidate v3 50"));
    const back = samples.findIndex((s, i) => i > mid && s.route.join() === "stable v2 100");
    expect(mid).toBeGreaterThanOrEqual(0);
    expect(back).toBeGreaterThan(mid);
    // The first moment traffic is all the stable's again, its replicas are all ready, and 3 of its processes run.
    const returned = samples[back] as Sample;
    expect(returned.replicas.find((r) => r.version === "v2")).toMatchObject({ desired: FLEET, ready: FLEET });
    expect(returned.servers.filter((s) => s.rolloutId === v2Rollout)).toHaveLength(FLEET);
    // Bounded by fleet + 1 through the rollback too: the stable grows back one replica at a time while the
    // candidate gives up the replica whose share moved back (core/capacity/stepwise-moves.ts, restoreMoves).
    const during = samples.slice(mid);
    expect(Math.max(...during.map((s) => s.servers.length))).toBeLessThanOrEqual(FLEET + 1);
    // Each stable replica took back its share only once ready: at every moment of the split the stable had the
    // ready replicas to carry its share (rounded up, the stable's side). Status reads the route before the
    // replicas, so a sample never shows a weight newer than its ready count.
    for (const sample of during) {
      const split = sample.route.find((r) => r.startsWith("candidate v3 "));
      if (!split) continue;
      const ready = sample.replicas.find((r) => r.version === "v2")?.ready ?? 0;
      expect(100 - Number(split.split(" ")[2]), `${sample.route.join()}; v2 ${ready} ready`).toBeLessThan(
        (ready * 100) / FLEET + 1,
      );
    }
  }, 400_000);

  it("leaves nothing running once the control plane stops", async () => {
    await controlPlane.close();
    for (const pid of seen) expect([pid, isRunning(pid)]).toEqual([pid, false]);
  }, 60_000);
});
