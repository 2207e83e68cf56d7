// local.maxServers with real llama.cpp server processes: the cap holds wherever a server starts. A replica
// beyond it stays pending — not started, not ready, with the reason in status — and starts once another server
// stops, as a pod Pending on a full cluster is scheduled when a node frees; a new version's first server is
// refused (InsufficientCapacity); checkCapacity counts running and pending servers against the cap. The
// process table, not LocalServing's own view, says how many servers ran. Every process started is dead at
// the end.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { LocalServing } from "../../lib/local/local-serving";
import type { CandidateHandle, CandidateSpec } from "../../lib/ports";
import { isRunning } from "../support/process-alive";
import { runningServers } from "../support/server-processes";
import { localVersionSpec } from "../support/local-version";

const CONFIG: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  local: { ...DEFAULT_STACK_CONFIG.local, threads: 1, maxServers: 2 },
};

let work: string;
let serving: LocalServing;
const seenPids = new Set<number>();
let peak = 0;
let sampling: NodeJS.Timeout | undefined;

function spec(model: string, seed: number): Promise<CandidateSpec> {
  return localVersionSpec(work, { model, version: "v1", weights: buildTinyLlamaGguf({ seed }) });
}

/** Waits until the handle has `ready` ready replicas of `desired`. */
async function untilReady(of: CandidateHandle, ready: number, desired = ready): Promise<void> {
  await vi.waitFor(
    async () => {
      const count = await serving.replicas(of);
      if (count.ready !== ready || count.desired !== desired) throw new Error(JSON.stringify(count));
    },
    { timeout: 90_000, interval: 100 },
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-server-cap-"));
  serving = new LocalServing({ home: join(work, ".modelship"), config: CONFIG, autoscaleEveryMs: 60_000 });
  // The servers counted from the process table through the whole test.
  sampling = setInterval(() => {
    const servers = runningServers();
    for (const server of servers) seenPids.add(server.pid);
    peak = Math.max(peak, servers.length);
  }, 50);
});

afterAll(async () => {
  clearInterval(sampling);
  await serving?.stopAll();
  for (const pid of seenPids) expect(isRunning(pid), `pid ${pid} still runs`).toBe(false);
  await rm(work, { recursive: true, force: true });
});

describe("local.maxServers", () => {
  let alpha: CandidateHandle;
  let beta: CandidateHandle;

  it("leaves a replica beyond the cap pending, with the reason, and refuses a new version's first server", async () => {
    alpha = await serving.deploy(await spec("alpha", 1));
    beta = await serving.deploy(await spec("beta", 2));
    await untilReady(alpha, 1);
    await untilReady(beta, 1);

    await serving.scale(alpha, 2);

    expect(await serving.replicas(alpha)).toEqual({ desired: 2, ready: 1 });
    expect(serving.replicaStatus(alpha)).toMatchObject({
      desired: 2,
      ready: 1,
      pending: { count: 1, reason: "local.maxServers (2) is reached: 2 server processes run." },
    });
    expect(runningServers()).toHaveLength(2);
    expect(await serving.checkCapacity({ gpus: 0, replicas: 1 })).toMatchObject({
      enough: false,
      reason:
        "The rollout needs 1 more server process; 0 of local.maxServers 2 are free (2 run and 1 waits for a slot).",
    });
    await expect(serving.deploy(await spec("gamma", 3))).rejects.toMatchObject({
      name: "InsufficientCapacity",
      reason: expect.stringContaining("local.maxServers (2) is reached"),
    });
    expect(runningServers().filter((s) => s.rolloutId === "gamma-v1-0badc0de")).toEqual([]);
  }, 120_000);

  it("starts the pending replica once another server stops, never more than the cap at once", async () => {
    await serving.remove(beta);

    await untilReady(alpha, 2);
    expect(serving.replicaStatus(alpha)?.pending).toBeUndefined();
    expect(await serving.checkCapacity({ gpus: 0, replicas: 1 })).toMatchObject({ enough: false });
    await serving.scale(alpha, 1);
    expect(await serving.checkCapacity({ gpus: 0, replicas: 1 })).toMatchObject({
      enough: true,
      reason: "The rollout needs 1 more server process; 1 of local.maxServers 2 is free (1 runs).",
    });
    expect(peak).toBe(2);
  }, 120_000);
});
