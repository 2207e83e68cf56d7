// The local autoscaler end to end, with real llama.cpp servers: `tiny` v1 is released with
// serving.autoscaling {1–2 replicas on queueDepth, target 1, cooldown 5 s}; load from `modelship bench` (the
// CLI, as a user runs it) through the gateway queues requests behind the one server, so a second server
// process starts; once the load ends and the cooldown passes, it stops again. The server processes are
// counted from the process table (children of this process running the llama.cpp server), not from the
// gateway's view, and `modelship status --local` says why each scale happened.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ControlPlane } from "../../lib/local/control-plane";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";
import { adminFetch } from "../support/admin-fetch";
import { startCli } from "../support/cli-process";
import { isRunning } from "../support/process-alive";
import { runningServerPids } from "../support/server-processes";
import { eventsOf, tinyControlPlane, tinyManifest, uploadTiny } from "../support/tiny-canary";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];
const logged: string[] = [];
const serverPids = new Set<number>();

/** The llama.cpp servers this process runs now, remembered to check at the end that they all stopped. */
function runningServers(): number[] {
  const pids = runningServerPids();
  for (const pid of pids) serverPids.add(pid);
  return pids;
}

async function status(): Promise<LocalModelStatus> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "status?model=tiny");
  const { models } = (await response.json()) as { models: LocalModelStatus[] };
  return models[0] as LocalModelStatus;
}

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-autoscale-e2e-", { events, logged }));
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

describe("The local autoscaler, on queue depth, with llama.cpp and modelship bench", () => {
  it("releases v1 with its autoscaler given the manifest's range", async () => {
    const manifest = tinyManifest("v1", "  watchSeconds: 2").replace(
      "  maxModelLen: 256\n",
      "  maxModelLen: 256\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: queueDepth, target: 1, cooldownSeconds: 5}\n",
    );
    await uploadTiny(controlPlane.home, "v1", 1, manifest);
    const deployed = await eventsOf(events).until("v1", "Stage Succeeded", "DeployCandidate");
    expect(deployed.detail.data?.["autoscaler"]).toMatchObject({ kind: "local" });
    await eventsOf(events).until("v1", "Model Promoted");
    await vi.waitFor(
      async () => {
        const [replicas] = (await status()).replicas;
        expect(replicas?.autoscaler?.range).toEqual({ minReplicas: 1, maxReplicas: 2 });
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(runningServers()).toHaveLength(1);
  }, 150_000);

  it("scales 1 → 2 under modelship bench's load and back to 1 after it ends", async () => {
    const counts: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        counts.push(runningServers().length);
        // Sampling the process table at a steady pace, not waiting for a result.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      // Four requests always in flight against one server that serves one at a time: three wait.
      const bench = startCli([
        "bench",
        controlPlane.url,
        "--model",
        "tiny",
        "--concurrency",
        "4",
        "--duration",
        "40s",
        "--input-tokens",
        "24",
        "--output-tokens",
        "16",
        "--ignore-eos",
      ]);
      await vi.waitFor(
        async () => {
          const [replicas] = (await status()).replicas;
          if (replicas?.ready !== 2) throw new Error(`replicas: ${JSON.stringify(replicas)}`);
        },
        { timeout: 90_000, interval: 250 },
      );
      const up = (await status()).replicas[0]?.lastScale;
      expect(up).toMatchObject({
        from: 1,
        to: 2,
        by: "autoscaler",
        metric: { name: "queueDepth", target: 1 },
      });
      expect(up?.metric?.value).toBeGreaterThan(1);
      expect(up?.description).toMatch(/^1 → 2 at .*: queueDepth [\d.]+ per replica against a target of 1$/);
      // Read now: the sampler's last count may be from before the second server started.
      expect(runningServers()).toHaveLength(2);

      const finished = await bench.exited;
      expect(finished.code, bench.lines.join("\n")).toBe(0);
      await vi.waitFor(
        async () => {
          const [replicas] = (await status()).replicas;
          if (replicas?.desired !== 1 || runningServers().length !== 1) {
            throw new Error(`replicas: ${JSON.stringify(replicas)}`);
          }
        },
        { timeout: 90_000, interval: 250 },
      );
    } finally {
      sampling = false;
      await sampler;
    }
    const down = (await status()).replicas[0]?.lastScale;
    expect(down).toMatchObject({
      from: 2,
      to: 1,
      by: "autoscaler",
      metric: { name: "queueDepth", value: 0 },
    });
    expect(down?.description).toContain("no higher recommendation in the last 5 s (the cooldown)");
    expect(Math.max(...counts)).toBe(2);
    // Read now, not the sampler's last count: that one may be from just before the second server stopped.
    expect(runningServers()).toHaveLength(1);
  }, 240_000);

  it("shows the replicas and the last scale in modelship status --local", async () => {
    const cli = startCli(["status", "--local", "--home", controlPlane.home, "tiny"]);
    expect((await cli.exited).code, cli.lines.join("\n")).toBe(0);
    const text = cli.lines.join("\n");
    expect(text).toMatch(/replicas {2}v1 1\/1 ready, autoscaled 1–2 on queueDepth \(target 1, cooldown 5s\)/);
    expect(text).toMatch(/last scale 2 → 1 at .*: queueDepth 0 per replica against a target of 1/);
  }, 60_000);

  it("leaves nothing running once the control plane stops", async () => {
    await controlPlane.close();
    expect(serverPids.size).toBeGreaterThanOrEqual(2);
    for (const pid of serverPids) expect([pid, isRunning(pid)]).toEqual([pid, false]);
    expect(logged.filter((line) => !/probe round|The prober of/.test(line))).toEqual([]);
  }, 60_000);
});
