// LocalServing when processes misbehave, with real processes: stand-in servers (small Node scripts run through
// local.command) that answer /health, crash, or take another process down with them. Every process started is
// dead at the end.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { LocalServing, type LocalServingOptions } from "../../lib/local/local-serving";
import type { CandidateHandle, CandidateSpec } from "../../lib/ports";
import { localVersionSpec } from "../support/local-version";
import { isRunning } from "../support/process-alive";

let work: string;
const startedPids = new Set<number>();
const servings: LocalServing[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-serving-faults-"));
});

afterEach(async () => {
  await Promise.all(servings.splice(0).map((serving) => serving.stopAll()));
  for (const pid of startedPids) expect(isRunning(pid), `pid ${pid} still runs`).toBe(false);
  startedPids.clear();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A LocalServing whose servers are `script` run by this Node. */
async function servingOf(
  script: string,
  options: Partial<LocalServingOptions> = {},
  local: Partial<StackConfig["local"]> = {},
): Promise<LocalServing> {
  const path = join(work, `server-${servings.length}-${Date.now()}.mjs`);
  await writeFile(path, script);
  const config: StackConfig = {
    ...DEFAULT_STACK_CONFIG,
    local: {
      ...DEFAULT_STACK_CONFIG.local,
      threads: 1,
      command: `"${process.execPath}" "${path}" --port {port}`,
      ...local,
    },
  };
  const serving = new LocalServing({
    home: join(work, ".modelship"),
    config,
    autoscaleEveryMs: 60_000,
    ...options,
  });
  servings.push(serving);
  return serving;
}

/** A version folder in the local bucket and the spec that deploys it. */
function spec(version: string): Promise<CandidateSpec> {
  return localVersionSpec(work, { model: "stand-in", version, weights: new Uint8Array(8) });
}

/** A stand-in server that answers every request 200 until it is stopped. */
const HEALTHY = `
import { createServer } from "node:http";
const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
createServer((request, response) => response.end("ok")).listen(port, "127.0.0.1");
`;

describe("Removing a rollout's servers by pid", () => {
  it("treats a server that is already gone as stopped, and stops the others", async () => {
    // A server whose stop takes its helper process down too: the helper, listed among the rollout's
    // processes, is gone by the time it would be signalled.
    const script = join(work, "pair.mjs");
    await writeFile(
      script,
      `import { spawn } from "node:child_process";
if (process.argv[2] === "helper") {
  setInterval(() => {}, 1000);
} else {
  const helper = spawn(process.execPath, [process.argv[1], "helper"], { stdio: ["ignore", "inherit", "inherit"] });
  helper.once("spawn", () => console.log(helper.pid));
  process.once("SIGTERM", () => {
    helper.once("exit", () => process.exit(0));
    helper.kill("SIGKILL");
  });
  setInterval(() => {}, 1000);
}
`,
    );
    const rolloutId = "stand-in-pair-0badc0de";
    const server = spawn(process.execPath, [script], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, MODELSHIP_ROLLOUT_ID: rolloutId },
    });
    const helperPid = await new Promise<number>((resolve) =>
      server.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    startedPids.add(server.pid as number);
    startedPids.add(helperPid);

    const serving = await servingOf(HEALTHY);
    const said = await serving.removeRollout("stand-in", rolloutId);

    expect(isRunning(server.pid as number)).toBe(false);
    expect(isRunning(helperPid)).toBe(false);
    expect(said).toEqual(
      expect.arrayContaining([
        `Stopped a server of rollout ${rolloutId} left running (pid ${server.pid}).`,
        expect.stringContaining(`(pid ${helperPid}`),
      ]),
    );
  }, 60_000);
});

/** The processes that carry the rollout's marker and still run, from the process table. */
function markedPids(rolloutId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environment = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environment.includes(`MODELSHIP_ROLLOUT_ID=${rolloutId}`) && isRunning(Number(entry))) {
        pids.push(Number(entry));
      }
    } catch {
      // The process ended while it was read, or is not ours to read.
    }
  }
  return pids;
}

describe("Stopping every server", () => {
  // Servers that take a moment to stop, as a real one does: one started late would outlive stopAll.
  const SLOW_TO_STOP = `${HEALTHY}\nprocess.once("SIGTERM", () => setTimeout(() => process.exit(0), 300));\n`;

  it.each([1, 2, 3])(
    "waits for a scale-up in flight: nothing of it runs or starts once stopAll has resolved (round %i)",
    async (round) => {
      const serving = await servingOf(SLOW_TO_STOP);
      const version = await spec(`v-stop-${round}`);
      const handle = await serving.deploy(version);
      startedPids.add(handle.details?.["pid"] as number);

      let settled = false;
      const scaling = serving
        .scale(handle, 8)
        .catch((error: unknown) => error)
        .finally(() => (settled = true));
      // The scale-up is under way: its second process has started, six more are to come.
      await vi.waitFor(
        () => {
          if ((serving.replicaStatus(handle)?.pids.length ?? 0) < 2) throw new Error("not started yet");
        },
        { timeout: 30_000, interval: 1 },
      );
      await serving.stopAll();
      await new Promise(setImmediate);

      expect(settled).toBe(true);
      expect(markedPids(version.rolloutId)).toEqual([]);
      await scaling;
      expect(markedPids(version.rolloutId)).toEqual([]);
    },
    60_000,
  );
});

describe("The local cap of 16 server processes per version", () => {
  it("refuses an autoscaler whose range goes above it, starting nothing", async () => {
    const serving = await servingOf(HEALTHY);
    const version = await spec("v-cap-autoscale");
    const handle = await serving.deploy(version);
    startedPids.add(handle.details?.["pid"] as number);
    const settings = {
      kind: "autoscaling",
      minReplicas: 17,
      maxReplicas: 17,
      metric: "inFlight",
      target: 1,
      cooldownSeconds: 60,
    } as const;

    const refused = serving.autoscale(handle, settings, { minReplicas: 17, maxReplicas: 17 });
    await expect(refused).rejects.toMatchObject({
      name: "CandidateFailed",
      reason: expect.stringContaining("at most 16 server processes per version"),
      hint: expect.stringContaining("serving.autoscaling.maxReplicas"),
    });
    await expect(serving.scale(handle, 17)).rejects.toMatchObject({ name: "CandidateFailed" });
    expect(markedPids(version.rolloutId)).toEqual([handle.details?.["pid"]]);
  }, 60_000);

  it("refuses a hand-edited serving.json above it on restart, naming the file and the field", async () => {
    const home = join(work, "home-cap");
    const before = await servingOf(HEALTHY, { home });
    const version = await spec("v-cap-restart");
    const handle = await before.deploy(version);
    startedPids.add(handle.details?.["pid"] as number);
    await before.scale(handle, 2);
    await before.stopAll();
    const keptPath = join(home, "serving.json");
    const kept = JSON.parse(await readFile(keptPath, "utf8")) as {
      versions: Record<string, { desired: number }>;
    };
    expect(kept.versions[version.rolloutId]?.desired).toBe(2);
    (kept.versions[version.rolloutId] as { desired: number }).desired = 40;
    await writeFile(keptPath, JSON.stringify(kept));

    const after = await servingOf(HEALTHY, { home });
    const refused = await after.restart(handle).catch((error: unknown) => error);
    expect(refused).toMatchObject({ name: "StateFileInvalid", file: keptPath });
    expect((refused as Error).message).toContain(
      `versions.${version.rolloutId}.desired is 40, above the 16 server processes the local runtime runs per version`,
    );
    expect(markedPids(version.rolloutId)).toEqual([]);
  }, 60_000);
});

describe("A crashed replica", () => {
  it("is replaced after its back-off, while the version keeps serving on the replicas left", async () => {
    const serving = await servingOf(HEALTHY);
    const version = await spec("v-crash");
    const handle = await serving.deploy(version);
    startedPids.add(handle.details?.["pid"] as number);
    await serving.scale(handle, 2);
    const before = await untilReplicas(serving, handle, 2);
    const [kept, killed] = before as [number, number];

    process.kill(killed, "SIGKILL");
    await vi.waitFor(
      () => {
        if (serving.replicaStatus(handle)?.restarts?.crashes !== 1) throw new Error("not seen yet");
      },
      { timeout: 30_000, interval: 20 },
    );
    // One of two is down: the version still serves, and status says a replacement is coming.
    expect(await serving.status(handle)).toMatchObject({ phase: "ready" });
    expect(await serving.replicas(handle)).toEqual({ desired: 2, ready: 1 });
    expect(serving.replicaStatus(handle)).toMatchObject({
      pids: [kept],
      restarts: {
        crashes: 1,
        lastExit: "killed by SIGKILL",
        backoffSeconds: 10,
        replacementAt: expect.any(String),
      },
    });

    const after = await untilReplicas(serving, handle, 2);
    expect(after[0]).toBe(kept);
    expect(after[1]).not.toBe(killed);
    expect(serving.replicaStatus(handle)?.restarts).toEqual({
      crashes: 1,
      lastExit: "killed by SIGKILL",
      backoffSeconds: 10,
    });
    expect(await serving.status(handle)).toMatchObject({ phase: "ready" });
  }, 90_000);

  it("that crashes again and again waits longer each time, and the version is failed while none serves", async () => {
    const serving = await servingOf('console.error("boom: cannot serve");\nprocess.exit(3);\n', {
      restartBackoffMs: 100,
    });
    const version = await spec("v-crash-loop");
    const handle = await serving.deploy(version);
    startedPids.add(handle.details?.["pid"] as number);

    const restarts = await vi.waitFor(
      () => {
        const seen = serving.replicaStatus(handle)?.restarts;
        if (!seen || seen.crashes < 4) throw new Error(`only ${JSON.stringify(seen)}`);
        return seen;
      },
      { timeout: 60_000, interval: 20 },
    );
    // 0.1 s after the first crash, doubling: 0.8 s after the fourth.
    expect(restarts.backoffSeconds).toBeCloseTo(0.1 * 2 ** (restarts.crashes - 1), 6);
    expect(restarts.lastExit).toBe("exit code 3");
    const status = await serving.status(handle);
    expect(status).toMatchObject({ phase: "failed", reason: "ServerExited" });
    expect(status.message).toMatch(/A replacement (starts in \d+ s|is starting)/);
    expect(status.logTail?.join("\n")).toContain("boom: cannot serve");

    await serving.remove(handle);
    expect(markedPids(version.rolloutId)).toEqual([]);
  }, 90_000);
});

/** Waits until the version runs `count` ready replicas; their pids. */
async function untilReplicas(
  serving: LocalServing,
  handle: CandidateHandle,
  count: number,
): Promise<number[]> {
  return vi.waitFor(
    async () => {
      const replicas = await serving.replicas(handle);
      const pids = serving.replicaStatus(handle)?.pids ?? [];
      if (replicas.ready !== count || pids.length !== count) {
        throw new Error(`${JSON.stringify(replicas)}, pids ${pids.join(", ")}`);
      }
      for (const pid of pids) startedPids.add(pid);
      return [...pids];
    },
    { timeout: 60_000, interval: 50 },
  );
}
